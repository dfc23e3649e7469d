"""Which instants a file's rows may carry: its partition's day, or the requested window.

A run asks for ``[start, end]`` (whole UTC days). How a row is held to that depends
on where it came from:

- **a ``date=D`` partition** was selected by its path (partitions outside the window
  are pruned unopened), so its rows belong to day D: a row within
  ``Config.partition_slack_hours`` of D is kept (late shipping puts the last minutes
  of D-1 into D), and a row further away (1970, a month early) contradicts where the
  log pipeline put it: it is quarantined (``timestamp far from its date= partition``);
- **a file without a partition** is selected by timestamp: a valid row outside the
  window is not part of the log the run asked for; it is dropped and counted as
  ``outside_window``, not as read (selected away, like a pruned partition's files,
  not found broken -- so it is not copied to the quarantine file either).

- **a file without a partition** inside the window is also held to the log's *span*
  (:mod:`detector.ingest.span`): a valid row on a day isolated from the rest of the
  flat log is quarantined (``timestamp isolated from the rest of the log: …``).

Either way every kept row's timestamp is bounded: inside the window (within the
slack for partitioned logs), or within a day and the slack of its partition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from detector import schema as S
from detector.config import Config
from detector.ingest.discover import LogFile
from detector.ingest.span import LogSpan
from detector.ingest.validate import epoch_seconds


@dataclass(frozen=True)
class TimeBounds:
    """Half-open ``[lo, hi)`` instant ranges (``None`` = unbounded) a file's rows must meet:
    ``partition`` for a file in a ``date=`` partition, else ``window``."""

    window: tuple[pd.Timestamp | None, pd.Timestamp | None]
    partition: tuple[pd.Timestamp, pd.Timestamp] | None
    span: LogSpan | None = None
    """The flat log's span an unpartitioned file's rows are held to (``None``: none)."""

    @property
    def applied(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The range :func:`check_times` holds the file's rows to: the partition's when
        there is one (the window then only chose the file), else the window."""
        return self.partition if self.partition is not None else self.window


def time_bounds(
    f: LogFile,
    start: dt.date | None,
    end: dt.date | None,
    config: Config,
    span: LogSpan | None = None,
) -> TimeBounds:
    """The window ``[start, end]`` (whole UTC days) and ``f``'s partition day with slack;
    the flat log's ``span`` for a file without a partition."""
    lo = pd.Timestamp(start, tz="UTC") if start is not None else None
    hi = pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1) if end is not None else None
    partition = None
    if f.partition is not None:
        slack = pd.Timedelta(hours=config.partition_slack_hours)
        day = pd.Timestamp(f.partition, tz="UTC")
        partition = (day - slack, day + pd.Timedelta(days=1) + slack)
    return TimeBounds((lo, hi), partition, span if partition is None else None)


def _outside(ts: pd.Series, lo: pd.Timestamp | None, hi: pd.Timestamp | None) -> np.ndarray:
    out = np.zeros(len(ts), dtype=bool)
    if lo is not None:
        out |= (ts < lo).fillna(False).to_numpy(dtype=bool)
    if hi is not None:
        out |= (ts >= hi).fillna(False).to_numpy(dtype=bool)
    return out


def check_times(
    clean: pd.DataFrame, reason: np.ndarray, bounds: TimeBounds
) -> tuple[np.ndarray, np.ndarray]:
    """Hold the valid rows of a validated chunk to the file's bounds (module docstring).

    Returns the reasons with ``timestamp far from its date= partition`` (or, for a flat
    file, ``timestamp isolated from the rest of the log``) added, and the mask of valid
    rows outside the window (to drop and count as ``outside_window``).
    """
    valid = reason == ""
    none = np.zeros(len(reason), dtype=bool)
    if S.TIMESTAMP not in clean.columns or not valid.any():
        return reason, none
    ts = clean[S.TIMESTAMP]
    if bounds.partition is not None:
        far = valid & _outside(ts, *bounds.partition)
        return np.where(far, S.REASON_FAR_FROM_PARTITION, reason).astype(object), none
    outside = valid & _outside(ts, *bounds.window)
    if bounds.span is None:
        return reason, outside
    off = valid & ~outside & _outside(ts, *bounds.span.bounds)
    if not off.any():
        return reason, outside
    reason = reason.copy()
    reason[off] = bounds.span.reasons(epoch_seconds(ts[off]))
    return reason, outside
