"""The read / validate / annotate stage: one ``mapInArrow`` task per file split.

Each task turns Spark's raw batches into the local readers' raw frames
(:mod:`~detector.engines.spark.raw`), runs :func:`detector.ingest.screen` →
:func:`~detector.ingest.finalize_dtypes` → :func:`detector.annotate.annotate` on them,
and emits three kinds of rows in one schema (:func:`stage_schema`): kept rows
(annotated, without prompt text), quarantined rows (their reason and raw cells as
text) and one meta row per batch and file (the counts the ingest report needs). Every
row carries its :data:`POSITION`, so the driver can restore file order.

:func:`text_task` is the same read narrowed to a few chosen rows, for their raw cells
as quarantine text: the rows whose ``request_id`` another account kept are found only
after the read (by :mod:`~detector.engines.spark.dedupe`), and kept rows do not carry
their raw text (their prompts would double the cached table).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import annotate as A
from detector import schema as S
from detector.config import Config
from detector.engines.spark.layout import annotated_layout, spark_type, spark_values
from detector.engines.spark.raw import csv_raw, jsonl_raw, parquet_raw
from detector.engines.spark.readplan import ReadGroup, norm_path
from detector.ingest import UTF8_BOM, RawChunk, TimeBounds, cell_text, finalize_dtypes, screen
from detector.topics import TopicModel

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "MODEL_COLUMN",
    "POSITION",
    "STATE_KEPT",
    "STATE_META",
    "STATE_QUARANTINED",
    "StagePlan",
    "arrow_schema",
    "stage_schema",
    "stage_task",
    "text_task",
]


STATE_KEPT, STATE_QUARANTINED, STATE_META = 0, 1, 2
"""``_state`` of a staged row: a kept row, a quarantined row, a meta (counts) row."""
MODEL_COLUMN = "_model"
"""A kept row's model name, for the population facts."""


POSITION = ("_f", "_b", "_m")
"""A row's position: file index (discovery order), split start byte, row id in the task."""


def stage_schema() -> StructType:
    """Rows out of the read/validate/annotate stage.

    ``_state`` says which fields are meaningful: kept rows carry ``request_id``, the
    model name (``_model``, for the population facts) and the annotated columns;
    quarantined rows ``_reason`` and the raw cells as text
    (``q_<column>``); one meta row per (batch, file) carries the file's raw row count
    (``_n``), rows outside ``--start/--end`` (``_o``), the contract columns seen
    (``_reason``, comma-separated) and the number of columns parsed (``_m``).
    """
    from pyspark.sql import types as T

    fields = [
        T.StructField("_state", T.ByteType(), False),
        T.StructField("_f", T.IntegerType(), False),
        T.StructField("_b", T.LongType(), False),
        T.StructField("_m", T.LongType(), False),
        T.StructField("_reason", T.StringType(), True),
        T.StructField("_n", T.LongType(), True),
        T.StructField("_o", T.LongType(), True),
        T.StructField(S.REQUEST_ID, T.StringType(), True),
        T.StructField(MODEL_COLUMN, T.StringType(), True),
    ]
    fields += [T.StructField(c, spark_type(d), True) for c, d in annotated_layout()]
    fields += [T.StructField(f"q_{c}", T.StringType(), True) for c in S.ALL_COLUMNS]
    return T.StructType(fields)


def arrow_schema(spark: SparkSession, schema: StructType) -> pa.Schema:
    """The Arrow schema the session's ``mapInArrow`` expects for ``schema``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    large = spark.conf.get("spark.sql.execution.arrow.useLargeVarTypes", "false") == "true"
    return to_arrow_schema(schema, prefers_large_types=large)


def _batch(schema: pa.Schema, n: int, columns: Mapping[str, Any]) -> pa.RecordBatch:
    """A record batch of ``schema`` with ``columns`` filled and every other field null."""
    arrays = []
    for f in schema:
        if f.name in columns:
            arrays.append(pa.array(columns[f.name], type=f.type))
        else:
            arrays.append(pa.nulls(n, type=f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


@dataclass(frozen=True)
class StagePlan:
    """What a read task needs to know (pickled into the task)."""

    paths: dict[str, int]
    """Normalised local path → file index (discovery order)."""
    bounds: dict[int, TimeBounds]
    """File index → the instants its rows may carry (window, partition day)."""
    config: Config
    topic_model: TopicModel | None
    out_schema: pa.Schema


def _file_indices(files: pa.Array, paths: Mapping[str, int]) -> np.ndarray:
    """File index of each row, mapping each distinct ``input_file_name()`` once."""
    enc = pc.dictionary_encode(files)
    if isinstance(enc, pa.ChunkedArray):  # pragma: no cover - a batch column is one chunk
        enc = enc.combine_chunks()
    lookup = []
    for uri in enc.dictionary.to_pylist():
        key = norm_path(uri)
        if key not in paths:
            raise RuntimeError(f"Spark read a file the plan does not list: {uri}")
        lookup.append(paths[key])
    return np.asarray(lookup, dtype=np.int32)[enc.indices.to_numpy(zero_copy_only=False)]


def _quarantine_text(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Raw ``rows``' cells as the quarantine writer renders them: ``q_<column>`` for each
    contract column (empty for a column the rows lack)."""
    k = len(rows)
    cols: dict[str, np.ndarray] = {}
    for c in S.ALL_COLUMNS:
        values = rows[c].to_numpy(dtype=object) if c in rows.columns else [None] * k
        cols[f"q_{c}"] = np.array([cell_text(v) for v in values], dtype=object)
    return cols


