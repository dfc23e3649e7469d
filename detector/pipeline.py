"""Log → per-account feature table, in bounded memory.

Pass 1 streams the log chunk by chunk (ingest → annotate), collects the small
population facts the features need (time window, models' first appearance, a prompt
sample for the topic model), and routes each annotated chunk to an account-hash
bucket: kept in memory when the whole log fits one bucket, otherwise spilled to a
temporary Parquet file per bucket. Pass 2 computes the features bucket by bucket
with the pure :func:`detector.features.compute_bucket`, so peak memory depends on the
bucket size (``Config.bucket_target_rows``), not on the size of the log.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from detector import schema as S
from detector.buckets import Buckets
from detector.config import DEFAULT, Config
from detector.coordination import Clusters, bucket_evidence, link_accounts
from detector.features import Context, active_specs, compute_bucket, frontier_models
from detector.first_pass import first_pass
from detector.ingest import (
    IngestReport,
    account_table,
    check_account_overlap,
    discover,
    nothing_to_score,
)
from detector.ordered import in_order
from detector.substreams import SubStreams, compute_substreams, parent_columns
from detector.topics import TopicModel

# a newly released model must first appear this long after the window starts
NEW_MODEL_MIN_OFFSET_S = 86_400
NEW_MODEL_MIN_SHARE = 0.005

Progress = Callable[[str, int], None]


@dataclass
class FeatureResult:
    """A feature table and everything needed to explain how it was made."""

    features: pd.DataFrame
    report: IngestReport
    context: Context
    omitted: dict[str, str]
    topic_model: TopicModel | None
    n_buckets: int
    clusters: Clusters | None = None
    """The coordination clusters the accounts were linked into (``None`` when the run
    skipped coordination); their features are already columns of ``features``."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step (``read_validate_annotate``, ``features``, ``substreams``,
    ``coordination``), for :meth:`metadata` and the benchmarks."""
    engine: str = "local"
    """The engine that built the table (``local`` or ``spark``)."""
    spark_master: str | None = None
    """The Spark master URL, when ``engine`` is ``spark``."""
    substreams: SubStreams = field(default_factory=SubStreams.empty)
    """The accounts' qualifying sub-streams, same columns as ``features``
    (:mod:`detector.substreams`); scored beside the accounts, never output as accounts."""
    annotation_cache: dict[str, int] | None = None
    """With an annotation cache: files ``replayed`` from it and files ``read``."""

    @property
    def window(self) -> tuple[str, str]:
        """First and last request time as ISO strings."""
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        start = dt.datetime.fromtimestamp(self.context.window_start, dt.UTC).strftime(fmt)
        end = dt.datetime.fromtimestamp(self.context.window_end, dt.UTC).strftime(fmt)
        return start, end

    def metadata(self) -> dict[str, Any]:
        """JSON-able description: window, omitted features and why, ingest counts."""
        start, end = self.window
        return {
            "window_start": start,
            "window_end": end,
            "accounts": len(self.features),
            "features": list(self.features.columns),
            "omitted_features": self.omitted,
            "newest_model": self.context.newest_model,
            "frontier_models": sorted(self.context.frontier_models),
            "ingest": self.report.to_dict(),
            "buckets": self.n_buckets,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            **({"annotation_cache": self.annotation_cache} if self.annotation_cache else {}),
        }


def estimate_rows(paths: Path | Sequence[Path], start: dt.date | None, end: dt.date | None) -> int:
    """Rows in the log: exact for Parquet (footer metadata), from file size otherwise."""
    files, _ = discover(paths, start=start, end=end)
    rows = 0
    for f in files:
        if f.fmt == "parquet":
            try:
                rows += pq.ParquetFile(f.path).metadata.num_rows
            except Exception:  # unreadable files are reported by ingest itself
                continue
        else:
            # assume ~150 bytes per row (gzip ~6x): errs towards more buckets, which is safe
            rows += f.path.stat().st_size * (6 if f.gzipped else 1) // 150
    return rows


@dataclass
class BucketOutput:
    """What one bucket of the log gives: its accounts' features, their sub-streams and
    (unless skipped) its coordination evidence."""

    features: pd.DataFrame
    substreams: SubStreams
    evidence: dict[str, Any] | None
    rows: int
    substream_seconds: float


def bucket_output(frame: pd.DataFrame, context: Context, coordination: bool) -> BucketOutput:
    """The per-bucket stage: pure, so buckets can run on any thread in any order."""
    features = compute_bucket(frame, context)
    clock = time.perf_counter()
    subs = compute_substreams(frame, context)
    seconds = time.perf_counter() - clock
    evidence = bucket_evidence(frame, context) if coordination else None
    return BucketOutput(features, subs, evidence, len(frame), seconds)


def build_features(
    log: Path | Sequence[Path],
    *,
    accounts: Path | pd.DataFrame | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    topic_model: TopicModel | None = None,
    fit_topics: bool = True,
    quarantine_path: Path | None = None,
    progress: Progress | None = None,
    coordination: bool = True,
    cache_dir: Path | None = None,
) -> FeatureResult:
    """Read ``log`` and return one feature row per account.

    Parameters
    ----------
    topic_model : a fitted topic model (from a model bundle) to assign topics with;
        when ``None`` and ``fit_topics``, one is fitted on a sample of the log's
        first chunk with prompts (:mod:`detector.topic_fit`).
    coordination : link accounts into clusters and add the cluster features (the
        clusters are the result's ``clusters``).
    cache_dir : an annotation cache (:mod:`detector.annotation_cache`): files annotated
        there by an earlier run are replayed instead of read, and files read now are
        kept there (the nightly job's ``STATE/cache/annotated``).
    """
    report = IngestReport()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    table = account_table(accounts)
    n_buckets = max(1, math.ceil(estimate_rows(log, start, end) / config.bucket_target_rows))
    buckets = Buckets(n_buckets)
    try:
        first = first_pass(
            log,
            buckets,
            report,
            start=start,
            end=end,
            config=config,
            topic_model=topic_model,
            fit_topics=fit_topics,
            quarantine_path=quarantine_path,
            cache_dir=cache_dir,
            progress=progress,
        )
        topic_model = first.topic_model
        timings["read_validate_annotate"] = time.perf_counter() - clock
        if report.kept == 0:
            raise nothing_to_score(log, report)
        context = population_context(
            {name: v[0] for name, v in first.models.items()},
            {name: v[1] for name, v in first.models.items()},
            first.t_min,
            first.t_max,
            report=report,
            accounts=table,
            config=config,
        )
        parts, evidence, subs = [], [], []
        clock = time.perf_counter()
        sub_seconds = 0.0
        # buckets are independent (every account's rows are in one): two at a time on
        # the workers while this thread reads the next, consumed in bucket order
        with ThreadPoolExecutor(max_workers=config.workers) as pool:
            for out in in_order(
                pool, lambda f: bucket_output(f, context, coordination), buckets, config.workers
            ):
                parts.append(out.features)
                subs.append(out.substreams)
                sub_seconds += out.substream_seconds
                if out.evidence is not None:
                    evidence.append(out.evidence)
                if progress:
                    progress("features", out.rows)
        timings["features"] = time.perf_counter() - clock
        timings["substreams"] = sub_seconds  # part of "features"
    finally:
        buckets.close()
    features = pd.concat(parts).sort_index() if parts else pd.DataFrame()
    result = finish_features(
        features,
        evidence if coordination else None,
        accounts=table,
        context=context,
        report=report,
        topic_model=topic_model,
        n_buckets=n_buckets,
        timings=timings,
        substreams=SubStreams.concat(subs),
    )
    result.annotation_cache = first.annotation_cache
    return result


def finish_features(
    features: pd.DataFrame,
    evidence: list[dict[str, Any]] | None,
    *,
    accounts: pd.DataFrame | None,
    context: Context,
    report: IngestReport,
    topic_model: TopicModel | None,
    n_buckets: int,
    timings: dict[str, float],
    engine: str = "local",
    spark_master: str | None = None,
    substreams: SubStreams | None = None,
) -> FeatureResult:
    """The cross-bucket end of every engine: link accounts, order the catalogue's columns.

    ``evidence`` is the per-bucket output of ``bucket_evidence`` (``None`` to skip
    coordination); ``timings`` (seconds per step so far) gets the linking time.
    ``engine`` and ``spark_master`` say where the table was built.
    ``substreams`` (the per-bucket :func:`compute_substreams`, concatenated) get their
    parent account's coordination features and the same column order.
    """
    if accounts is not None:
        check_account_overlap(accounts, features.index)
    specs, omitted = active_specs(context, report.missing_optional_notes)
    subs = substreams if substreams is not None else SubStreams.empty()
    clusters = None
    if evidence is not None:
        clock = time.perf_counter()
        clusters = link_accounts(evidence, accounts=accounts, context=context, features=features)
        features = features.join(clusters.features)
        timings["coordination"] = time.perf_counter() - clock
    features = features[[s.name for s in specs if s.name in features.columns]]
    subs = subs.with_parent_columns(features, parent_columns(features.columns)).ordered(
        list(features.columns)
    )
    return FeatureResult(
        features=features,
        report=report,
        context=context,
        omitted=omitted,
        topic_model=topic_model,
        n_buckets=n_buckets,
        clusters=clusters,
        timings=timings,
        engine=engine,
        spark_master=spark_master,
        substreams=subs,
    )


def population_context(
    model_first: dict[str, int],
    model_rows: dict[str, int],
    t_min: int,
    t_max: int,
    *,
    report: IngestReport,
    accounts: pd.DataFrame | None,
    config: Config,
) -> Context:
    """The population facts every engine gathers in its first pass, as a Context."""
    # a column some files lack is missing for the whole log (IngestReport.missing_optional)
    present = set(S.REQUIRED) | (set(S.OPTIONAL) - set(report.missing_optional))
    if accounts is not None:
        present |= set(accounts.columns) & set(S.ACCOUNT_COLUMNS)
    newest, newest_ts = _newest_model(model_first, model_rows, t_min)
    return Context(
        window_start=t_min,
        window_end=t_max,
        present=frozenset(present),
        newest_model=newest,
        newest_model_first_ts=newest_ts,
        frontier_models=frontier_models(model_first, config.frontier_model_pattern),
        accounts=accounts,
        config=config,
    )


def _newest_model(
    first: dict[str, int], rows: dict[str, int], window_start: int
) -> tuple[str | None, int | None]:
    """The model released inside the window: first seen latest, after the first day,
    and carrying a non-trivial share of traffic."""
    total = sum(rows.values()) or 1
    candidates = [
        (ts, name)
        for name, ts in first.items()
        if ts >= window_start + NEW_MODEL_MIN_OFFSET_S and rows[name] / total >= NEW_MODEL_MIN_SHARE
    ]
    if not candidates:
        return None, None
    ts, name = max(candidates)
    return name, int(ts)
