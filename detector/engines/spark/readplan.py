"""The read plan (driver side): which files Spark reads together, and how.

:func:`plan_groups` groups the files :func:`detector.ingest.list_log` lists by format
and layout, so one Spark read covers files with one schema: Parquet by the Arrow types
in their footers (whose row counts are kept, to check Spark read every row), CSV by
header, JSON Lines as lines of bytes. :func:`read_group` is that read, with each row's
position (file, split start, row id) attached, so "first in file order" means the same
as in the local engine.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector import schema as S
from detector.ingest import LogFile, csv_header, open_parquet

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["CORRUPT_COLUMN", "ReadGroup", "norm_path", "plan_groups", "read_group"]


CORRUPT_COLUMN = "_corrupt_record"
"""Spark's column for the text of a CSV record it could not fit to the header."""


@dataclass(frozen=True)
class ReadGroup:
    """Files Spark reads in one go: one format and, for Parquet/CSV, one layout."""

    fmt: str
    uris: tuple[str, ...]
    columns: tuple[str, ...] = ()
    """Contract columns to select (Parquet, CSV)."""
    arrow_types: tuple[tuple[str, str], ...] = ()
    """Parquet: each column's type in the files (its Arrow schema), as text."""
    header: tuple[str, ...] = ()
    """CSV: every header name, in file order."""


def norm_path(uri: str) -> str:
    """A file URI or path as Spark's ``input_file_name()`` may spell it, as a plain path."""
    s = urllib.parse.unquote(uri)
    if s.startswith("file:"):
        s = s[len("file:") :]
        if s.startswith("//"):
            s = s[2:]
    return os.path.normpath(s)


def _spark_path(path: Path) -> str:
    """A local file as a Hadoop path: explicit ``file://`` scheme (a cluster's default
    filesystem may be HDFS), no percent-encoding (Hadoop would read ``%3D`` literally),
    glob characters escaped (Hadoop expands ``*?[]{}`` in input paths)."""
    text = str(path.resolve())
    for ch in "\\*?[]{}":
        text = text.replace(ch, "\\" + ch)
    return "file://" + text


def _parquet_layout(f: LogFile) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], int]:
    """Contract columns, their Arrow types and the row count of a Parquet file (footer only)."""
    pf, names = open_parquet(f)
    cols = tuple(names)
    types = tuple((c, str(pf.schema_arrow.field(c).type)) for c in cols)
    return cols, types, pf.metadata.num_rows


def _csv_header(f: LogFile) -> tuple[str, ...]:
    """The header names of a CSV file, read the way the local reader reads them."""
    return tuple(csv_header(f))


def plan_groups(files: Sequence[LogFile]) -> tuple[list[ReadGroup], dict[int, int]]:
    """Group the files by format and layout; Parquet row counts from the footers."""
    groups: dict[tuple[Any, ...], list[LogFile]] = {}
    meta: dict[tuple[Any, ...], dict[str, Any]] = {}
    parquet_rows: dict[int, int] = {}
    for i, f in enumerate(files):
        if f.fmt == "parquet":
            cols, types, rows = _parquet_layout(f)
            parquet_rows[i] = rows
            if rows == 0:
                continue
            key: tuple[Any, ...] = ("parquet", types)
            meta[key] = {"columns": cols, "arrow_types": types}
        elif f.fmt == "csv":
            header = _csv_header(f)
            key = ("csv", header)
            meta[key] = {
                "header": header,
                "columns": tuple(c for c in S.ALL_COLUMNS if c in header),
            }
        else:
            key = ("jsonl",)
            meta[key] = {}
        groups.setdefault(key, []).append(f)
    out = [
        ReadGroup(
            fmt=key[0],
            uris=tuple(_spark_path(f.path) for f in fs),
            **meta[key],
        )
        for key, fs in groups.items()
    ]
    return out, parquet_rows


def read_group(spark: SparkSession, group: ReadGroup) -> DataFrame:
    """A Spark DataFrame of one group's raw rows plus their position columns."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    reader = spark.read
    if group.fmt == "parquet":
        df = reader.parquet(*group.uris).select(*group.columns)
    elif group.fmt == "csv":
        schema = T.StructType(
            [
                *(T.StructField(n, T.StringType(), True) for n in group.header),
                T.StructField(CORRUPT_COLUMN, T.StringType(), True),
            ]
        )
        df = (
            reader.schema(schema)
            .options(
                header="true",
                multiLine="true",  # quoted newlines, as the local reader allows
                quote='"',
                escape='"',  # RFC 4180 doubled quotes, not backslashes
                # a record with the wrong number of fields is kept, its text in CORRUPT_COLUMN,
                # and quarantined by the task like the local reader does
                mode="PERMISSIVE",
                columnNameOfCorruptRecord=CORRUPT_COLUMN,
                enforceSchema="true",
            )
            .csv(list(group.uris))
            .select(*group.columns, CORRUPT_COLUMN)
        )
    else:
        # lines as bytes: decoded in the task like the local reader (UTF-8, bad bytes
        # replaced), and only "\n" ends a line
        df = (
            reader.format("text")
            .option("lineSep", "\n")
            .load(list(group.uris))
            .select(F.col("value").cast("binary").alias("value"))
        )
    return df.select(
        "*",
        F.input_file_name().alias("_file"),
        F.input_file_block_start().alias("_b"),
        F.monotonically_increasing_id().alias("_m"),
    )
