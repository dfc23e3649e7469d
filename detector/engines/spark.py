"""The pipeline on Apache Spark: the same pure functions, run as Spark tasks.

Nothing here re-implements a feature, a validation rule or a score. Spark reads the
log and moves rows between machines; every decision is taken by the project's own
pandas functions running inside Spark tasks:

1. **Read, validate, annotate** (``mapInArrow``, one task per file split): Spark reads
   the files :func:`detector.ingest.discover` lists (partition pruning by ``date=``
   happens there, so pruned days are never opened), each batch becomes the same raw
   pandas frame the local readers make (Parquet with its file's own Arrow types, CSV
   as strings, JSON Lines parsed by the project's parser), and
   :func:`~detector.ingest.validate_frame` → :func:`~detector.ingest.finalize_dtypes`
   → :func:`detector.annotate.annotate` run on it. Every row leaves the task tagged
   with its position (file index in discovery order, split start, row id), so "first"
   means the same as in the local engine. The result (annotated rows without prompt
   text, quarantined rows as text) is cached.
2. **Quarantine** rows (few by nature) are collected in file order and written with the
   project's :class:`~detector.ingest.QuarantineWriter`.
3. **Dedupe** by ``request_id`` keeping the first row in file order: a window over the
   slim ``(request_id, position)`` columns only; the losers are anti-joined away.
4. **Population facts** (window, models' first appearance and row counts) are one
   Spark aggregation; the topic model is fitted on the driver on the same first chunk
   the local engine fits on (bounded by ``Config.chunk_rows``).
5. **Features** (``groupBy(bucket).applyInPandas``, bucket = hash(account_id) mod n):
   every account's rows meet in one task, sorted back into file order, and
   :func:`~detector.features.compute_bucket` and
   :func:`~detector.coordination.bucket_evidence` run on them. One row per account
   (features, first request, request count, sparse hourly activity) plus its few
   evidence keys come back to the driver, and one row per qualifying sub-stream
   (:func:`~detector.substreams.compute_substreams`, the same call as locally).
6. **Linking** (:func:`~detector.coordination.link_accounts`) runs on the driver on the
   collected evidence, as in the local engine.

Scoring (:func:`score_frame_spark`) broadcasts the fitted model and scores the feature
table in ``mapInPandas`` tasks; only ranking and the threshold (population-wide, one
number per account) run on the driver.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import math
import os
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import annotate as A
from detector import schema as S
from detector.config import DEFAULT, Config
from detector.coordination import HourlyActivity, bucket_evidence
from detector.features import FAMILIES, Context, active_specs, compute_bucket
from detector.ingest import (
    MAX_FIRST_REASONS,
    UTF8_BOM,
    IngestError,
    IngestReport,
    LogFile,
    QuarantineWriter,
    RawChunk,
    TimeBounds,
    arrow_types,
    cell_text,
    check_header,
    csv_header,
    finalize_dtypes,
    iter_clean,
    list_log,
    open_parquet,
    parse_json_lines,
    read_accounts,
    screen,
    strip_lines,
    time_bounds,
    validate_frame,
)
from detector.pipeline import (
    FeatureResult,
    Progress,
    finish_features,
    population_context,
    topic_sample,
)
from detector.substreams import SHAPE_COLUMNS, SubStreams, compute_substreams
from detector.topics import TopicModel, fit_topic_model

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

    from detector.model import AnomalyModel

__all__ = [
    "LOCAL_DEFAULTS",
    "SESSION_DEFAULTS",
    "build_features_spark",
    "get_spark",
    "score_frame_spark",
    "write_scores_parquet_spark",
]

SESSION_DEFAULTS: Mapping[str, str] = {
    # timestamps cross the JVM/Python boundary as instants rendered in this zone
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # validation and annotation cost per call: fewer, larger batches
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
    # pandas writes nanosecond timestamps, which Spark reads only as longs; the task
    # casts them back to the file's own type (see _parquet_raw)
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # the shuffled stages are CPU-heavy pandas work: keep every partition a task
    "spark.sql.adaptive.coalescePartitions.enabled": "false",
    # a log with prompts grows ~10x from Parquet to memory: smaller read splits keep a
    # task's (and a cached block's) footprint in the hundreds of MB
    "spark.sql.files.maxPartitionBytes": "32m",
    "spark.ui.showConsoleProgress": "false",
}
"""Applied to every session (``--spark-conf`` overrides them)."""

LOCAL_DEFAULTS: Mapping[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "4g",
}
"""Small defaults for ``local[...]`` masters only; a cluster keeps its own."""

# settings the engine's correctness depends on: re-applied to a session that exists
_REQUIRED_RUNTIME = (
    "spark.sql.session.timeZone",
    "spark.sql.execution.arrow.pyspark.enabled",
    "spark.sql.legacy.parquet.nanosAsLong",
)
_BUCKETS_PER_PARTITION = 4
"""Account buckets per shuffle partition: evens out hash collisions of bucket ids."""

# --- the session ---------------------------------------------------------------------


def get_spark(master: str = "local[*]", conf: Mapping[str, str] | None = None) -> SparkSession:
    """The process's SparkSession, created on first use with the engine's defaults.

    ``conf`` (``--spark-conf KEY=VALUE``) overrides the defaults. A session that
    already exists (a notebook's, a test's) is reused; runtime SQL settings in
    ``conf`` are applied to it, static ones only take effect at creation. Under
    ``spark-submit`` its master and settings win over ``master`` and the defaults.
    """
    from pyspark.sql import SparkSession

    conf = dict(conf or {})
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        # launched by spark-submit: its --master and --conf are the deployment's word
        from pyspark import SparkConf

        submitted = dict(SparkConf().getAll())
        master = submitted.get("spark.master", master)
        defaults = {k: v for k, v in SESSION_DEFAULTS.items() if k not in submitted}
        settings = {**defaults, **conf}
        builder = SparkSession.builder.appName("detector")
    else:
        local = master.startswith("local")
        if local:
            # workers run this interpreter (the venv with the project), not "python3"
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        settings = {**SESSION_DEFAULTS, **(LOCAL_DEFAULTS if local else {}), **conf}
        if local and "spark.driver.extraJavaOptions" not in settings:
            # Spark's INFO/WARN chatter on stderr would bury the CLI's one-line messages
            settings["spark.driver.extraJavaOptions"] = (
                f"-Dlog4j2.configurationFile={_quiet_log4j()}"
            )
        builder = SparkSession.builder.master(master).appName("detector")
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key in _REQUIRED_RUNTIME:
        spark.conf.set(key, settings.get(key, SESSION_DEFAULTS[key]))
    for key, value in conf.items():
        try:
            spark.conf.set(key, value)
        except Exception:  # static settings of a session that already exists
            continue
    spark.sparkContext.setLogLevel(conf.get("detector.logLevel", "ERROR"))
    return spark


def _quiet_log4j() -> str:
    """A log4j2 configuration that prints only errors (written once per machine)."""
    path = Path(tempfile.gettempdir()) / "detector-spark-log4j2.properties"
    text = (
        "rootLogger.level = error\n"
        # the launchers' loggers at the root's level: no "Setting default log level" banner
        "logger.submit.name = org.apache.spark.deploy.SparkSubmit\n"
        "logger.submit.level = error\n"
        "logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer\n"
        "logger.gateway.level = error\n"
        "rootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex\n"
    )
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return str(path)


def _spark_error(exc: BaseException, what: str) -> Exception:
    """One readable error for a failed Spark job: a user error raised inside a task
    comes back as itself; anything else names the stage and the first line."""
    text = str(exc)
    for line in text.splitlines():
        for name in ("IngestError", "UserError"):
            marker = f"{name}: "
            if marker in line:
                return IngestError(line.split(marker, 1)[1].strip())
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return RuntimeError(f"Spark job failed while {what}: {first[:300]}")


def _run(what: str, action: Callable[[], Any], spark: SparkSession | None = None) -> Any:
    """Run one Spark action, labelled in the Spark UI, with errors made readable."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    if spark is not None:
        spark.sparkContext.setJobDescription(f"detector: {what}")
    try:
        return action()
    except (PySparkException, Py4JError) as exc:
        raise _spark_error(exc, what) from None


