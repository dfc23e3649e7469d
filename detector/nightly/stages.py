"""The stages of one nightly run, up to its commit, and what they share.

window -> model -> (train) -> score -> drift -> scores.csv and sidecars -> alerts ->
report -> summary.json: every output goes into the run's staging directory, which is
synced at the end; the store is only read. :func:`stage_night` returns the
:class:`~detector.nightly.publish.StagedNight` the runner commits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from detector import schema as S
from detector.artifacts import BundleError, load_bundle
from detector.faults import checkpoint
from detector.ingest import read_account_rows
from detector.ingest.tables import read_accounts
from detector.nightly import alerts as alerting
from detector.nightly.drift import drift_figures
from detector.nightly.inputs import NightlyOptions, Window, check_window, day_ranges
from detector.nightly.layout import (
    ALERTS_NAME,
    QUARANTINE_NAME,
    REPORT_NAME,
    RUNS_DIR,
    SCORES_NAME,
    SUMMARY_NAME,
)
from detector.nightly.log import StageLog, StageTimer
from detector.nightly.models import (
    ChosenModel,
    check_loaded,
    choose_model,
    confirmed_extraction,
    topics_to_keep,
    train_model,
)
from detector.nightly.publish import StagedNight, staging_dir, sync_tree
from detector.nightly.remembered import RememberedInputs, reduced_features
from detector.nightly.summary import NightlySummary
from detector.safe import atomic_write_text
from detector.scoring import ScoreResult, score, score_features, write_scores
from detector.store import RUN_OK, Store
from detector.verdicts import current_verdicts

__all__ = ["RunContext", "load_report_writer", "stage_night"]

REPORT_UNAVAILABLE = "unavailable"
REPORT_WRITTEN = "written"
SUMMARY_INGEST_KEYS = (
    "read",
    "kept",
    "duplicates",
    "quarantined",
    "reconciles",
    "files",
    "quarantine_reasons",
    "quarantine_file",
    "missing_optional_columns",
)


def load_report_writer() -> Callable[..., Any] | None:
    """``detector.report.write_report``, or ``None`` when that module is not installed."""
    try:
        from detector.report import write_report
    except ImportError:
        return None
    return write_report


@dataclass
class RunContext:
    """What the stages of one run share."""

    options: NightlyOptions
    store: Store
    run_id: int
    log: StageLog
    timer: StageTimer
    started_at: str
    inputs: RememberedInputs | None = None
    """Where the remembered inputs (the account table) came from; recorded at the commit."""
    trained: list[ChosenModel] = field(default_factory=list)
    """Models trained so far: discarded again if the run fails before its commit."""

    @property
    def staged(self) -> Path:
        """The staging directory of this run's outputs."""
        return staging_dir(self.options.state / RUNS_DIR, self.options.date, self.run_id)


def stage_night(ctx: RunContext) -> StagedNight:
    """The stages up to the commit: every output goes into the staging directory."""
    options, log, timer = ctx.options, ctx.log, ctx.timer
    with timer.stage("window"):
        window = check_window(options.logs, options.date, options.window_days)
    window.require_complete(options.logs, options.allow_missing)
    missing = day_ranges(window.missing) if window.missing else ""
    if missing:
        log.warn(f"scoring without {len(window.missing)} missing day(s): {missing}")
    log.stage(
        "window",
        start=window.start.isoformat(),
        end=window.end.isoformat(),
        days=len(window.days),
        missing=missing or [],
        files=window.files,
        seconds=timer.last("window"),
    )
    checkpoint("window")
    ctx.staged.mkdir(parents=True)
    suppressed = ctx.store.active_suppressions(options.date)
    model, scored, drift = _model_and_scores(ctx, window, suppressed)
    return _write_outputs(ctx, window, suppressed, model, scored, drift)


