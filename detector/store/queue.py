"""The analysts' queue by case: what each case is, how it moved, and its members' history.

The nightly job stores every account's score, case, case score, band and top reason per
run (:meth:`History.record_scores`); the per-account statuses come from
:meth:`AccountCases.cases`. A case is listed when any member is in the work (alerted,
judged or suppressed); it is taken as of the latest run that scored such a member, and
every account of that run with the same case id is a member. Ids of accounts scored
before the store kept cases (schema version 1), or never scored, form a case of one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from detector.cases import SINGLE_PREFIX, case_score_by
from detector.schema import ACCOUNT_ID, BAND, CASE_ID, CASE_SCORE, FLAGGED, SCORE
from detector.store.accounts import AccountCases
from detector.store.history import History
from detector.store.names import (
    CASE_STATUS,
    CASE_STATUSES,
    FIRST_ALERT_DATE,
    LAST_ALERT_DATE,
    RUN_DATE,
    DateLike,
)
from detector.store.values import iso_date

__all__ = ["QUEUE_COLUMNS", "CaseQueue"]

TOP_REASON: Final = "top_reason"
SIZE: Final = "size"
FLAGGED_MEMBERS: Final = "flagged_members"
TREND: Final = "trend"
NEW_TONIGHT: Final = "new_tonight"
STATUS_COUNTS: Final = "member_statuses"
PREVIOUS_SCORE: Final = "previous_score"
PREVIOUS_CASE_SCORE: Final = "previous_case_score"

QUEUE_COLUMNS: Final[tuple[str, ...]] = (
    CASE_ID,
    CASE_STATUS,
    BAND,
    CASE_SCORE,
    SIZE,
    FLAGGED_MEMBERS,
    TOP_REASON,
    FIRST_ALERT_DATE,
    LAST_ALERT_DATE,
    TREND,
    NEW_TONIGHT,
    RUN_DATE,
    STATUS_COUNTS,
)
"""Columns of :meth:`CaseQueue.case_queue`, one row per case."""

_SCORE_COLUMNS: Final = (
    RUN_DATE,
    ACCOUNT_ID,
    SCORE,
    FLAGGED,
    CASE_ID,
    CASE_SCORE,
    BAND,
    TOP_REASON,
)
_SCORE_SELECT: Final = (
    "SELECT run_date, account_id, score, flagged, case_id, case_score, band, top_reason FROM scores"
)


def _as_ids(values: Sequence[str]) -> str:
    """A list of ids as one JSON parameter (read back by SQLite's ``json_each``)."""
    return json.dumps([str(v) for v in values])


def _case_of(frame: pd.DataFrame) -> pd.Series:
    """Each row's case: its stored case id, or ``acct:<id>`` when none was stored."""
    stored = frame[CASE_ID].fillna("").astype(str)
    return stored.where(stored != "", SINGLE_PREFIX + frame[ACCOUNT_ID].astype(str))


class CaseQueue(History, AccountCases):
    """Case-level reads of the store: the queue, one case's members, score timelines."""

    def _scores(self, where: str, params: Sequence[object]) -> pd.DataFrame:
        frame = self._frame(_SCORE_SELECT + " WHERE " + where, params, _SCORE_COLUMNS)
        frame[FLAGGED] = frame[FLAGGED].astype(bool)
        frame[SCORE] = frame[SCORE].astype(float)
        frame[CASE_SCORE] = pd.to_numeric(frame[CASE_SCORE], errors="coerce")
        frame[CASE_ID] = _case_of(frame)
        return frame

    def run_dates(self, on: DateLike | None = None) -> list[str]:
        """Dates with stored scores (on or before ``on``), oldest first."""
        sql, params = "SELECT DISTINCT run_date FROM scores", ()
        if on is not None:
            sql, params = sql + " WHERE run_date <= ?", (iso_date(on),)
        return [str(r[0]) for r in self._conn.execute(sql + " ORDER BY run_date", params)]

    def score_timeline(
        self, account_ids: Sequence[str], on: DateLike | None = None
    ) -> pd.DataFrame:
        """Every stored score of the accounts (through ``on``), by run date then account.

        Columns: ``run_date, account_id, score, flagged, case_id, case_score, band,
        top_reason`` (``case_id`` is ``acct:<id>`` where the run stored none).
        """
        day = iso_date(on) if on is not None else "9999-12-31"
        return self._scores(
            "account_id IN (SELECT value FROM json_each(?)) AND run_date <= ?"
            " ORDER BY run_date, account_id",
            (_as_ids(account_ids), day),
        )

    def case_members(self, case_id: str, on: DateLike) -> pd.DataFrame:
        """The members of ``case_id`` as of the latest run on or before ``on`` that had it.

        Same columns as :meth:`score_timeline`; empty when no run had the case. A case
        of one (``acct:<id>``) is that account's latest score.
        """
        day = iso_date(on)
        if case_id.startswith(SINGLE_PREFIX):
            account = case_id[len(SINGLE_PREFIX) :]
            rows = self._scores(
                "account_id = ? AND run_date <= ? ORDER BY run_date DESC LIMIT 1", (account, day)
            )
            return rows[rows[CASE_ID] == case_id].reset_index(drop=True)
        row = self._conn.execute(
            "SELECT MAX(run_date) FROM scores WHERE case_id = ? AND run_date <= ?", (case_id, day)
        ).fetchone()
        if row is None or row[0] is None:
            return pd.DataFrame(columns=list(_SCORE_COLUMNS))
        return self._scores(
            "case_id = ? AND run_date = ? ORDER BY score DESC, account_id", (case_id, row[0])
        )

    def previous_run_date(self, before: DateLike) -> str | None:
        """The latest run date with stored scores strictly before ``before``."""
        row = self._conn.execute(
            "SELECT MAX(run_date) FROM scores WHERE run_date < ?", (iso_date(before),)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def case_queue(self, on: DateLike) -> pd.DataFrame:
        """The work queue by case as of day ``on`` (columns :data:`QUEUE_COLUMNS`).

        ``status`` is the most pressing of the members' statuses, in the order of
        :data:`CASE_STATUSES` (one open member makes the case open); ``member_statuses``
        counts them. ``case_score`` and ``band`` are the stored ones of the run the case
        is taken from (the median member for ``band``), ``top_reason`` the first reason
        of its highest-scoring member. ``trend`` is the case score minus the score the same
        members' case stood at in the run before (:func:`~detector.cases.case_score_by` of
        their stored case scores; NaN when none); ``first_alert_date`` the
        earliest alert of any member; ``new_tonight`` whether that is the latest run.
        Sorted by status, new tonight first, then case score descending. Every read is in
        one snapshot, so a nightly run committing meanwhile is either wholly in the queue
        or not at all.
        """
        with self._read():
            return self._case_queue(iso_date(on))

    def _case_queue(self, day: str) -> pd.DataFrame:
        """:meth:`case_queue`'s reads and assembly, inside the caller's read snapshot."""
        accounts = self.cases(day)
        if accounts.empty:
            return pd.DataFrame(columns=list(QUEUE_COLUMNS))
        universe = accounts[ACCOUNT_ID].astype(str).tolist()
        latest = self._frame(
            "SELECT run_date, account_id, score, flagged, case_id, case_score, band, top_reason"
            " FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY run_date DESC)"
            " AS rn FROM scores WHERE run_date <= ?"
            " AND account_id IN (SELECT value FROM json_each(?))) WHERE rn = 1",
            (day, _as_ids(universe)),
            _SCORE_COLUMNS,
        )
        latest[CASE_ID] = _case_of(latest)
        unscored = sorted(set(universe) - set(latest[ACCOUNT_ID]))
        case_dates = latest.groupby(CASE_ID)[RUN_DATE].max()
        clusters = case_dates[~case_dates.index.str.startswith(SINGLE_PREFIX)]
        members = self._scores(
            "case_id IN (SELECT value FROM json_each(?)) AND run_date IN"
            " (SELECT value FROM json_each(?))",
            (_as_ids(clusters.index.tolist()), _as_ids(sorted(set(clusters.tolist())))),
        )
        members = members[members[RUN_DATE] == members[CASE_ID].map(clusters)]
        singles = latest[latest[CASE_ID].str.startswith(SINGLE_PREFIX)].copy()
        singles[FLAGGED] = singles[FLAGGED].astype(bool)
        members = pd.concat([members, singles], ignore_index=True)
        members = members.drop_duplicates([RUN_DATE, ACCOUNT_ID], keep="first")
        members[SCORE] = members[SCORE].astype(float)
        members[CASE_SCORE] = pd.to_numeric(members[CASE_SCORE], errors="coerce")
        previous = self._previous_member_scores(members)
        members[PREVIOUS_SCORE] = previous[SCORE]
        members[PREVIOUS_CASE_SCORE] = previous[CASE_SCORE]
        if unscored:
            members = pd.concat(
                [
                    members,
                    pd.DataFrame(
                        {ACCOUNT_ID: unscored, CASE_ID: [SINGLE_PREFIX + a for a in unscored]}
                    ),
                ],
                ignore_index=True,
            )
        members[FLAGGED] = members[FLAGGED].astype(object).where(members[FLAGGED].notna(), False)
        members[FLAGGED] = members[FLAGGED].astype(bool)
        return self._aggregate(members, accounts, day)

    def _previous_member_scores(self, members: pd.DataFrame) -> pd.DataFrame:
        """Each member row's score and case score in the run before its case's run
        (columns ``score``, ``case_score``; NaN when none)."""
        out = pd.DataFrame(np.nan, index=members.index, columns=[SCORE, CASE_SCORE])
        for run_date in sorted(set(members[RUN_DATE].dropna())):  # a few run dates
            previous = self.previous_run_date(run_date)
            if previous is None:
                continue
            here = members[RUN_DATE] == run_date
            ids = members.loc[here, ACCOUNT_ID].tolist()
            prev = self._frame(
                "SELECT account_id, score, case_score FROM scores WHERE run_date = ?"
                " AND account_id IN (SELECT value FROM json_each(?))",
                (previous, _as_ids(ids)),
                (ACCOUNT_ID, SCORE, CASE_SCORE),
            ).set_index(ACCOUNT_ID)
            for column in (SCORE, CASE_SCORE):
                values = pd.to_numeric(prev[column], errors="coerce").astype(float)
                out.loc[here, column] = members.loc[here, ACCOUNT_ID].map(values).to_numpy()
        return out

    def _aggregate(self, members: pd.DataFrame, accounts: pd.DataFrame, day: str) -> pd.DataFrame:
        """One row per case from its member rows and the per-account statuses."""
        status = accounts.set_index(ACCOUNT_ID)[CASE_STATUS]
        members = members.assign(**{CASE_STATUS: members[ACCOUNT_ID].map(status)})
        alerted = self.alerted_accounts(day).set_index(ACCOUNT_ID)
        # ISO dates compare as text: "~" sorts after every date, "" before (then None)
        members[FIRST_ALERT_DATE] = (
            members[ACCOUNT_ID].map(alerted[FIRST_ALERT_DATE]).fillna("~").astype(str)
        )
        members[LAST_ALERT_DATE] = (
            members[ACCOUNT_ID].map(alerted[LAST_ALERT_DATE]).fillna("").astype(str)
        )
        members[RUN_DATE] = members[RUN_DATE].fillna("").astype(str)
        rank = {s: i for i, s in enumerate(CASE_STATUSES)}
        members["_rank"] = members[CASE_STATUS].map(rank)
        members = members.sort_values([CASE_ID, SCORE], ascending=[True, False], na_position="last")
        groups = members.groupby(CASE_ID, sort=False)
        median_score = groups[SCORE].transform("median")
        closest = (members[SCORE] - median_score).abs()
        band_row = members.assign(_d=closest).sort_values([CASE_ID, "_d"]).groupby(CASE_ID).head(1)
        reasons = members[members[TOP_REASON].fillna("") != ""].groupby(CASE_ID)[TOP_REASON].first()
        case_score = case_score_by(members[CASE_ID], members[SCORE], members[CASE_SCORE]).round(2)
        before = case_score_by(
            members[CASE_ID], members[PREVIOUS_SCORE], members[PREVIOUS_CASE_SCORE]
        )
        queue = pd.DataFrame(
            {
                CASE_STATUS: groups["_rank"].min().map(dict(enumerate(CASE_STATUSES))),
                BAND: band_row.set_index(CASE_ID)[BAND].fillna(""),
                CASE_SCORE: case_score,
                SIZE: groups.size(),
                FLAGGED_MEMBERS: groups[FLAGGED].sum(min_count=0).fillna(0).astype(int),
                TOP_REASON: reasons,
                FIRST_ALERT_DATE: groups[FIRST_ALERT_DATE].min().replace("~", None),
                LAST_ALERT_DATE: groups[LAST_ALERT_DATE].max().replace("", None),
                TREND: (case_score - before).round(2),
                RUN_DATE: groups[RUN_DATE].max().replace("", None),
            }
        )
        counts = members.groupby([CASE_ID, CASE_STATUS]).size().unstack(fill_value=0)
        queue[STATUS_COUNTS] = [
            {s: int(row[s]) for s in CASE_STATUSES if s in row.index and row[s]}
            for _, row in counts.reindex(queue.index).fillna(0).iterrows()  # one per case
        ]
        tonight = self.run_dates(day)[-1:] or [None]
        queue[NEW_TONIGHT] = queue[FIRST_ALERT_DATE] == tonight[0]
        queue[TOP_REASON] = queue[TOP_REASON].fillna("")
        queue = queue.rename_axis(CASE_ID).reset_index()
        queue["_rank"] = queue[CASE_STATUS].map(rank)
        queue = queue.sort_values(
            ["_rank", NEW_TONIGHT, CASE_SCORE, CASE_ID],
            ascending=[True, False, False, True],
            na_position="last",
        )
        return queue[list(QUEUE_COLUMNS)].reset_index(drop=True)
