"""Spark's raw rows as the local readers' raw frames, one reader per format.

A read task gets Arrow batches as Spark read them. Before validation each batch is
turned into exactly what the local reader of its format makes, so
:func:`detector.ingest.screen` takes the same decisions: Parquet columns cast back to
the file's own Arrow types, CSV cells as strings with ragged records and replaced
bytes given their quarantine reason, JSON Lines parsed by the project's parser.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import schema as S
from detector.engines.spark.readplan import CORRUPT_COLUMN, ReadGroup
from detector.ingest import RawChunk, arrow_types, drop_bom, parse_json_lines, strip_lines

__all__ = ["csv_raw", "jsonl_raw", "parquet_raw"]


def parquet_raw(part: pa.RecordBatch, group: ReadGroup) -> pd.DataFrame:
    """The raw frame the local Parquet reader would make: the file's own Arrow types."""
    types = dict(group.arrow_types)
    arrays, names = [], []
    for name in group.columns:
        col = part.column(part.schema.get_field_index(name))
        want = types.get(name)
        if want is not None and str(col.type) != want:
            # a type the cast cannot restore stays as Spark gave it: validation coerces it
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                col = col.cast(_arrow_type_from_text(want, col.type))
        arrays.append(col)
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names).to_pandas(types_mapper=arrow_types)


@functools.cache
def _parse_arrow_type(text: str) -> pa.DataType | None:
    """Arrow's type from its text form, for the types Parquet logs carry."""
    simple = {
        "string": pa.string(),
        "large_string": pa.large_string(),
        "int8": pa.int8(),
        "int16": pa.int16(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "uint8": pa.uint8(),
        "uint16": pa.uint16(),
        "uint32": pa.uint32(),
        "uint64": pa.uint64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "bool": pa.bool_(),
        "date32[day]": pa.date32(),
    }
    if text in simple:
        return simple[text]
    if text.startswith("timestamp[") and text.endswith("]"):
        inner = text[len("timestamp[") : -1]
        unit, _, tz = inner.partition(",")
        tz = tz.strip()
        return pa.timestamp(unit.strip(), tz=tz[len("tz=") :] if tz.startswith("tz=") else None)
    if text.startswith("dictionary<values=string"):
        return pa.dictionary(pa.int32(), pa.string())
    return None


def _arrow_type_from_text(text: str, fallback: pa.DataType) -> pa.DataType:
    """The type ``text`` names, or ``fallback`` (the type Spark gave) when unknown."""
    parsed = _parse_arrow_type(text)
    return parsed if parsed is not None else fallback


def csv_raw(part: pa.RecordBatch, group: ReadGroup) -> RawChunk:
    """The raw chunk the local CSV reader would make: strings, empty fields as '', a
    ragged record with its reason. Spark's CSV source decodes invalid UTF-8 to U+FFFD
    without a word, so a cell holding U+FFFD is taken as invalid UTF-8 (stricter than
    the local reader for text that holds a genuine U+FFFD)."""
    arrays = [pc.fill_null(part.column(part.schema.get_field_index(c)), "") for c in group.columns]
    frame = pa.Table.from_arrays(arrays, names=list(group.columns)).to_pandas(
        types_mapper=arrow_types
    )
    ragged = pc.is_valid(part.column(part.schema.get_field_index(CORRUPT_COLUMN)))
    replaced = np.zeros(part.num_rows, dtype=bool)
    for array in arrays:
        replaced |= pc.fill_null(pc.match_substring(array, "\ufffd"), False).to_numpy(
            zero_copy_only=False
        )
    reason = np.where(
        ragged.to_numpy(zero_copy_only=False),
        S.REASON_FIELD_COUNT,
        np.where(replaced, S.REASON_INVALID_UTF8, ""),
    ).astype(object)
    return RawChunk(frame, reason, frozenset(group.header))


def jsonl_raw(part: pa.RecordBatch, first_line: bool) -> tuple[RawChunk, np.ndarray]:
    """Parse JSON lines with the project's parser; returns the chunk and the kept-line mask
    (blank lines are not rows, as in the local reader)."""
    values = part.column(part.schema.get_field_index("value")).to_pylist()
    lines = [b if b is not None else b"" for b in values]
    if first_line:
        drop_bom(lines)
    stripped = strip_lines(lines)
    keep = np.fromiter(map(bool, stripped), dtype=bool, count=len(stripped))
    rows = [line for line in stripped if line]
    if not rows:
        return RawChunk(pd.DataFrame(index=pd.RangeIndex(0)), np.empty(0, dtype=object)), keep
    return parse_json_lines(rows), keep