def _model_and_scores(
    ctx: RunContext, window: Window, suppressed: set[str]
) -> tuple[ChosenModel, ScoreResult, dict[str, Any]]:
    """Choose (or train) the model, score the window, measure drift (and retrain on it)."""
    options, log, timer, store = ctx.options, ctx.log, ctx.timer, ctx.store
    exclude = confirmed_extraction(store)
    verdicts = current_verdicts(
        store, on=options.date, max_age_days=options.config.verdict_max_age_days
    )
    quarantine = ctx.staged / QUARANTINE_NAME

    def retrain(reason: str, *, refit: str | None) -> ChosenModel:
        """Train tonight; ``refit``: why the topic model is fitted anew (``None``: keep a
        recent one, :func:`topics_to_keep`)."""
        with timer.stage("train"):
            if refit is not None:
                topics, topics_note = None, f"refit: {refit}"
            else:
                topics, topics_note = topics_to_keep(store, options, window)
            model = train_model(
                options,
                window,
                exclude=exclude,
                reason=reason,
                quarantine=quarantine,
                labels=verdicts,
                topic_model=topics,
                topics=topics_note,
            )
        ctx.trained.append(model)
        checkpoint("trained")
        log.stage(
            "train",
            version=model.version,
            reason=reason,
            topics=model.topics,
            accounts=model.training_accounts,
            excluded=model.excluded,
            seconds=timer.last("train"),
        )
        return model

    with timer.stage("model"):
        model, reason = choose_model(store, options, log.warn)
    log.stage(
        "model",
        action="train" if model is None else "reuse",
        version=None if model is None else model.version,
        reason=reason or (model.reason if model else ""),
        seconds=timer.last("model"),
    )
    if model is None:
        model = retrain(reason, refit="--refit-topics" if options.refit_topics else None)
    try:
        scored = _score(ctx, model, window, suppressed)
    except BundleError as exc:
        if model.trained:
            raise
        unusable = f"model {model.version} unusable: {exc}"
        model = retrain(unusable, refit=unusable)
        scored = _score(ctx, model, window, suppressed)
    checkpoint("scored")

    with timer.stage("drift"):
        drift = drift_figures(model.path, model.version, scored.result.features)
    drift["threshold"] = options.psi_threshold
    drift["triggered_retrain"] = False
    max_psi = drift["max_psi"]
    log.stage(
        "drift",
        model=model.version,
        max_psi=max_psi,
        feature=drift["top"][0]["feature"] if drift["top"] else None,
        threshold=options.psi_threshold,
        seconds=timer.last("drift"),
    )
    drifted = max_psi is not None and max_psi > options.psi_threshold
    if drifted and not model.trained and not model.reused_for_date:
        top = drift["top"][0]["feature"]
        drifted_from = (
            f"drift: max PSI {max_psi:.3f} ({top}) > {options.psi_threshold:g} against "
            f"{drift['model_version']}"
        )
        model = retrain(drifted_from, refit=drifted_from)
        scored = _score(ctx, model, window, suppressed)
        drift["triggered_retrain"] = True
        after = drift_figures(model.path, model.version, scored.result.features)
        drift["after_retrain"] = {"model_version": model.version, "max_psi": after["max_psi"]}
    checkpoint("drift")
    return model, scored, drift


def _score(
    ctx: RunContext, model: ChosenModel, window: Window, suppressed: set[str]
) -> ScoreResult:
    """Score the window; split the time into ingest, features and scoring; log them."""
    options, timer = ctx.options, ctx.timer
    marks: dict[str, float] = {}
    start = time.perf_counter()
    if model.features is not None:
        # just trained on this window: its features are the ones scoring would rebuild;
        # reading and features were timed inside the "train" stage
        scored = score_features(
            model.features,
            load_bundle(model.path),
            model_path=model.path,
            log=options.logs,
            config=options.config,
            budget=options.alert_budget,
            suppressed=suppressed,
            engine=options.engine,
            spark=options.spark,
        )
        timer.add("ingest", 0.0)
        timer.add("features", 0.0)
        timer.add("score", time.perf_counter() - start)
    else:
        scored = score(
            options.logs,
            model.path,
            accounts=options.accounts,
            start=window.start,
            end=window.end,
            config=options.config,
            budget=options.alert_budget,
            suppressed=suppressed,
            quarantine_path=ctx.staged / QUARANTINE_NAME,
            progress=lambda stage, rows: marks.__setitem__(stage, time.perf_counter()),
            engine=options.engine,
            spark=options.spark,
            cache_dir=options.cache_dir,
        )
        ingest_end = marks.get("ingest", start)
        features_end = max(marks.get("features", ingest_end), ingest_end)
        timer.add("ingest", ingest_end - start)
        timer.add("features", features_end - ingest_end)
        timer.add("score", time.perf_counter() - features_end)
    check_loaded(scored.bundle.manifest, model)
    report = scored.result.report
    ctx.log.stage(
        "ingest",
        rows=report.read,
        kept=report.kept,
        duplicates=report.duplicates,
        quarantined=report.quarantined,
        **cache_figures(scored),
        seconds=timer.last("ingest"),
    )
    ctx.log.stage("features", accounts=len(scored.result.features), seconds=timer.last("features"))
    ctx.log.stage(
        "score",
        model=model.version,
        accounts=len(scored.scores),
        flagged=int(scored.scores[S.FLAGGED].sum()),
        seconds=timer.last("score"),
    )
    return scored


