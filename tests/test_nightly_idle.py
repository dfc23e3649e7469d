"""How long each account was idle before the window, read from the runs the store keeps
(detector.nightly.idle), and the account table the nightly job builds with it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector import schema as S
from detector.features.account import DORMANT_DAYS
from detector.nightly.idle import account_table, covered_days, idle_days
from detector.store import Store

WINDOW_START = dt.date(2026, 11, 20)


def _night(store: Store, day: dt.date, accounts: list[str], status: str = "ok") -> None:
    run = store.start_run(day, {"window_days": 7})
    if status == "ok":
        frame = pd.DataFrame({S.ACCOUNT_ID: accounts, S.SCORE: 10.0, S.FLAGGED: False})
        store.record_scores(day, frame)
    store.finish_run(run, status)  # type: ignore[arg-type]


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "state", create=True)


def test_covered_days_count_back_from_the_day_before_the_window() -> None:
    runs = [("2026-11-19", 7), ("2026-11-10", 7), ("2026-11-12", None)]
    # 13-19 by the first run, 4-10 and 6-12 by the others (the third: the default 7 days)
    assert covered_days(runs, WINDOW_START, 7) == 16
    assert covered_days(runs[:1], WINDOW_START, 7) == 7
    assert covered_days([("2026-11-18", 7)], WINDOW_START, 7) == 0  # the 19th is a gap
    assert covered_days([], WINDOW_START, 7) == 0


def test_idle_days_from_the_last_run_that_saw_each_account(store: Store) -> None:
    # 40 nights before the window, every night; "regular" every night, "lapsed" last
    # seen on the night of 1 November, "dormant" never
    for day in _days(WINDOW_START - dt.timedelta(days=40), WINDOW_START - dt.timedelta(days=1)):
        _night(store, day, ["regular", *(["lapsed"] if day <= dt.date(2026, 11, 1) else [])])
    ids = pd.Index(["regular", "lapsed", "dormant"], name=S.ACCOUNT_ID)
    got = idle_days(store, ids, WINDOW_START, 7)
    assert got["regular"] == 0.0  # seen by the run of the 19th: it may have sent on the 19th
    assert got["lapsed"] == 18.0  # 2-19 November
    assert got["dormant"] == DORMANT_DAYS  # every day of the horizon covered, never seen
    assert got.name == S.IDLE_DAYS


def test_idleness_is_unknown_without_runs_right_before_the_window(store: Store) -> None:
    ids = pd.Index(["a", "b"], name=S.ACCOUNT_ID)
    assert np.isnan(idle_days(store, ids, WINDOW_START, 7)).all()  # first night
    _night(store, dt.date(2026, 11, 10), ["a"])  # covers 4-10, then a gap
    _night(store, dt.date(2026, 11, 19), ["b"], status="failed")  # failed runs say nothing
    assert np.isnan(idle_days(store, ids, WINDOW_START, 7)).all()  # the 19th uncovered
    # runs dated inside the window's span cannot tell days before it from days in it
    _night(store, dt.date(2026, 11, 22), ["a"])
    assert np.isnan(idle_days(store, ids, WINDOW_START, 7)).all()
    _night(store, dt.date(2026, 11, 16), [])  # covers 10-16: still a gap 17-19
    assert np.isnan(idle_days(store, ids, WINDOW_START, 7)).all()
    _night(store, dt.date(2026, 11, 19), [])  # now 4-19 without a gap
    got = idle_days(store, ids, WINDOW_START, 7)
    assert got["a"] == 9.0  # seen by the run of the 10th
    assert got["b"] == 16.0  # never seen: the covered days, under DORMANT_DAYS


def test_the_account_table_keeps_its_own_idle_days(store: Store, tmp_path: Path) -> None:
    for day in _days(WINDOW_START - dt.timedelta(days=31), WINDOW_START - dt.timedelta(days=1)):
        _night(store, day, ["seen"])
    path = tmp_path / "accounts.csv"
    path.write_text(
        "account_id,created_at,idle_days\nseen,2025-01-01,\nnever,2025-01-01,\ntold,2025-01-01,90\n"
    )
    table = account_table(path, store, WINDOW_START, 7)
    assert table is not None
    assert table[S.IDLE_DAYS].to_dict() == {"never": DORMANT_DAYS, "seen": 0.0, "told": 90.0}
    assert table[S.CREATED_AT].notna().all()
    assert account_table(None, store, WINDOW_START, 7) is None