# --- what annotated rows look like ----------------------------------------------------------


@functools.cache
def _annotated_layout() -> tuple[tuple[str, str], ...]:
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


def _spark_type(dtype: str) -> DataType:
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


STATE_KEPT, STATE_QUARANTINED, STATE_META = 0, 1, 2
_MODEL = "_model"
_CORRUPT = "_corrupt_record"
"""Spark's column for the text of a CSV record it could not fit to the header."""
_ORDER = ("_f", "_b", "_m")
"""A row's position: file index (discovery order), split start byte, row id in the task."""


def _stage_schema() -> StructType:
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
        T.StructField(_MODEL, T.StringType(), True),
    ]
    fields += [T.StructField(c, _spark_type(d), True) for c, d in _annotated_layout()]
    fields += [T.StructField(f"q_{c}", T.StringType(), True) for c in S.ALL_COLUMNS]
    return T.StructType(fields)


def _arrow_schema(spark: SparkSession, schema: StructType) -> pa.Schema:
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


# --- reading plan (driver) ------------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """Files Spark reads in one go: one format and, for Parquet/CSV, one layout."""

    fmt: str
    uris: tuple[str, ...]
    columns: tuple[str, ...] = ()
    """Contract columns to select (Parquet, CSV)."""
    arrow_types: tuple[tuple[str, str], ...] = ()
    """Parquet: each column's type in the files (its Arrow schema), as text."""
    header: tuple[str, ...] = ()
    """CSV: every header name, in file order."""


@dataclass(frozen=True)
class _Plan:
    """What a read task needs to know (pickled into the task)."""

    paths: dict[str, int]
    """Normalised local path → file index (discovery order)."""
    bounds: dict[int, TimeBounds]
    """File index → the instants its rows may carry (window, partition day)."""
    config: Config
    topic_model: TopicModel | None
    out_schema: pa.Schema


def _norm_path(uri: str) -> str:
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


def _plan_groups(files: Sequence[LogFile]) -> tuple[list[_Group], dict[int, int]]:
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
        _Group(
            fmt=key[0],
            uris=tuple(_spark_path(f.path) for f in fs),
            **meta[key],
        )
        for key, fs in groups.items()
    ]
    return out, parquet_rows


