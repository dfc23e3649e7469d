"""The nightly run's outputs: scores.csv and sidecars -> alerts -> report -> summary.json.

Every output goes into the run's staging directory, which is synced at the end;
:func:`write_outputs` returns the :class:`~detector.nightly.publish.StagedNight` the
runner commits. The last part of :func:`~detector.nightly.stages.stage_night`, after
the model and scores (:mod:`~detector.nightly.model_stages`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from detector import schema as S
from detector.faults import checkpoint
from detector.ingest import read_account_rows
from detector.nightly import alerts as alerting
from detector.nightly.inputs import NightlyOptions, Window
from detector.nightly.layout import (
    ALERTS_NAME,
    QUARANTINE_NAME,
    REPORT_NAME,
    RUNS_DIR,
    SCORES_NAME,
    SUMMARY_NAME,
)
from detector.nightly.model_stages import cache_figures
from detector.nightly.models import ChosenModel
from detector.nightly.publish import StagedNight, sync_tree
from detector.nightly.remembered import reduced_features
from detector.nightly.run_context import RunContext
from detector.nightly.summary import NightlySummary
from detector.safe import atomic_write_text
from detector.scoring import ScoreResult, write_scores
from detector.store import RUN_OK

__all__ = ["load_report_writer", "write_outputs"]

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


def write_outputs(
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
            scored.result.report.missing_optional_described,
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
            accounts=ctx.accounts,
            log_rows=lambda ids: _log_rows(options, window, ids),
            config=options.config,
            published=alerting.published_records(final / ALERTS_NAME),
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