def _stage_rows(
    chunk: RawChunk, f: int, b: np.ndarray, m: np.ndarray, plan: StagePlan
) -> Iterator[pa.RecordBatch]:
    """Validate, quarantine and annotate one file's slice of a batch (as ``iter_clean``
    and the local pass 1 do per chunk)."""
    raw = chunk.frame.reset_index(drop=True)
    schema = plan.out_schema
    n = len(raw)
    screened = screen(RawChunk(raw, chunk.reason, chunk.names), plan.bounds[f])
    bad = screened.reason != ""
    clean, outside = screened.clean, screened.outside
    seen = [c for c in raw.columns if c in S.ALL_COLUMNS]
    yield _batch(
        schema,
        1,
        {
            "_state": [STATE_META],
            "_f": [f],
            "_b": [int(b[0]) if n else 0],
            "_m": [len(chunk.names)],
            "_reason": [",".join(seen)],
            "_n": [n],
            "_o": [int(outside.sum())],
        },
    )
    if bad.any():
        k = int(bad.sum())
        cols: dict[str, Any] = {
            "_state": np.full(k, STATE_QUARANTINED, dtype=np.int8),
            "_f": np.full(k, f, dtype=np.int32),
            "_b": b[bad],
            "_m": m[bad],
            "_reason": screened.reason[bad].astype(str),
            **_quarantine_text(raw[bad]),
        }
        yield _batch(schema, k, cols)
    good = ~bad & ~outside
    if good.any():
        k = int(good.sum())
        chunk = finalize_dtypes(clean[good].reset_index(drop=True))
        ann = A.annotate(chunk, config=plan.config, topic_model=plan.topic_model)
        cols = {
            "_state": np.full(k, STATE_KEPT, dtype=np.int8),
            "_f": np.full(k, f, dtype=np.int32),
            "_b": b[good],
            "_m": m[good],
            S.REQUEST_ID: chunk[S.REQUEST_ID].astype(object).to_numpy(),
            MODEL_COLUMN: chunk[S.MODEL].astype(object).to_numpy(),
        }
        cols.update(spark_values(ann))
        yield _batch(schema, k, cols)


def _file_runs(
    batches: Iterator[pa.RecordBatch], group: ReadGroup, plan: StagePlan, chosen: bool = False
) -> Iterator[tuple[int, RawChunk, np.ndarray, np.ndarray]]:
    """Each incoming batch split into runs of one file, each run as the local reader's
    raw chunk: (file index, chunk, split starts, row ids) of its rows.

    ``chosen``: the read was narrowed to chosen rows, all of them kept rows. A JSON line
    kept with a byte order mark can only be its file's first (anywhere else the mark
    makes it invalid JSON), so the mark is dropped from every line.
    """
    started: set[int] = set()  # files whose first line this task has seen (JSONL BOM)
    for batch in batches:
        if batch.num_rows == 0:
            continue
        files = _file_indices(batch.column(batch.schema.get_field_index("_file")), plan.paths)
        b = batch.column(batch.schema.get_field_index("_b")).to_numpy(zero_copy_only=False)
        m = batch.column(batch.schema.get_field_index("_m")).to_numpy(zero_copy_only=False)
        cuts = [0, *(np.flatnonzero(files[1:] != files[:-1]) + 1).tolist(), len(files)]
        for lo, hi in itertools.pairwise(cuts):
            f = int(files[lo])
            part = batch.slice(lo, hi - lo)
            pb, pm = b[lo:hi], m[lo:hi]
            if group.fmt == "parquet":
                chunk = RawChunk.parsed(parquet_raw(part, group))
            elif group.fmt == "csv":
                chunk = csv_raw(part, group)
            else:
                if chosen:
                    part, first = _without_bom(part), False
                else:
                    first = pb[0] == 0 and f not in started
                    if pb[0] == 0:
                        started.add(f)
                chunk, keep = jsonl_raw(part, first)
                pb, pm = pb[keep], pm[keep]
            yield f, chunk, pb, pm


def _without_bom(part: pa.RecordBatch) -> pa.RecordBatch:
    """JSON lines (a ``value`` column of bytes) without a leading byte order mark."""
    values = part.column(part.schema.get_field_index("value")).to_pylist()
    lines = [v.removeprefix(UTF8_BOM) if v is not None else v for v in values]
    return pa.RecordBatch.from_arrays([pa.array(lines, type=pa.binary())], names=["value"])


def stage_task(
    group: ReadGroup, plan: StagePlan
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function of one read group."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for f, chunk, b, m in _file_runs(batches, group, plan):
            yield from _stage_rows(chunk, f, b, m, plan)

    return run


def text_task(
    group: ReadGroup, plan: StagePlan
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function of one read group narrowed to chosen kept rows: each
    row's position and raw cells as quarantine text (``q_<column>``), nothing else."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for f, chunk, b, m in _file_runs(batches, group, plan, chosen=True):
            k = len(chunk.frame)
            if k == 0:
                continue
            cols: dict[str, Any] = {
                "_state": np.full(k, STATE_QUARANTINED, dtype=np.int8),
                "_f": np.full(k, f, dtype=np.int32),
                "_b": b,
                "_m": m,
                **_quarantine_text(chunk.frame),
            }
            yield _batch(plan.out_schema, k, cols)

    return run