def _read_group(spark: SparkSession, group: _Group) -> DataFrame:
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
                T.StructField(_CORRUPT, T.StringType(), True),
            ]
        )
        df = (
            reader.schema(schema)
            .options(
                header="true",
                multiLine="true",  # quoted newlines, as the local reader allows
                quote='"',
                escape='"',  # RFC 4180 doubled quotes, not backslashes
                # a record with the wrong number of fields is kept, its text in _CORRUPT,
                # and quarantined by the task like the local reader does
                mode="PERMISSIVE",
                columnNameOfCorruptRecord=_CORRUPT,
                enforceSchema="true",
            )
            .csv(list(group.uris))
            .select(*group.columns, _CORRUPT)
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


# --- read / validate / annotate (task) --------------------------------------------------------


def _file_indices(files: pa.Array, paths: Mapping[str, int]) -> np.ndarray:
    """File index of each row, mapping each distinct ``input_file_name()`` once."""
    enc = pc.dictionary_encode(files)
    if isinstance(enc, pa.ChunkedArray):  # pragma: no cover - a batch column is one chunk
        enc = enc.combine_chunks()
    lookup = []
    for uri in enc.dictionary.to_pylist():
        key = _norm_path(uri)
        if key not in paths:
            raise RuntimeError(f"Spark read a file the plan does not list: {uri}")
        lookup.append(paths[key])
    return np.asarray(lookup, dtype=np.int32)[enc.indices.to_numpy(zero_copy_only=False)]


def _parquet_raw(part: pa.RecordBatch, group: _Group) -> pd.DataFrame:
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
    parsed = _parse_arrow_type(text)
    return parsed if parsed is not None else fallback


def _csv_raw(part: pa.RecordBatch, group: _Group) -> RawChunk:
    """The raw chunk the local CSV reader would make: strings, empty fields as '', a
    ragged record with its reason. Spark's CSV source decodes invalid UTF-8 to U+FFFD
    without a word, so a cell holding U+FFFD is taken as invalid UTF-8 (stricter than
    the local reader for text that holds a genuine U+FFFD)."""
    arrays = [pc.fill_null(part.column(part.schema.get_field_index(c)), "") for c in group.columns]
    frame = pa.Table.from_arrays(arrays, names=list(group.columns)).to_pandas(
        types_mapper=arrow_types
    )
    ragged = pc.is_valid(part.column(part.schema.get_field_index(_CORRUPT)))
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


def _jsonl_raw(part: pa.RecordBatch, first_line: bool) -> tuple[RawChunk, np.ndarray]:
    """Parse JSON lines with the project's parser; returns the chunk and the kept-line mask
    (blank lines are not rows, as in the local reader)."""
    values = part.column(part.schema.get_field_index("value")).to_pylist()
    lines = [b if b is not None else b"" for b in values]
    if first_line and lines and lines[0].startswith(UTF8_BOM):
        lines[0] = lines[0][len(UTF8_BOM) :]  # as the local reader does
    stripped = strip_lines(lines)
    keep = np.fromiter(map(bool, stripped), dtype=bool, count=len(stripped))
    rows = [line for line in stripped if line]
    if not rows:
        return RawChunk(pd.DataFrame(index=pd.RangeIndex(0)), np.empty(0, dtype=object)), keep
    return parse_json_lines(rows), keep


def _stage_rows(
    chunk: RawChunk, f: int, b: np.ndarray, m: np.ndarray, plan: _Plan
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
        rows = raw[bad]
        cols: dict[str, Any] = {
            "_state": np.full(k, STATE_QUARANTINED, dtype=np.int8),
            "_f": np.full(k, f, dtype=np.int32),
            "_b": b[bad],
            "_m": m[bad],
            "_reason": screened.reason[bad].astype(str),
        }
        for c in S.ALL_COLUMNS:  # as text, as the quarantine writer renders it
            values = rows[c].to_numpy(dtype=object) if c in rows.columns else [None] * k
            cols[f"q_{c}"] = np.array([cell_text(v) for v in values], dtype=object)
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
            _MODEL: chunk[S.MODEL].astype(object).to_numpy(),
        }
        for c, dtype in _annotated_layout():
            values = ann[c].to_numpy()
            if dtype == "uint64":
                values = values.astype(np.uint64, copy=False).view(np.int64)
            elif _is_text(dtype):
                values = np.asarray(ann[c].astype(object), dtype=object)
            cols[c] = values
        yield _batch(schema, k, cols)


def _stage_partition(
    batches: Iterator[pa.RecordBatch], group: _Group, plan: _Plan
) -> Iterator[pa.RecordBatch]:
    """A read task: each incoming batch, split into runs of one file, through _stage_rows."""
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
                chunk = RawChunk.parsed(_parquet_raw(part, group))
            elif group.fmt == "csv":
                chunk = _csv_raw(part, group)
            else:
                first = pb[0] == 0 and f not in started
                if pb[0] == 0:
                    started.add(f)
                chunk, keep = _jsonl_raw(part, first)
                pb, pm = pb[keep], pm[keep]
            yield from _stage_rows(chunk, f, pb, pm, plan)


def _stage_task(
    group: _Group, plan: _Plan
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function of one read group."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _stage_partition(batches, group, plan)

    return run


# --- features per bucket (task) ----------------------------------------------------------------


@dataclass(frozen=True)
class _BucketPlan:
    """What a feature task needs (pickled into the task)."""

    context: Context
    feature_names: tuple[str, ...]
    coordination: bool


_SUB_TEXT = ("ss_parent", "ss_kind", *(f"ss_{t}" for t in A.LABEL_TEXTS))
"""Text columns of a sub-stream row (parent account, kind, label texts; "" elsewhere)."""


def _bucket_schema(feature_names: Sequence[str]) -> StructType:
    """Rows out of a feature task: ``_row`` 0 = an account, 1 = one of its evidence keys,
    2 = a sub-stream (``account_id`` its sub-stream id, ``ss_*`` what it is)."""
    from pyspark.sql import types as T

    fields = [
        T.StructField("_bucket", T.IntegerType(), False),
        T.StructField("_row", T.ByteType(), False),
        T.StructField("_pos", T.IntegerType(), False),
        T.StructField(S.ACCOUNT_ID, T.StringType(), False),
    ]
    fields += [T.StructField(f"f{j}", T.DoubleType(), False) for j in range(len(feature_names))]
    fields += [
        T.StructField("first_ts", T.LongType(), False),
        T.StructField("requests", T.DoubleType(), False),
        T.StructField("h_idx", T.ArrayType(T.IntegerType(), False), False),
        T.StructField("h_val", T.ArrayType(T.FloatType(), False), False),
        T.StructField("ev_key", T.LongType(), False),
        T.StructField("ev_rows", T.DoubleType(), False),
        T.StructField("ev_share", T.DoubleType(), False),
        T.StructField("ev_kind", T.StringType(), False),
        T.StructField("ss_requests", T.LongType(), False),
        T.StructField("ss_share", T.DoubleType(), False),
        *(T.StructField(f"ss_{c}", T.DoubleType(), True) for c in SHAPE_COLUMNS),
    ]
    fields += [T.StructField(c, T.StringType(), False) for c in _SUB_TEXT]
    return T.StructType(fields)


def _restore_annotated(frame: pd.DataFrame) -> pd.DataFrame:
    """The annotated frame exactly as the local engine holds it: column order and dtypes."""
    out: dict[str, Any] = {}
    for c, dtype in _annotated_layout():
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


def _bucket_rows(frame: pd.DataFrame, plan: _BucketPlan) -> pd.DataFrame:
    """One bucket: rows back in file order, then ``compute_bucket`` and ``bucket_evidence``."""
    bucket = int(frame["_bucket"].iloc[0])
    frame = frame.sort_values(list(_ORDER), kind="stable")
    ann = _restore_annotated(frame)
    feats = compute_bucket(ann, plan.context)
    if tuple(feats.columns) != plan.feature_names:
        raise RuntimeError(
            f"bucket {bucket}: compute_bucket gave columns {list(feats.columns)}, "
            f"expected {list(plan.feature_names)}"
        )
    n = len(feats)
    ids = feats.index.to_numpy(dtype=object)
    cols: dict[str, Any] = {
        "_bucket": np.full(n, bucket, dtype=np.int32),
        "_row": np.zeros(n, dtype=np.int8),
        "_pos": np.arange(n, dtype=np.int32),
        S.ACCOUNT_ID: ids,
    }
    for j, name in enumerate(plan.feature_names):
        cols[f"f{j}"] = feats[name].to_numpy(dtype=np.float64)
    empty_i = np.empty(0, dtype=np.int32)
    empty_f = np.empty(0, dtype=np.float32)
    if plan.coordination:
        ev = bucket_evidence(ann, plan.context)
        if not np.array_equal(np.asarray(ev["accounts"], dtype=object), ids):
            raise RuntimeError(f"bucket {bucket}: evidence and features disagree on accounts")
        hourly: HourlyActivity = ev["hourly"]  # sorted by (row, hour)
        bounds = np.searchsorted(hourly.row, np.arange(n + 1))
        cols["first_ts"] = np.asarray(ev["first_ts"], dtype=np.int64)
        cols["requests"] = np.asarray(ev["requests"], dtype=np.float64)
        h_idx = hourly.hour.astype(np.int32)
        h_val = hourly.count.astype(np.float32)
        cols["h_idx"] = [h_idx[bounds[i] : bounds[i + 1]] for i in range(n)]
        cols["h_val"] = [h_val[bounds[i] : bounds[i + 1]] for i in range(n)]
        evidence = ev["evidence"]
    else:
        cols["first_ts"] = np.zeros(n, dtype=np.int64)
        cols["requests"] = np.zeros(n, dtype=np.float64)
        cols["h_idx"] = [empty_i] * n
        cols["h_val"] = [empty_f] * n
        evidence = pd.DataFrame({"key": [], "rows": [], "share": [], "kind": [], S.ACCOUNT_ID: []})
    cols.update(
        ev_key=np.zeros(n, dtype=np.int64),
        ev_rows=np.zeros(n, dtype=np.float64),
        ev_share=np.zeros(n, dtype=np.float64),
        ev_kind=np.full(n, "", dtype=object),
    )
    accounts = _with_sub_columns(pd.DataFrame(cols), None)
    subs = _sub_rows(compute_substreams(ann, plan.context), bucket, plan)
    k = len(evidence)
    if k == 0:
        return pd.concat([accounts, subs], ignore_index=True)
    ev_cols: dict[str, Any] = {
        "_bucket": np.full(k, bucket, dtype=np.int32),
        "_row": np.ones(k, dtype=np.int8),
        "_pos": np.arange(k, dtype=np.int32),
        S.ACCOUNT_ID: evidence[S.ACCOUNT_ID].to_numpy(dtype=object),
        **{f"f{j}": np.zeros(k) for j in range(len(plan.feature_names))},
        "first_ts": np.zeros(k, dtype=np.int64),
        "requests": np.zeros(k, dtype=np.float64),
        "h_idx": [empty_i] * k,
        "h_val": [empty_f] * k,
        "ev_key": np.asarray(evidence["key"], dtype=np.uint64).view(np.int64),
        "ev_rows": np.asarray(evidence["rows"], dtype=np.float64),
        "ev_share": np.asarray(evidence["share"], dtype=np.float64),
        "ev_kind": evidence["kind"].to_numpy(dtype=object),
    }
    ev_rows = _with_sub_columns(pd.DataFrame(ev_cols), None)
    return pd.concat([accounts, ev_rows, subs], ignore_index=True)


def _with_sub_columns(frame: pd.DataFrame, subs: SubStreams | None) -> pd.DataFrame:
    """``frame`` with the sub-stream columns: ``subs``' meta, or empty values."""
    n = len(frame)
    if subs is None:
        frame["ss_requests"] = np.zeros(n, dtype=np.int64)
        frame["ss_share"] = np.zeros(n, dtype=np.float64)
        for c in SHAPE_COLUMNS:
            frame[f"ss_{c}"] = np.zeros(n, dtype=np.float64)
        for c in _SUB_TEXT:
            frame[c] = np.full(n, "", dtype=object)
        return frame
    meta = subs.meta
    frame["ss_requests"] = meta["requests"].to_numpy(dtype=np.int64)
    frame["ss_share"] = meta["share"].to_numpy(dtype=np.float64)
    for c in SHAPE_COLUMNS:
        frame[f"ss_{c}"] = meta[c].to_numpy(dtype=np.float64)
    frame["ss_parent"] = meta[S.ACCOUNT_ID].to_numpy(dtype=object)
    frame["ss_kind"] = meta["kind"].to_numpy(dtype=object)
    for t in A.LABEL_TEXTS:
        frame[f"ss_{t}"] = meta[t].fillna("").to_numpy(dtype=object)
    return frame


def _sub_rows(subs: SubStreams, bucket: int, plan: _BucketPlan) -> pd.DataFrame:
    """The ``_row`` 2 rows of a bucket's sub-streams."""
    k = len(subs)
    empty_i = np.empty(0, dtype=np.int32)
    empty_f = np.empty(0, dtype=np.float32)
    cols: dict[str, Any] = {
        "_bucket": np.full(k, bucket, dtype=np.int32),
        "_row": np.full(k, 2, dtype=np.int8),
        "_pos": np.arange(k, dtype=np.int32),
        S.ACCOUNT_ID: subs.features.index.to_numpy(dtype=object),
    }
    for j, name in enumerate(plan.feature_names):
        values = subs.features[name] if k else np.zeros(0)  # empty: no columns either
        cols[f"f{j}"] = np.asarray(values, dtype=np.float64)
    cols.update(
        first_ts=np.zeros(k, dtype=np.int64),
        requests=np.zeros(k, dtype=np.float64),
        h_idx=[empty_i] * k,
        h_val=[empty_f] * k,
        ev_key=np.zeros(k, dtype=np.int64),
        ev_rows=np.zeros(k, dtype=np.float64),
        ev_share=np.zeros(k, dtype=np.float64),
        ev_kind=np.full(k, "", dtype=object),
    )
    return _with_sub_columns(pd.DataFrame(cols), subs)


def _bucket_task(plan: _BucketPlan) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The ``applyInPandas`` function of the feature stage."""

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        return _bucket_rows(frame, plan)

    return run


def _substreams_from(table: pa.Table, plan: _BucketPlan) -> SubStreams:
    """The sub-streams from the collected task rows (``_row`` 2), sorted by id."""
    rows = table.filter(pa.array(table.column("_row").to_numpy() == 2))
    if rows.num_rows == 0:
        return SubStreams.empty()
    ids = np.asarray(rows.column(S.ACCOUNT_ID).to_pylist(), dtype=object)
    index = pd.Index(ids, name=S.ACCOUNT_ID)
    values = {name: rows.column(f"f{j}").to_numpy() for j, name in enumerate(plan.feature_names)}
    meta = pd.DataFrame(
        {
            S.ACCOUNT_ID: rows.column("ss_parent").to_pylist(),
            "kind": rows.column("ss_kind").to_pylist(),
            "requests": rows.column("ss_requests").to_numpy(),
            "share": rows.column("ss_share").to_numpy(),
            **{t: rows.column(f"ss_{t}").to_pylist() for t in A.LABEL_TEXTS},
            **{
                c: rows.column(f"ss_{c}").to_numpy(zero_copy_only=False).astype(np.float64)
                for c in SHAPE_COLUMNS
            },
        },
        index=index,
    )
    return SubStreams.concat([SubStreams(pd.DataFrame(values, index=index), meta)])


def _parts_from(table: pa.Table, plan: _BucketPlan) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The feature table and the evidence, from the collected task rows.

    The evidence comes back as *one* part, accounts in id order and each account's
    keys in the order its task produced them: the order the local engine has when the
    log fits one bucket, so the linking sums the same floats in the same order.
    """
    row = table.column("_row").to_numpy()
    acc = table.filter(pa.array(row == 0))
    ids = np.asarray(acc.column(S.ACCOUNT_ID).to_pylist(), dtype=object)
    order = np.argsort(ids, kind="stable")
    acc = acc.take(pa.array(order))
    ids = ids[order]
    values = {name: acc.column(f"f{j}").to_numpy() for j, name in enumerate(plan.feature_names)}
    features = pd.DataFrame(values, index=pd.Index(ids, name=S.ACCOUNT_ID))
    if not plan.coordination:
        return features, []
    n = len(ids)
    lengths = pc.list_value_length(acc.column("h_idx")).to_numpy(zero_copy_only=False)
    flat_idx = pc.list_flatten(acc.column("h_idx")).to_numpy(zero_copy_only=False)
    flat_val = pc.list_flatten(acc.column("h_val")).to_numpy(zero_copy_only=False)
    hourly = HourlyActivity(
        np.repeat(np.arange(n, dtype=np.int64), lengths),
        flat_idx.astype(np.int64),
        flat_val.astype(np.float64),
    )
    evt = table.filter(pa.array(row == 1))
    ev = evt.select([S.ACCOUNT_ID, "_pos", "ev_key", "ev_rows", "ev_share", "ev_kind"]).to_pandas()
    ev = ev.sort_values([S.ACCOUNT_ID, "_pos"], kind="stable")
    evidence = pd.DataFrame(
        {
            "key": ev["ev_key"].to_numpy(dtype=np.int64).view(np.uint64),
            "rows": ev["ev_rows"].to_numpy(dtype=np.float64),
            "share": ev["ev_share"].to_numpy(dtype=np.float64),
            "kind": ev["ev_kind"].to_numpy(dtype=object),
            S.ACCOUNT_ID: ev[S.ACCOUNT_ID].to_numpy(dtype=object),
        }
    )
    part = {
        "accounts": ids,
        "evidence": evidence,
        "hourly": hourly,
        "first_ts": acc.column("first_ts").to_numpy(),
        "requests": acc.column("requests").to_numpy(),
    }
    return features, [part]


# --- the driver ---------------------------------------------------------------------------------


def _fit_topics_like_local(
    log: Path | Sequence[Path], start: dt.date | None, end: dt.date | None, config: Config
) -> TopicModel | None:
    """The topic model the local engine fits: on a strided sample of the first clean chunk
    with prompts. Reads only that chunk (``Config.chunk_rows`` rows) with the project's
    own reader, so the sample — and every topic id — is the local engine's."""
    for chunk in iter_clean(log, start=start, end=end, config=config):
        if S.PROMPT in chunk.columns:
            sample = topic_sample(chunk, config)
            if len(sample):
                return fit_topic_model(sample, config)
    return None


def _write_quarantine(
    rows: pd.DataFrame, files: Sequence[LogFile], quarantine_path: Path | None
) -> str | None:
    """Quarantined rows (in file order) to the quarantine CSV, via the project's writer."""
    writer = QuarantineWriter(quarantine_path)
    try:
        if len(rows):
            f = rows["_f"].to_numpy()
            cuts = [0, *(np.flatnonzero(f[1:] != f[:-1]) + 1).tolist(), len(rows)]
            for lo, hi in itertools.pairwise(cuts):
                part = rows.iloc[lo:hi]
                raw = pd.DataFrame(
                    {c: part[f"q_{c}"].to_numpy(dtype=object) for c in S.ALL_COLUMNS}
                )
                reasons = part["_reason"].to_numpy(dtype=object)
                writer.write(raw, reasons, str(files[int(f[lo])].path))
        return writer.close()
    except BaseException:  # no partial quarantine file, as in the local engine
        writer.abort()
        raise


def build_features_spark(
    log: Path | Sequence[Path],
    *,
    accounts: Path | pd.DataFrame | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    topic_model: TopicModel | None = None,
    fit_topics: bool = True,
    quarantine_path: Path | None = None,
    spark_master: str = "local[*]",
    spark_conf: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    coordination: bool = True,
    n_buckets: int | None = None,
) -> FeatureResult:
    """:func:`detector.pipeline.build_features` on Spark: the same feature table.

    Same parameters and result as the local engine, plus ``spark_master`` /
    ``spark_conf`` (see :func:`get_spark`) and ``n_buckets`` (account-hash buckets;
    default ``4 × spark.sql.shuffle.partitions``, more when a bucket would exceed
    ``Config.bucket_target_rows`` rows).
    """
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    table = read_accounts(accounts) if isinstance(accounts, (str, Path)) else accounts
    report = IngestReport()
    listing = list_log(log, start=start, end=end)
    files = listing.files
    report.files = [str(f.path) for f in files]
    report.pruned_files, report.ignored_files = listing.pruned, listing.ignored
    report.empty_files = listing.empty
    groups, parquet_rows = _plan_groups(files)
    if topic_model is None and fit_topics:
        topic_model = _fit_topics_like_local(log, start, end, config)
    timings["plan_and_topic_model"] = time.perf_counter() - clock

    clock = time.perf_counter()
    spark = get_spark(spark_master, spark_conf)
    timings["spark_session"] = time.perf_counter() - clock

    stage_schema = _stage_schema()
    plan = _Plan(
        paths={_norm_path(str(f.path.resolve())): i for i, f in enumerate(files)},
        bounds={i: time_bounds(f, start, end, config) for i, f in enumerate(files)},
        config=config,
        topic_model=topic_model,
        out_schema=_arrow_schema(spark, stage_schema),
    )
    cached: list[DataFrame] = []
    try:
        # 1. read, validate, annotate: one cached table of kept/quarantined/meta rows
        clock = time.perf_counter()
        staged_parts = []
        for group in groups:
            raw = _read_group(spark, group)
            staged_parts.append(raw.mapInArrow(_stage_task(group, plan), stage_schema))
        if not staged_parts:
            raise IngestError(
                f"{log}: no valid request rows to score (read 0, quarantined 0); "
                "run `detector validate` for the reasons"
            )
        staged = functools.reduce(lambda a, b: a.unionByName(b), staged_parts)
        staged = staged.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(staged)
        summary = _run(
            "read, validate and annotate the log",
            lambda: (
                staged.groupBy("_state", "_f", "_reason")
                .agg(
                    F.count(F.lit(1)).alias("rows"),
                    F.sum("_n").alias("n"),
                    F.sum("_o").alias("o"),
                    F.max("_m").alias("ncols"),
                )
                .toPandas()
            ),
            spark,
        )
        timings["read_validate_annotate"] = time.perf_counter() - clock
        candidates = _reconcile(report, summary, files, parquet_rows)

        # 2. quarantine: few rows by nature, collected in file order
        clock = time.perf_counter()
        bad = staged.where(F.col("_state") == STATE_QUARANTINED)
        q_cols = ["_f", "_reason", *(f"q_{c}" for c in S.ALL_COLUMNS)]
        if quarantine_path is not None and report.quarantined:
            rows = _run(
                "collect quarantined rows",
                lambda: bad.orderBy(*_ORDER).select(*q_cols).toArrow().to_pandas(),
                spark,
            )
        elif report.quarantined:
            rows = _run(
                "collect the first quarantine reasons",
                lambda: (
                    bad.orderBy(*_ORDER)
                    .select(*q_cols)
                    .limit(MAX_FIRST_REASONS)
                    .toArrow()
                    .to_pandas()
                ),
                spark,
            )
        else:
            rows = pd.DataFrame(columns=q_cols)
        report.first_reasons = [
            {"file": str(files[int(r["_f"])].path), "reason": str(r["_reason"])}
            for _, r in rows.head(MAX_FIRST_REASONS).iterrows()
        ]
        report.quarantine_path = (
            _write_quarantine(rows, files, quarantine_path) if quarantine_path else None
        )
        timings["quarantine"] = time.perf_counter() - clock

        # 3. dedupe: the first row of each request_id in file order wins
        clock = time.perf_counter()
        kept_rows = staged.where(F.col("_state") == STATE_KEPT)
        first = Window.partitionBy(S.REQUEST_ID).orderBy(*_ORDER)
        losers = (
            kept_rows.select(S.REQUEST_ID, *_ORDER)
            .withColumn("_rn", F.row_number().over(first))
            .where(F.col("_rn") > 1)
            .select(*_ORDER)
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        cached.append(losers)
        report.duplicates = int(_run("find duplicate request ids", losers.count, spark))
        report.kept = candidates - report.duplicates
        kept = kept_rows
        if report.duplicates:
            kept = kept_rows.join(losers, list(_ORDER), "left_anti")
        timings["dedupe"] = time.perf_counter() - clock
        if progress:
            progress("ingest", report.kept)
        if report.kept == 0:
            raise IngestError(
                f"{log}: no valid request rows to score (read {report.read:,}, "
                f"quarantined {report.quarantined:,}); run `detector validate` for the reasons"
            )

        # 4. population facts: one aggregation, one row per model name
        clock = time.perf_counter()
        models = _run(
            "aggregate the population window and models",
            lambda: (
                kept.groupBy(_MODEL)
                .agg(
                    F.min(A.TS).alias("first"),
                    F.max(A.TS).alias("last"),
                    F.count(F.lit(1)).alias("rows"),
                )
                .collect()
            ),
            spark,
        )
        model_first = {r[_MODEL]: int(r["first"]) for r in models}
        model_rows = {r[_MODEL]: int(r["rows"]) for r in models}
        t_min = min(int(r["first"]) for r in models)
        t_max = max(int(r["last"]) for r in models)
        context = population_context(
            model_first, model_rows, t_min, t_max, report=report, accounts=table, config=config
        )
        timings["population"] = time.perf_counter() - clock

        # 5. features: every account's rows in one task
        clock = time.perf_counter()
        specs, _ = active_specs(context)
        names = tuple(s.name for s in specs if FAMILIES[s.family].per_bucket)
        partitions = int(spark.conf.get("spark.sql.shuffle.partitions", "200"))
        if n_buckets is None:
            n_buckets = max(
                _BUCKETS_PER_PARTITION * partitions,
                math.ceil(report.kept / max(config.bucket_target_rows, 1)),
            )
        bplan = _BucketPlan(
            context=context,
            feature_names=names,
            coordination=coordination,
        )
        bucketed = kept.select(
            F.pmod(F.xxhash64(S.ACCOUNT_ID), F.lit(n_buckets)).cast("int").alias("_bucket"),
            *_ORDER,
            *(c for c, _ in _annotated_layout()),
        )
        out = bucketed.groupBy("_bucket").applyInPandas(_bucket_task(bplan), _bucket_schema(names))
        collected = _run("compute per-account features", out.toArrow, spark)
        features, parts = _parts_from(collected, bplan)
        substreams = _substreams_from(collected, bplan)
        features = features.sort_index()
        timings["features"] = time.perf_counter() - clock
        if progress:
            progress("features", report.kept)
    finally:
        for df in cached:
            with contextlib.suppress(Exception):  # never mask the error that got us here
                df.unpersist()
    return finish_features(
        features,
        parts if coordination else None,
        accounts=table,
        context=context,
        report=report,
        topic_model=topic_model,
        n_buckets=n_buckets,
        timings=timings,
        engine="spark",
        spark_master=spark_master,
        substreams=substreams,
    )


def _reconcile(
    report: IngestReport,
    summary: pd.DataFrame,
    files: Sequence[LogFile],
    parquet_rows: Mapping[int, int],
) -> int:
    """Fill the report's counts from the stage summary; returns the valid (pre-dedupe) rows.

    Also the per-file checks the local readers make while reading: a JSON Lines file
    without a required column is an error, and Spark must have read every row a
    Parquet footer announces.
    """
    meta = summary[summary["_state"] == STATE_META]
    bad = summary[summary["_state"] == STATE_QUARANTINED]
    good = summary[summary["_state"] == STATE_KEPT]
    report.read = int(meta["n"].sum() - meta["o"].sum())
    report.outside_window = int(meta["o"].sum())
    report.quarantined = int(bad["rows"].sum())
    for reason, count in bad.groupby("_reason")["rows"].sum().items():
        report.reasons[str(reason)] += int(count)
    seen_by_file: dict[int, set[str]] = {}
    rows_by_file: dict[int, int] = {}
    for f, reason, n in zip(meta["_f"], meta["_reason"], meta["n"], strict=True):
        cols = {c for c in str(reason or "").split(",") if c}
        seen_by_file.setdefault(int(f), set()).update(cols)
        rows_by_file[int(f)] = rows_by_file.get(int(f), 0) + int(n)
        report.present_optional.update(c for c in cols if c in S.OPTIONAL)
    for i, cols in sorted(seen_by_file.items()):
        if files[i].fmt == "jsonl":
            any_columns = bool(meta.loc[meta["_f"] == i, "ncols"].max())
            if any_columns:
                check_header(files[i], sorted(cols))
    for i, expected in parquet_rows.items():
        if rows_by_file.get(i, 0) != expected:
            raise RuntimeError(
                f"{files[i].path}: Spark read {rows_by_file.get(i, 0):,} rows, the file holds "
                f"{expected:,} (a file Spark skips, e.g. a name starting with '.' or '_')"
            )
    return int(good["rows"].sum())


# --- scoring --------------------------------------------------------------------------------------


def score_frame_spark(
    model: AnomalyModel,
    features: pd.DataFrame,
    *,
    threshold: float | None = None,
    budget: str | int | None = None,
    explain_top: int | None = None,
    n_reasons: int = DEFAULT.n_reasons,
    spark_master: str = "local[*]",
    spark_conf: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """:func:`detector.scored.score_frame` with the per-account work in Spark tasks.

    The model is broadcast once; pass 1 scores every account (the forests), the driver
    ranks and thresholds (one float per account), pass 2 writes every account's
    reasons (forest attribution for the flagged and top-ranked, as locally). Returns
    the same table as the local method.
    """
    from detector import explain
    from detector.model import SCORE_DECIMALS, alert_cut, rank_accounts, score_table

    if threshold is not None and budget is not None:
        raise ValueError("give either an alert threshold or an alert budget, not both")
    if explain_top is None:
        explain_top = explain.DEFAULT_EXPLAIN_TOP
    ids, values = model.feature_values(features)
    n = len(ids)
    spark = get_spark(spark_master, spark_conf)
    sc = spark.sparkContext
    cols = [f"v{j}" for j in range(values.shape[1])]
    frame = pd.DataFrame(values, columns=cols)
    frame.insert(0, "_pos", np.arange(n, dtype=np.int64))
    slices = max(1, min(sc.defaultParallelism * 2, math.ceil(n / 2_000)))
    from pyspark import StorageLevel

    sdf = spark.createDataFrame(frame).repartition(slices).persist(StorageLevel.MEMORY_AND_DISK)
    b_model = sc.broadcast(model)
    b_rows = None
    try:

        def scores_of(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            m = b_model.value
            for pdf in batches:
                raw = m.raw_scores_from_values(pdf[cols].to_numpy(dtype=np.float64))
                score = np.round(m.calibrate(raw), SCORE_DECIMALS)
                yield pd.DataFrame({"_pos": pdf["_pos"].to_numpy(), "score": score})

        got = _run(
            "score accounts",
            lambda: sdf.mapInPandas(scores_of, "_pos long, score double").toArrow(),
            spark,
        )
        scores = np.empty(n, dtype=np.float64)
        scores[got.column("_pos").to_numpy()] = got.column("score").to_numpy()
        cut = alert_cut(scores, threshold=threshold, budget=budget, default=model.threshold_)
        flagged = scores >= cut
        ranks = rank_accounts(scores, ids)
        forest_rows = flagged | (ranks <= explain_top)
        b_rows = sc.broadcast(forest_rows)
        rows_bc = b_rows

        def reasons_of(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            m = b_model.value
            chosen = rows_bc.value
            for pdf in batches:
                pos = pdf["_pos"].to_numpy()
                text = explain.reason_strings_for_values(
                    m,
                    pdf[cols].to_numpy(dtype=np.float64),
                    forest_rows=chosen[pos],
                    n_reasons=n_reasons,
                )
                yield pd.DataFrame({"_pos": pos, "reasons": text})

        got = _run(
            "explain scores",
            lambda: sdf.mapInPandas(reasons_of, "_pos long, reasons string").toArrow(),
            spark,
        )
        reasons = np.empty(n, dtype=object)
        reasons[got.column("_pos").to_numpy()] = np.asarray(
            got.column("reasons").to_pylist(), dtype=object
        )
    finally:
        with contextlib.suppress(Exception):  # never mask the error that got us here
            sdf.unpersist()
            b_model.destroy()
            if b_rows is not None:
                b_rows.destroy()
    return score_table(ids, scores, ranks, flagged, reasons)


def write_scores_parquet_spark(
    scores: pd.DataFrame,
    path: str,
    *,
    spark_master: str = "local[*]",
    spark_conf: Mapping[str, str] | None = None,
) -> str:
    """Write the score table with Spark (a directory of part files); returns ``path``."""
    spark = get_spark(spark_master, spark_conf)
    target = path
    if "://" not in path and spark_master.startswith("local"):
        target = "file://" + str(Path(path).resolve())
    frame = scores.copy()
    for c in frame.columns:
        if frame[c].dtype == object:
            frame[c] = frame[c].astype(str)
    _run(
        "write scores as Parquet",
        lambda: spark.createDataFrame(frame).coalesce(1).write.mode("overwrite").parquet(target),
        spark,
    )
    return path
