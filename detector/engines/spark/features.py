"""The Spark engine's driver for ``build_features``: the stages in order.

1. **Read, validate, annotate** (:mod:`~detector.engines.spark.staging`, planned by
   :mod:`~detector.engines.spark.readplan`): one cached table of kept, quarantined and
   meta rows; its summary fills the ingest report
   (:mod:`~detector.engines.spark.ingest_report`).
2. **Dedupe** by ``request_id`` (:mod:`~detector.engines.spark.dedupe`), keeping the
   first row in file order: a window over the slim ``(request_id, account_id,
   position)`` columns only; a later row is a duplicate when its account kept the id,
   else it reuses another account's id and is quarantined, as locally. The later rows
   are anti-joined away.
3. **Quarantine** rows (reused ids among them) are collected in file order and written
   with the project's writer.
4. **Population facts** (window, models' first appearance and row counts) are one
   Spark aggregation; the topic model is fitted on the driver on the same first chunk
   the local engine fits on (``Config.topic_fit_rows`` rows).
5. **Features** (:mod:`~detector.engines.spark.buckets`): every account's rows in one
   task, one row per account, its evidence keys and sub-streams back to the driver.
6. **Linking** and the result are :func:`detector.pipeline.finish_features`, as in the
   local engine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from detector import annotate as A
from detector import schema as S
from detector.config import DEFAULT, Config
from detector.engines.spark.buckets import (
    BUCKETS_PER_PARTITION,
    BucketPlan,
    bucket_schema,
    bucket_task,
    parts_from,
    substreams_from,
)
from detector.engines.spark.dedupe import dedupe, reused_text
from detector.engines.spark.ingest_report import reconcile, record_dedupe, record_quarantine
from detector.engines.spark.layout import annotated_layout
from detector.engines.spark.readplan import norm_path, plan_groups, read_group
from detector.engines.spark.session import get_spark, run_job
from detector.engines.spark.staging import (
    MODEL_COLUMN,
    POSITION,
    StagePlan,
    arrow_schema,
    stage_schema,
    stage_task,
)
from detector.features import FAMILIES, active_specs
from detector.ingest import (
    IngestReport,
    account_table,
    list_log,
    log_span,
    nothing_to_score,
    time_bounds,
)
from detector.pipeline import (
    FeatureResult,
    Progress,
    finish_features,
    population_context,
)
from detector.topic_fit import fit_log_topics
from detector.topics import TopicModel

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["build_features_spark"]


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
    from pyspark.sql import functions as F

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    table = account_table(accounts)
    report = IngestReport()
    listing = list_log(log, start=start, end=end)
    files = listing.files
    report.files = [str(f.path) for f in files]
    report.pruned_files, report.ignored_files = listing.pruned, listing.ignored
    report.empty_files = listing.empty
    # a flat log's span, as the local read finds it (hive logs are not scanned)
    span, warning = log_span(files, start, end, config)
    if warning:
        report.warnings.append(f"{log}: {warning}")
    groups, parquet_rows = plan_groups(files)
    if topic_model is None and fit_topics:
        # only the log's first chunk with prompts is read: the local engine's sample
        topic_model = fit_log_topics(log, start=start, end=end, config=config)
    timings["plan_and_topic_model"] = time.perf_counter() - clock

    clock = time.perf_counter()
    spark = get_spark(spark_master, spark_conf)
    timings["spark_session"] = time.perf_counter() - clock

    schema = stage_schema()
    plan = StagePlan(
        paths={norm_path(str(f.path.resolve())): i for i, f in enumerate(files)},
        bounds={i: time_bounds(f, start, end, config, span) for i, f in enumerate(files)},
        config=config,
        topic_model=topic_model,
        out_schema=arrow_schema(spark, schema),
    )
    cached: list[DataFrame] = []
    try:
        # 1. read, validate, annotate: one cached table of kept/quarantined/meta rows
        clock = time.perf_counter()
        staged_parts = []
        for group in groups:
            raw = read_group(spark, group)
            staged_parts.append(raw.mapInArrow(stage_task(group, plan), schema))
        if not staged_parts:
            raise nothing_to_score(log, report)  # no file to read: both counts are 0
        staged = functools.reduce(lambda a, b: a.unionByName(b), staged_parts)
        staged = staged.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(staged)
        summary = run_job(
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
        candidates = reconcile(report, summary, files, parquet_rows)

        # 2. dedupe: the first row of each request_id in file order wins; a later one
        # is a duplicate when the same account kept the id, else quarantined
        clock = time.perf_counter()
        deduped = dedupe(spark, staged)
        cached += deduped.cached
        record_dedupe(report, candidates, deduped)
        kept = deduped.kept
        timings["dedupe"] = time.perf_counter() - clock

        # 3. quarantine: few rows by nature, collected in file order
        clock = time.perf_counter()
        record_quarantine(
            spark,
            staged,
            deduped.reused,
            report,
            files,
            quarantine_path,
            functools.partial(reused_text, spark, groups, plan),
        )
        timings["quarantine"] = time.perf_counter() - clock
        if progress:
            progress("ingest", report.kept)
        if report.kept == 0:
            raise nothing_to_score(log, report)

        # 4. population facts: one aggregation, one row per model name
        clock = time.perf_counter()
        models = run_job(
            "aggregate the population window and models",
            lambda: (
                kept.groupBy(MODEL_COLUMN)
                .agg(
                    F.min(A.TS).alias("first"),
                    F.max(A.TS).alias("last"),
                    F.count(F.lit(1)).alias("rows"),
                )
                .collect()
            ),
            spark,
        )
        model_first = {r[MODEL_COLUMN]: int(r["first"]) for r in models}
        model_rows = {r[MODEL_COLUMN]: int(r["rows"]) for r in models}
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
                BUCKETS_PER_PARTITION * partitions,
                math.ceil(report.kept / max(config.bucket_target_rows, 1)),
            )
        bplan = BucketPlan(
            context=context,
            feature_names=names,
            coordination=coordination,
        )
        bucketed = kept.select(
            F.pmod(F.xxhash64(S.ACCOUNT_ID), F.lit(n_buckets)).cast("int").alias("_bucket"),
            *POSITION,
            *(c for c, _ in annotated_layout()),
        )
        out = bucketed.groupBy("_bucket").applyInPandas(bucket_task(bplan), bucket_schema(names))
        collected = run_job("compute per-account features", out.toArrow, spark)
        features, parts = parts_from(collected, bplan)
        substreams = substreams_from(collected, bplan)
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
        spark_master=spark.sparkContext.master,  # the session's, as submitted
        substreams=substreams,
    )