def cache_figures(scored: ScoreResult) -> dict[str, int]:
    """Files of the window replayed from the annotation cache and files read (empty
    without the cache)."""
    cache = scored.result.annotation_cache
    return (
        {} if cache is None else {"files_replayed": cache["replayed"], "files_read": cache["read"]}
    )


def _log_rows(options: NightlyOptions, window: Window, ids: list[str]) -> pd.DataFrame:
    """The window's requests of ``ids`` (user agent and prompt), for pattern rules.

    Read again only when a user-agent or template rule is active and there are alerts
    to check; only those few accounts' rows are screened and kept
    (:func:`detector.ingest.read_account_rows`).
    """
    keep = [S.ACCOUNT_ID, S.USER_AGENT, S.PROMPT]

    def gather(chunks: Iterable[pd.DataFrame]) -> pd.DataFrame:
        parts = [chunk[[c for c in keep if c in chunk.columns]] for chunk in chunks]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=keep)

    return read_account_rows(
        options.logs, ids, gather, start=window.start, end=window.end, config=options.config
    )


def _write_outputs(
    ctx: RunContext,
    window: Window,
    suppressed: set[str],
    model: ChosenModel,
    scored: ScoreResult,
    drift: dict[str, Any],
) -> StagedNight:
    """scores.csv (+ sidecars), alerts.jsonl, report.html and summary.json, staged and synced."""
    options, log, timer, staged = ctx.options, ctx.log, ctx.timer, ctx.staged
    day = options.date
    final = options.state / RUNS_DIR / day.isoformat()
    with timer.stage("write"):
        scored.result.report.quarantine_path = str(final / QUARANTINE_NAME)
        scored.meta["ingest"] = scored.result.report.to_dict()
        scored.meta["run_date"] = day.isoformat()
        scored.meta["model_reason"] = model.reason
        reduced = reduced_features(
            options.accounts,
            scored.result.report.missing_optional,
            scored.result.omitted,
        )
        scored.meta["reduced_features"] = reduced
        written = write_scores(scored, staged / SCORES_NAME)
    log.stage("write", files=len(written), seconds=timer.last("write"))
    for why in reduced:
        log.warn(f"REDUCED FEATURES: {why}")
    checkpoint("written")

    with timer.stage("alerts"):
        alerts, by_rules = alerting.alerts_for_tonight(
            ctx.store,
            scored.scores,
            day,
            suppressed,
            options.config.rise_margin,
            accounts=read_accounts(options.accounts) if options.accounts else None,
            log_rows=lambda ids: _log_rows(options, window, ids),
            config=options.config,
        )
        records = alerting.alert_records(alerts, day, model.version)
        alerting.write_alerts(staged / ALERTS_NAME, records)
    counts = alerting.counts_by_kind(alerts)
    log.stage("alerts", **counts, suppressed_by_rules=by_rules, seconds=timer.last("alerts"))
    checkpoint("alerts")

    with timer.stage("report"):
        writer = load_report_writer()
        report_status = REPORT_UNAVAILABLE
        if writer is not None:
            writer(
                staged / REPORT_NAME,
                scores_path=staged / SCORES_NAME,
                log=options.logs,
                start=window.start,
                end=window.end,
                state=options.state,
                bundle=scored.bundle,  # just scored with: not loaded and verified again
            )
            report_status = REPORT_WRITTEN
    log.stage("report", status=report_status, seconds=timer.last("report"))
    checkpoint("report")

    ingest = scored.result.report.to_dict()
    summary = NightlySummary(
        run_date=day.isoformat(),
        run_id=ctx.run_id,
        status=RUN_OK,
        out_dir=str(final),
        window=window.to_dict(),
        missing_days=[d.isoformat() for d in window.missing],
        ingest={k: ingest[k] for k in SUMMARY_INGEST_KEYS} | cache_figures(scored),
        accounts=len(scored.scores),
        flagged=int(scored.scores[S.FLAGGED].sum()),
        suppressed=int(scored.scores[S.SUPPRESSED].sum()),
        suppressed_by_rules=by_rules,
        alerts=counts,
        model=model.to_dict(),
        drift=drift,
        report=report_status,
        timings={**timer.seconds, "total": timer.total()},
        started_at=ctx.started_at,
        params=options.params(),
        inputs=ctx.inputs.to_dict() if ctx.inputs else {},
        reduced_features=reduced,
    )
    text = json.dumps(summary.to_dict(), indent=1, default=str) + "\n"
    atomic_write_text(staged / SUMMARY_NAME, text)
    sync_tree(staged)
    checkpoint("staged")
    to_record = ctx.inputs.to_record if ctx.inputs else {}
    return StagedNight(summary, model, scored.scores, alerts, to_record)
