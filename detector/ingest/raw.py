"""Raw rows as a reader produces them, before any contract rule is applied."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from detector import schema as S
from detector.ingest.discover import LogFile
from detector.ingest.report import IngestError

_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}


@dataclass
class RawChunk:
    """One chunk of input rows: their values as found, and what the reader made of each.

    ``frame`` has one row per input row (a Parquet row, a CSV record, a non-blank JSON
    line) and the contract columns found in the chunk. ``reason`` is ``""`` for a row
    the reader could parse, else why not (``invalid JSON line``, ``invalid UTF-8``,
    ``wrong number of CSV fields``): such a row is quarantined whatever its values.
    """

    frame: pd.DataFrame
    reason: np.ndarray
    names: frozenset[str] = frozenset()
    """Every column name the source gave (header, schema or JSON keys), contract or not."""

    @classmethod
    def parsed(cls, frame: pd.DataFrame) -> RawChunk:
        """A chunk whose every row was parsed."""
        return cls(frame, np.full(len(frame), "", dtype=object), frozenset(frame.columns))


def arrow_types(t: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    """``to_pandas`` types mapper for raw columns: Arrow strings stay Arrow strings, and
    integers become nullable integers, so an integer column with a null is not turned
    into floats (``123`` must not become ``123.0``)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.ArrowDtype(pa.string())
    return _NULLABLE_INTS.get(t)


def check_header(f: LogFile, names: Collection[str]) -> None:
    """Raise :class:`IngestError` when a file's columns lack a required contract column,
    or name a contract column twice (a reader would silently keep one of the two)."""
    seen = list(names)
    twice = sorted({c for c in seen if c in S.ALL_COLUMNS and seen.count(c) > 1})
    if twice:
        raise IngestError(
            f"{f.path}: column(s) {', '.join(twice)} appear more than once in the header; "
            "keep one of each"
        )
    missing = [c for c in S.REQUIRED if c not in names]
    if missing:
        raise IngestError(
            f"{f.path}: missing required column(s) {', '.join(missing)}; "
            "the request log must have the columns listed in CONTRACT.md 1.1"
        )


def one_line(exc: BaseException) -> str:
    """An exception's message on one short line (for a one-line error)."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__
