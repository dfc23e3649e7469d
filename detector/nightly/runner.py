"""One nightly run, from checking its options to publishing the night.

:func:`run` checks the options, takes the lock, opens the store (creating it on the
very first run), recovers what killed runs left, records the run as started, runs the
stages (:mod:`detector.nightly.stages`), commits the night and puts its directory in
place. A failure before the commit removes the staging directory and records the run
as ``failed`` (when the store can take it); a failure after it is a
:class:`~detector.nightly.errors.PublishError` that the next run repairs.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

from detector.config import DEFAULT, Config
from detector.engines import Engine, SparkOptions
from detector.errors import UserError
from detector.faults import checkpoint
from detector.nightly.errors import PublishError, mark_recorded
from detector.nightly.inputs import NightlyOptions
from detector.nightly.layout import LOCK_NAME, RUNS_DIR
from detector.nightly.lock import RunLock
from detector.nightly.log import StageLog, StageTimer, iso, utc_now
from detector.nightly.models import discard_unregistered
from detector.nightly.publish import commit_night, put_in_place, recover
from detector.nightly.remembered import resolve_inputs
from detector.nightly.run_context import RunContext
from detector.nightly.stages import stage_night
from detector.nightly.summary import NightlySummary
from detector.store import DB_FILENAME, RUN_FAILED, RUN_OK, Store, corrupt_store_error

__all__ = ["run", "run_nightly"]


def run(options: NightlyOptions, now: Callable[[], dt.datetime] | None = None) -> NightlySummary:
    """Run the nightly job (see :func:`detector.nightly.run_nightly`)."""
    options.validate()
    clock = now or utc_now
    state = options.state
    timer = StageTimer()
    lock = RunLock(state / LOCK_NAME, hung_after_s=options.lock_timeout_hours * 3600, now=clock)
    with StageLog(options.date, json_lines=options.log_json, quiet=options.quiet, now=clock) as log:
        with timer.stage("lock"):
            try:
                state.mkdir(parents=True, exist_ok=True)
                lock.acquire()
            except OSError as exc:
                raise UserError(
                    f"{state}: cannot take the lock {lock.path} ({exc.strerror or exc}); the "
                    "state directory must be writable; nothing was run or recorded"
                ) from None
        try:
            checkpoint("locked")
            log.stage("lock", path=str(lock.path), seconds=timer.last("lock"))
            with Store.open(state, create=True, now=now) as store:
                recover(store, state, state / RUNS_DIR, log.warn)
                checkpoint("recovered")
                resolved, inputs = resolve_inputs(options, store, log.warn)
                run_id = store.start_run(options.date, resolved.params())
                checkpoint("started")
                ctx = RunContext(resolved, store, run_id, log, timer, iso(clock()), inputs)
                return _run_and_publish(ctx)
        except BaseException as exc:
            corrupt = corrupt_store_error(exc, state / DB_FILENAME)
            if corrupt is not None:
                raise corrupt from exc
            raise
        finally:
            lock.release()


def _run_and_publish(ctx: RunContext) -> NightlySummary:
    """Stage and commit the night (undone on failure), then put its directory in place."""
    try:
        night = stage_night(ctx)
        with ctx.timer.stage("commit"):
            commit_night(ctx.store, ctx.run_id, night)
    except BaseException as exc:
        shutil.rmtree(ctx.staged, ignore_errors=True)
        _record_failure(ctx, exc)
        raise
    summary = night.summary
    final = ctx.options.state / RUNS_DIR / summary.run_date
    try:
        checkpoint("committed")
        ctx.log.stage("commit", run=ctx.run_id, seconds=ctx.timer.last("commit"))
        with ctx.timer.stage("publish"):
            put_in_place(ctx.staged, final, ctx.run_id)
    except Exception as exc:
        raise PublishError(
            f"run {ctx.run_id} is committed in the store (its alerts are recorded), but "
            f"putting {ctx.staged} in place as {final} failed ({type(exc).__name__}: {exc}); "
            "the next run of the job completes it"
        ) from exc
    ctx.log.stage("publish", out=str(final), seconds=ctx.timer.last("publish"))
    summary.timings = {**ctx.timer.seconds, "total": ctx.timer.total()}
    ctx.log.stage(
        "done",
        status=RUN_OK,
        out=summary.out_dir,
        model=summary.model["version"],
        flagged=summary.flagged,
        alerts=sum(summary.alerts.values()),
        reduced_features=summary.reduced_features,
        seconds=ctx.timer.total(),
    )
    checkpoint("done")
    return summary


def _record_failure(ctx: RunContext, exc: BaseException) -> None:
    """Record a run that failed before its commit; note on ``exc`` whether it was."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, UserError):  # name the kind of internal failure
        message = f"{type(exc).__name__}: {message}"
    try:
        ctx.store.finish_run(ctx.run_id, RUN_FAILED, {"seconds": ctx.timer.total()}, None, message)
    except Exception as cleanup:  # keep the original error, say what else failed
        ctx.log.warn(f"could not record run {ctx.run_id} as failed: {cleanup}")
    else:
        mark_recorded(exc, ctx.run_id)
    try:
        discard_unregistered(ctx.store, ctx.trained)
    except Exception as cleanup:
        ctx.log.warn(f"could not remove the models this run trained: {cleanup}")


def run_nightly(
    *,
    logs: Path,
    date: dt.date,
    state: Path,
    window_days: int = DEFAULT.window_days,
    accounts: Path | None = None,
    no_accounts: bool = False,
    allow_missing: bool = False,
    retrain_days: int = DEFAULT.retrain_days,
    psi_threshold: float = DEFAULT.psi_threshold,
    force_retrain: bool = False,
    refit_topics: bool = False,
    alert_budget: str | None = None,
    log_json: bool | None = None,
    now: Callable[[], dt.datetime] | None = None,
    quiet: bool = False,
    lock_timeout_hours: float = DEFAULT.lock_timeout_hours,
    config: Config = DEFAULT,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
    annotation_cache: bool = True,
) -> NightlySummary:
    """Run the nightly job for ``date``; return its summary (also in ``summary.json``).

    Raises :class:`LockHeldError` when another run holds the lock (nothing is
    recorded), a :class:`~detector.errors.UserError` for bad input (a bad option, a
    missing day partition, an unreadable log, an unusable state store) and anything
    else for internal errors. A failure before the commit leaves the store and
    ``STATE/runs/DATE`` as they were and is recorded as a ``failed`` run when the
    store can take it (:func:`failure_recorded` says). :class:`PublishError` means the
    night committed but its directory is not in place yet; the next run puts it there.
    ``log_json`` ``None``: JSON log lines when stderr is not a terminal. ``now``
    replaces the UTC clock (tests). ``annotation_cache``: replay the days earlier
    nights annotated (``STATE/cache/annotated``, :mod:`detector.annotation_cache`).
    ``refit_topics``: a retrain fits a new topic model even when the current one is
    recent enough to keep (``Config.topic_refit_days``).
    """
    options = NightlyOptions(
        logs=Path(logs),
        date=date,
        state=Path(state),
        window_days=window_days,
        accounts=Path(accounts) if accounts is not None else None,
        no_accounts=no_accounts,
        allow_missing=allow_missing,
        retrain_days=retrain_days,
        psi_threshold=psi_threshold,
        force_retrain=force_retrain,
        refit_topics=refit_topics,
        alert_budget=alert_budget,
        lock_timeout_hours=lock_timeout_hours,
        log_json=log_json,
        quiet=quiet,
        config=config,
        engine=engine,
        spark=spark,
        annotation_cache=annotation_cache,
    )
    return run(options, now=now)
