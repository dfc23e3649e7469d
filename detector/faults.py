"""A test hook that kills or fails the nightly job at a named point (crash-safety tests).

``DETECTOR_FAULT=<point>`` makes :func:`checkpoint` ``SIGKILL`` the process when the
nightly job reaches ``<point>`` -- the same as ``kill -9`` or a power cut there;
``DETECTOR_FAULT=<point>:raise`` raises :class:`InjectedFault` instead (an ordinary
failure, which the job records). The points are :data:`POINTS`, in the order a run
passes them. Unset (always, outside tests) the hook is one environment lookup.

``tests/test_faults.py`` runs the job once per point and then checks that the next
run recovers: the night is published exactly once, nothing is alerted twice and no
verdict is lost. See docs/operations.md, *Recovery*.
"""

from __future__ import annotations

import os
import signal
from typing import Final

__all__ = ["ENV", "POINTS", "InjectedFault", "checkpoint"]

ENV: Final = "DETECTOR_FAULT"

POINTS: Final[tuple[str, ...]] = (
    "locked",  # the lock is held, the store not yet opened
    "recovered",  # leftovers of earlier runs handled, this run not yet recorded
    "started",  # the run is recorded as running
    "window",  # the window is checked
    "trained",  # a new bundle is saved, not registered (only when training)
    "scored",  # the window is scored
    "drift",  # drift is measured
    "written",  # scores.csv and sidecars are in the staging directory
    "alerts",  # alerts.jsonl is in the staging directory
    "report",  # report.html is in the staging directory
    "staged",  # summary.json written and the staging directory synced
    "commit",  # the night's store writes are done, not yet committed
    "committed",  # committed: the publish point; the directory not yet in place
    "aside",  # a re-run: the previous directory moved aside, the new one not yet in place
    "published",  # the new directory is in place, the previous one not yet removed
    "done",  # finished, the lock not yet released
)
"""Where :func:`checkpoint` is called, in the order a run reaches them."""


class InjectedFault(RuntimeError):
    """Raised at a checkpoint by ``DETECTOR_FAULT=<point>:raise``."""


def checkpoint(point: str) -> None:
    """Kill (``SIGKILL``) or fail here if ``$DETECTOR_FAULT`` names ``point``."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    name, _, action = spec.partition(":")
    if name != point:
        return
    if action == "raise":
        raise InjectedFault(f"injected fault at {point}")
    os.kill(os.getpid(), signal.SIGKILL)
