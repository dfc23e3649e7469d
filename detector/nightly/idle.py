"""How long each account was idle before tonight's window, from the runs the store keeps.

A start inside the window is linking evidence (the ``activation`` ingredient of
:mod:`detector.coordination.tokens`) for a *new* account, and since session 25 not for an
old one: a months-old research lab account whose first request of the week came on a
Wednesday resumed, it did not start. That also took the evidence from a campaign of
bought, months-old accounts that wake together: "dormant, then switched on" looks like
"quiet on Monday" from inside one window. The nightly job knows the difference: every
run's scores list the accounts that had a request in its window. So before building the
features it gives the account table an ``idle_days`` column (:data:`detector.schema.IDLE_DAYS`):

* the days before the window that the runs dated before it covered without a gap,
  counting back from the day before it (every account with a request on a covered day
  is in that run's scores), at most ``DORMANT_DAYS`` (all the rule asks): unknown
  (empty) when no run covered the day before the window (the job's first nights, or
  after a gap);
* for an account one of those runs saw, no more than the days from the latest such
  run's date to the window's first day (it may have been active as late as that date).

Runs dated inside the window's span are not read: an account they list may have been
active on their days before the window or on its days inside it, which they cannot tell
apart. A nightly job that ran the night before the window began covers that.

A value the account table itself gives wins: whoever exported it knew more.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd

from detector import schema as S
from detector.features.account import DORMANT_DAYS
from detector.ingest.tables import read_accounts
from detector.store import Store

__all__ = ["account_table", "covered_days", "idle_days"]


def covered_days(
    runs: list[tuple[str, int | None]], window_start: dt.date, default_window_days: int
) -> int:
    """Days before ``window_start`` covered by the ``runs``' windows without a gap,
    counting back from the day before it (a run dated ``R`` with ``w`` window days
    covers ``R - w + 1`` to ``R``; ``default_window_days`` when a run does not say)."""
    covered: set[dt.date] = set()
    for run_date, days in runs:
        end = dt.date.fromisoformat(run_date)
        span = days or default_window_days
        covered.update(end - dt.timedelta(days=k) for k in range(span))
    n = 0
    while window_start - dt.timedelta(days=n + 1) in covered:
        n += 1
    return n


def idle_days(
    store: Store, accounts: pd.Index, window_start: dt.date, default_window_days: int
) -> pd.Series:
    """Days each of ``accounts`` is known to have been idle before ``window_start``
    (float, NaN when unknown), from the runs dated before it (module docs)."""
    horizon = math.ceil(DORMANT_DAYS)
    since = window_start - dt.timedelta(days=horizon)
    runs = store.run_windows(since, window_start)
    covered = min(covered_days(runs, window_start, default_window_days), horizon)
    if not covered:
        return pd.Series(np.nan, index=accounts, name=S.IDLE_DAYS, dtype=np.float64)
    seen = store.last_seen(since, window_start).reindex(accounts)
    last = pd.to_datetime(seen, format="%Y-%m-%d", errors="coerce")
    since_seen = (pd.Timestamp(window_start) - last) / pd.Timedelta(days=1) - 1.0
    idle = np.fmin(since_seen.to_numpy(dtype=np.float64), float(covered))
    return pd.Series(idle, index=accounts, name=S.IDLE_DAYS)


def account_table(
    path: Path | None, store: Store, window_start: dt.date, default_window_days: int
) -> pd.DataFrame | None:
    """The account table at ``path`` with ``idle_days`` filled from the store (the
    table's own values kept), or ``None`` without a table."""
    if path is None:
        return None
    table = read_accounts(path)
    known = idle_days(store, table.index, window_start, default_window_days)
    if S.IDLE_DAYS in table.columns:
        known = table[S.IDLE_DAYS].fillna(known)
    return table.assign(**{S.IDLE_DAYS: known.to_numpy(dtype=np.float64)})
