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
- :mod:`~detector.nightly.runner`: one run; :mod:`~detector.nightly.stages`: its stages
  up to the commit (:mod:`~detector.nightly.model_stages`,
  :mod:`~detector.nightly.output_stages`, sharing a :mod:`~detector.nightly.run_context`);
- :mod:`~detector.nightly.lock` (``flock``), :mod:`~detector.nightly.log` (stdlib
  logging), :mod:`~detector.nightly.summary` (``summary.json``, the run history),
  :mod:`~detector.nightly.errors` (exit codes), :mod:`~detector.nightly.layout` (names).

Importing the package loads none of its modules: each public name is loaded from its
module on first use (PEP 562), so code that needs only a small piece (the state
directory's layout, the remembered inputs) does not load the scorer and scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as type checkers and readers see them
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
    from detector.nightly.layout import CACHE_DIR, LOCK_NAME
    from detector.nightly.lock import RunLock
    from detector.nightly.models import registry_mismatch
    from detector.nightly.runner import run, run_nightly
    from detector.nightly.summary import NightlySummary, default_state_dir, run_history

_HOME: dict[str, str] = {
    "CACHE_DIR": "layout",
    "EXIT_BAD_INPUT": "errors",
    "EXIT_INTERNAL": "errors",
    "EXIT_LOCKED": "errors",
    "EXIT_OK": "errors",
    "LOCK_NAME": "layout",
    "LockHeldError": "errors",
    "MissingPartitionError": "errors",
    "NightlyOptions": "inputs",
    "NightlySummary": "summary",
    "PublishError": "errors",
    "RunLock": "lock",
    "Window": "inputs",
    "check_window": "inputs",
    "day_ranges": "inputs",
    "default_state_dir": "summary",
    "failure_recorded": "errors",
    "population_stability": "drift",
    "psi_reference": "drift",
    "registry_mismatch": "models",
    "run": "runner",
    "run_history": "summary",
    "run_nightly": "runner",
    "select_alerts": "alerts",
}
"""The module each public name lives in."""

__all__ = [
    "CACHE_DIR",
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


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
