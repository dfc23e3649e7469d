"""The nightly run's model and scores: model -> (train) -> score -> drift.

Choose the model (or train one), score the window with it, measure drift against the
model's training population, and retrain and score again when the drift is too large.
:func:`model_and_scores` is the part of :func:`~detector.nightly.stages.stage_night`
between the window check and the outputs (:mod:`~detector.nightly.output_stages`).
"""

from __future__ import annotations

import time
from typing import Any

from detector import schema as S
from detector.artifacts import BundleError, load_bundle
from detector.faults import checkpoint
from detector.features.account import DORMANT_DAYS
from detector.nightly.drift import drift_figures
from detector.nightly.idle import account_table
from detector.nightly.inputs import Window
from detector.nightly.layout import QUARANTINE_NAME
from detector.nightly.models import (
    ChosenModel,
    check_loaded,
    choose_model,
    confirmed_extraction,
    topics_to_keep,
    train_model,
)
from detector.nightly.run_context import RunContext
from detector.scoring import ScoreResult, score, score_features
from detector.verdicts import current_verdicts

__all__ = ["cache_figures", "model_and_scores"]


def model_and_scores(
    ctx: RunContext, window: Window, suppressed: set[str]
) -> tuple[ChosenModel, ScoreResult, dict[str, Any]]:
    """Choose (or train) the model, score the window, measure drift (and retrain on it)."""
    options, log, timer, store = ctx.options, ctx.log, ctx.timer, ctx.store
    exclude = confirmed_extraction(store)
    verdicts = current_verdicts(
        store, on=options.date, max_age_days=options.config.verdict_max_age_days
    )
    quarantine = ctx.staged / QUARANTINE_NAME
    # the account table with how long each account was idle before the window
    # (detector.nightly.idle): an old account waking from dormancy "starts" as a new one
    with timer.stage("idle"):
        accounts = account_table(options.accounts, store, window.start, options.window_days)
    ctx.accounts = accounts
    if accounts is not None:
        idle = accounts[S.IDLE_DAYS]
        log.stage(
            "idle",
            accounts=len(idle),
            known=int(idle.notna().sum()),
            dormant=int((idle >= DORMANT_DAYS).sum()),
            seconds=timer.last("idle"),
        )

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
                accounts=accounts,
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
            accounts=ctx.accounts,
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
