"""The stages of one nightly run, up to its commit.

window -> model -> (train) -> score -> drift -> scores.csv and sidecars -> alerts ->
report -> summary.json: every output goes into the run's staging directory, which is
synced at the end; the store is only read. :func:`stage_night` checks the window here,
then runs the model and scores (:mod:`~detector.nightly.model_stages`) and the outputs
(:mod:`~detector.nightly.output_stages`), which share a
:class:`~detector.nightly.run_context.RunContext`; it returns the
:class:`~detector.nightly.publish.StagedNight` the runner commits.
"""

from __future__ import annotations

from detector.faults import checkpoint
from detector.nightly.inputs import check_window, day_ranges
from detector.nightly.model_stages import model_and_scores
from detector.nightly.output_stages import write_outputs
from detector.nightly.publish import StagedNight
from detector.nightly.run_context import RunContext

__all__ = ["stage_night"]


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
    model, scored, drift = model_and_scores(ctx, window, suppressed)
    return write_outputs(ctx, window, suppressed, model, scored, drift)
