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
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from detector import annotate as A
from detector import schema as S
from detector.buckets import Buckets
from detector.config import DEFAULT, Config
from detector.coordination import Clusters, bucket_evidence, link_accounts
from detector.features import Context, active_specs, compute_bucket, frontier_models
from detector.ingest import IngestReport, discover, iter_clean, nothing_to_score, read_accounts
from detector.promptmemo import PromptMemo
from detector.substreams import SubStreams, compute_substreams, parent_columns
from detector.topics import TopicModel, fit_topic_model

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


def topic_sample(frame: pd.DataFrame, config: Config) -> pa.Array:
    """A deterministic, evenly strided sample of prompt windows to fit topics on."""
    prompts = frame[S.PROMPT]
    step = max(1, len(prompts) // max(config.topic_sample_rows, 1))
    return A.topic_text(A.prompt_window(A.as_arrow(prompts.iloc[::step]), config))


def topic_model_of(chunk: pd.DataFrame, config: Config) -> TopicModel | None:
    """The topic model fitted on a clean chunk's prompt sample, ``None`` when it has no
    prompts. Every engine fits on the first chunk where it is not ``None``
    (:func:`first_topic_model`), so topic ids agree between engines."""
    if S.PROMPT not in chunk.columns:
        return None
    sample = topic_sample(chunk, config)
    return fit_topic_model(sample, config) if len(sample) else None


class TopicModelFit:
    """A topic model being fitted on a thread of its own while the workers annotate.

    Annotating a chunk needs the topic model at its last step only (topic assignment),
    so the workers start on the first chunks at once and wait for the fit, if at all,
    there: the fit (seconds, a fixed cost) overlaps their flags, hashes and templates
    instead of holding them up. It is the model :func:`topic_model_of` fits (the same
    sample of the same chunk, the same seed), so every topic is the same.
    """

    def __init__(self, pool: ThreadPoolExecutor, sample: pa.Array, config: Config) -> None:
        self._future = pool.submit(fit_topic_model, sample, config)

    def assign(self, texts: pa.Array) -> np.ndarray:
        """:meth:`TopicModel.assign` of the fitted model (waits for the fit)."""
        return self.result().assign(texts)

    def result(self) -> TopicModel:
        """The fitted model (waits for the fit; raises what the fit raised)."""
        return self._future.result()


def start_topic_fit(
    chunk: pd.DataFrame, config: Config, pool: ThreadPoolExecutor
) -> TopicModelFit | None:
    """:func:`topic_model_of` ``chunk``, fitted on ``pool``; ``None`` when it has no prompts."""
    if S.PROMPT not in chunk.columns:
        return None
    sample = topic_sample(chunk, config)
    return TopicModelFit(pool, sample, config) if len(sample) else None


def first_topic_model(chunks: Iterable[pd.DataFrame], config: Config) -> TopicModel | None:
    """The topic model of the first of ``chunks`` (clean chunks in log order) that has
    prompts: the model :func:`build_features` fits while it streams the log, for an
    engine that reads the log otherwise (Spark reads only that first chunk for it)."""
    for chunk in chunks:
        model = topic_model_of(chunk, config)
        if model is not None:
            return model
    return None


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
) -> FeatureResult:
    """Read ``log`` and return one feature row per account.

    Parameters
    ----------
    topic_model : a fitted topic model (from a model bundle) to assign topics with;
        when ``None`` and ``fit_topics``, one is fitted on a sample of the first chunk.
    coordination : link accounts into clusters and add the cluster features (the
        clusters are the result's ``clusters``).
    """
    report = IngestReport()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    table = read_accounts(accounts) if isinstance(accounts, (str, Path)) else accounts
    n_buckets = max(1, math.ceil(estimate_rows(log, start, end) / config.bucket_target_rows))
    buckets = Buckets(n_buckets)
    model_first: dict[str, int] = {}
    model_rows: dict[str, int] = {}
    t_min, t_max = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    try:
        # annotation (Arrow kernels, numpy) mostly releases the GIL: annotate the next
        # chunks on worker threads while this thread reads; results are consumed in
        # order, so the output never depends on thread timing
        pending: deque[Future[pd.DataFrame]] = deque()

        def consume(ann: pd.DataFrame) -> None:
            nonlocal t_min, t_max
            t_min = min(t_min, int(ann[A.TS].min()))
            t_max = max(t_max, int(ann[A.TS].max()))
            buckets.add(ann)
            if progress:
                progress("ingest", len(ann))

        # the topic model is fitted on its own thread (see TopicModelFit): a pool of
        # its own, so a worker waiting for it never holds up the fit
        fitting: TopicModelFit | None = None
        # prompts seen in earlier chunks are looked up, not annotated again
        memo = PromptMemo(config.prompt_memo_entries)
        with (
            ThreadPoolExecutor(max_workers=config.workers) as pool,
            ThreadPoolExecutor(max_workers=1) as fit_pool,
        ):
            for chunk in iter_clean(
                log,
                start=start,
                end=end,
                config=config,
                quarantine_path=quarantine_path,
                report=report,
            ):
                if topic_model is None and fitting is None and fit_topics:
                    fitting = start_topic_fit(chunk, config, fit_pool)
                _model_stats(chunk, model_first, model_rows)
                model = topic_model if topic_model is not None else fitting
                pending.append(
                    pool.submit(A.annotate, chunk, config=config, topic_model=model, memo=memo)
                )
                while len(pending) >= config.workers:
                    consume(pending.popleft().result())
            while pending:
                consume(pending.popleft().result())
            if fitting is not None:
                topic_model = fitting.result()
        timings["read_validate_annotate"] = time.perf_counter() - clock
        if report.kept == 0:
            raise nothing_to_score(log, report)
        context = population_context(
            model_first, model_rows, t_min, t_max, report=report, accounts=table, config=config
        )
        parts, evidence, subs = [], [], []
        clock = time.perf_counter()
        sub_seconds = 0.0
        for frame in buckets:
            parts.append(compute_bucket(frame, context))
            sub_clock = time.perf_counter()
            subs.append(compute_substreams(frame, context))
            sub_seconds += time.perf_counter() - sub_clock
            if coordination:
                evidence.append(bucket_evidence(frame, context))
            if progress:
                progress("features", len(frame))
        timings["features"] = time.perf_counter() - clock
        timings["substreams"] = sub_seconds  # part of "features"
    finally:
        buckets.close()
    features = pd.concat(parts).sort_index() if parts else pd.DataFrame()
    return finish_features(
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
    specs, omitted = active_specs(context)
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
    present = set(S.REQUIRED) | report.present_optional
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


def _model_stats(chunk: pd.DataFrame, first: dict[str, int], rows: dict[str, int]) -> None:
    """Fold a chunk's per-model first request time and row count into the totals."""
    secs = chunk[S.TIMESTAMP].astype("int64") // 1_000_000_000
    stats = secs.groupby(chunk[S.MODEL], sort=False, observed=True).agg(["min", "size"])
    for name, row in stats.iterrows():  # one row per model name, not per request
        first[name] = min(first.get(name, int(row["min"])), int(row["min"]))
        rows[name] = rows.get(name, 0) + int(row["size"])


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
