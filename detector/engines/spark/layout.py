"""What annotated rows look like on their way through Spark, and back.

The read stage's tasks annotate rows with :func:`detector.annotate.annotate`; the
feature stage's tasks hand the same frame to ``compute_bucket``. In between the rows
are Spark columns. :func:`annotated_layout` derives the annotated columns and their
dtypes from annotating one probe row (so a column added to :mod:`detector.annotate`
flows through without a list to update), :func:`spark_type` and
:func:`spark_values` are the way in, :func:`restore_annotated` the way back to the
exact frame the local engine holds.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from detector import annotate as A
from detector import schema as S
from detector.config import DEFAULT
from detector.ingest import finalize_dtypes, validate_frame

if TYPE_CHECKING:
    from pyspark.sql.types import DataType

__all__ = ["annotated_layout", "restore_annotated", "spark_type", "spark_values"]


@functools.cache
def annotated_layout() -> tuple[tuple[str, str], ...]:
    """(column, numpy dtype name) of an annotated frame, from annotating one probe row.

    Derived, not listed, so a column added to :mod:`detector.annotate` flows through.
    """
    row: dict[str, list[object]] = {}
    for col in S.REQUEST_COLUMNS:
        value: object = {
            "string": "x",
            "timestamp": "2026-01-01T00:00:00Z",
            "int": 1,
            "float": 0.5,
            "bool": True,
        }[col.kind]
        row[col.name] = [S.STATUSES[0] if col.name == S.STATUS else value]
    checked = validate_frame(pd.DataFrame(row))
    if (checked.reason != "").any():  # pragma: no cover - the probe is valid by construction
        raise RuntimeError(f"probe row invalid: {checked.reason[0]}")
    ann = A.annotate(finalize_dtypes(checked.clean), config=DEFAULT, topic_model=None)
    return tuple((c, str(ann[c].dtype)) for c in ann.columns)


def _is_text(dtype: str) -> bool:
    """Whether an annotated column holds strings (numpy object or a pandas string dtype)."""
    return dtype == "object" or dtype.startswith(("string", "large_string"))


def spark_type(dtype: str) -> DataType:
    """The Spark column type an annotated column of numpy/pandas ``dtype`` travels as."""
    from pyspark.sql import types as T

    if _is_text(dtype):
        return T.StringType()
    return {
        "object": T.StringType(),
        "bool": T.BooleanType(),
        "int8": T.ByteType(),
        "int16": T.ShortType(),
        "int32": T.IntegerType(),
        "int64": T.LongType(),
        "uint64": T.LongType(),  # 64-bit hashes travel bit-cast to signed
        "float32": T.FloatType(),
        "float64": T.DoubleType(),
    }[dtype]


def spark_values(ann: pd.DataFrame) -> dict[str, Any]:
    """The annotated columns as the stage's Spark columns take them: 64-bit hashes
    bit-cast to signed, text as Python strings (undone by :func:`restore_annotated`)."""
    cols: dict[str, Any] = {}
    for c, dtype in annotated_layout():
        values = ann[c].to_numpy()
        if dtype == "uint64":
            values = values.astype(np.uint64, copy=False).view(np.int64)
        elif _is_text(dtype):
            values = np.asarray(ann[c].astype(object), dtype=object)
        cols[c] = values
    return cols


def restore_annotated(frame: pd.DataFrame) -> pd.DataFrame:
    """The annotated frame exactly as the local engine holds it: column order and dtypes."""
    out: dict[str, Any] = {}
    for c, dtype in annotated_layout():
        values = frame[c].to_numpy()
        if dtype == "uint64":
            out[c] = values.astype(np.int64, copy=False).view(np.uint64)
        elif dtype == "object":
            out[c] = values.astype(object)
        elif _is_text(dtype):
            out[c] = pd.array(values.astype(object), dtype=dtype)
        elif values.dtype != np.dtype(dtype):
            out[c] = values.astype(dtype)
        else:
            out[c] = values
    return pd.DataFrame(out)
