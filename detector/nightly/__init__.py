"""The nightly batch job: score the last N days, alert only on what is new, leave a record.

A scheduler runs :func:`run_nightly` (``detector nightly``) once a day. One run checks
every option before any work, takes ``STATE/nightly.lock``, opens the store (creating
it on the very first run), finishes or undoes what a killed run left, records itself as
started, and then: checks the window (every ``date=`` partition of the N days ending on
DATE must exist, unless ``allow_missing``), chooses or trains the model, scores the
window with the analysts' suppressions, selects the alerts, stages every output, and
publishes the night -- one store transaction, then one rename.

The package, one concept per module:

- :mod:`~detector.nightly.inputs`: the options, checked up front, and the window;
- :mod:`~detector.nightly.models`: model lifecycle (reuse, retrain policy, training,
  registry digests); :mod:`~detector.nightly.drift`: the PSI drift check;
- :mod:`~detector.nightly.alerts`: which flagged accounts are alerted tonight;
- :mod:`~detector.nightly.publish`: staging, the commit that publishes, and recovery;
- :mod:`~detector.nightly.runner`: the stages of one run;
- :mod:`~detector.nightly.lock` (``flock``), :mod:`~detector.nightly.log` (stdlib
  logging), :mod:`~detector.nightly.summary` (``summary.json``, the run history),
  :mod:`~detector.nightly.errors` (exit codes), :mod:`~detector.nightly.layout` (names).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from detector.config import DEFAULT, Config
from detector.engines import Engine, SparkOptions
from detector.nightly.alerts import select_alerts
from detector.nightly.drift import population_stability, psi_reference
from detector.nightly.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_LOCKED,
    EXIT_OK,
    LockHeldError,
    MissingPartitionError,
    PublishError,
    failure_recorded,
)
from detector.nightly.inputs import NightlyOptions, Window, check_window, day_ranges
from detector.nightly.layout import LOCK_NAME
from detector.nightly.lock import RunLock
from detector.nightly.models import registry_mismatch
from detector.nightly.runner import run
from detector.nightly.summary import NightlySummary, default_state_dir, run_history

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_LOCKED",
    "EXIT_OK",
    "LOCK_NAME",
    "LockHeldError",
    "MissingPartitionError",
    "NightlyOptions",
    "NightlySummary",
    "PublishError",
    "RunLock",
    "Window",
    "check_window",
    "day_ranges",
    "default_state_dir",
    "failure_recorded",
    "population_stability",
    "psi_reference",
    "registry_mismatch",
    "run",
    "run_history",
    "run_nightly",
    "select_alerts",
]


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
    alert_budget: str | None = None,
    log_json: bool | None = None,
    now: Callable[[], dt.datetime] | None = None,
    quiet: bool = False,
    lock_timeout_hours: float = DEFAULT.lock_timeout_hours,
    config: Config = DEFAULT,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
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
    replaces the UTC clock (tests).
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
        alert_budget=alert_budget,
        lock_timeout_hours=lock_timeout_hours,
        log_json=log_json,
        quiet=quiet,
        config=config,
        engine=engine,
        spark=spark,
    )
    return run(options, now=now)
