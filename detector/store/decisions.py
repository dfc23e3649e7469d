"""Analysts' decisions: append-only verdicts and suppressions of accounts."""

from __future__ import annotations

from typing import Any, Final

import pandas as pd

from detector.schema import ACCOUNT_ID, LABEL, LABELS, SCENARIO
from detector.store.base import StoreBase
from detector.store.names import (
    ANALYST,
    CREATED_AT,
    LIFTED_AT,
    LIFTED_BY,
    NOTE,
    REASON,
    UNTIL,
    VERDICT,
    DateLike,
)
from detector.store.values import check_account, default_analyst, iso_date

__all__ = ["Decisions"]


class Decisions(StoreBase):
    """Analysts' decisions: append-only verdicts and suppressions of accounts."""

    # -- verdicts ----------------------------------------------------------------------

    def add_verdict(
        self,
        account_id: str,
        verdict: str,
        note: str = "",
        analyst: str | None = None,
    ) -> int:
        """Record an analyst's verdict (``extraction`` or ``benign``); return its row id.

        Verdicts are append-only: a new verdict supersedes the previous one for the
        account, and the history stays for audit. ``analyst`` defaults to ``$USER``.
        """
        account = check_account(account_id)
        if verdict not in LABELS:
            raise ValueError(f"verdict must be one of {LABELS}, got {verdict!r}")
        who = analyst or default_analyst()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO verdicts (account_id, verdict, note, analyst, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (account, verdict, note or "", who, self._stamp()),
            )
            return int(cursor.lastrowid or 0)

    _VERDICT_COLUMNS: Final = (ACCOUNT_ID, VERDICT, NOTE, ANALYST, CREATED_AT)

    def verdict_history(self, account_id: str | None = None) -> pd.DataFrame:
        """Every verdict ever recorded (optionally for one account), oldest first."""
        sql = "SELECT account_id, verdict, note, analyst, created_at FROM verdicts"
        params: tuple[Any, ...] = ()
        if account_id is not None:
            sql += " WHERE account_id = ?"
            params = (account_id,)
        return self._frame(sql + " ORDER BY id", params, self._VERDICT_COLUMNS)

    def latest_verdicts(self) -> pd.DataFrame:
        """The current verdict of each account (its latest), sorted by account id.

        Columns: ``account_id, verdict, note, analyst, created_at``. "Latest" is the
        last recorded, so a clock that steps backwards cannot resurrect an old verdict.
        """
        return self._frame(
            "SELECT v.account_id, v.verdict, v.note, v.analyst, v.created_at"
            " FROM verdicts v"
            " JOIN (SELECT MAX(id) AS id FROM verdicts GROUP BY account_id) m ON v.id = m.id"
            " ORDER BY v.account_id",
            (),
            self._VERDICT_COLUMNS,
        )

    def labels_frame(self) -> pd.DataFrame:
        """Current verdicts as a contract 1.3 labels table, for ``detector evaluate``.

        Columns ``account_id, label, scenario`` with ``scenario = "analyst:<analyst>"``.
        """
        latest = self.latest_verdicts()
        return pd.DataFrame(
            {
                ACCOUNT_ID: latest[ACCOUNT_ID].astype(object),
                LABEL: latest[VERDICT].astype(object),
                SCENARIO: ("analyst:" + latest[ANALYST].astype(str)).astype(object),
            },
            columns=[ACCOUNT_ID, LABEL, SCENARIO],
        )

    # -- suppressions ------------------------------------------------------------------

    def suppress(
        self,
        account_id: str,
        until: DateLike,
        reason: str,
        analyst: str | None = None,
    ) -> int:
        """Suppress alerts for an account through ``until`` (inclusive); return the row id.

        A new suppression supersedes (lifts) any active one for the account, so it can
        shorten as well as extend the period. ``reason`` is required: a suppression
        without a why cannot be reviewed.
        """
        account = check_account(account_id)
        day = iso_date(until)
        if not reason or not reason.strip():
            raise ValueError("a suppression needs a reason")
        who = analyst or default_analyst()
        stamp = self._stamp()
        with self._write() as conn:
            conn.execute(
                "UPDATE suppressions SET lifted_at = ?, lifted_by = ?"
                " WHERE account_id = ? AND lifted_at IS NULL",
                (stamp, who, account),
            )
            cursor = conn.execute(
                "INSERT INTO suppressions (account_id, until, reason, analyst, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (account, day, reason, who, stamp),
            )
            return int(cursor.lastrowid or 0)

    def unsuppress(self, account_id: str, analyst: str | None = None) -> int:
        """Lift the account's suppression now; return how many were lifted (0 if none).

        The row is kept with ``lifted_at``/``lifted_by`` set, for audit.
        """
        account = check_account(account_id)
        who = analyst or default_analyst()
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE suppressions SET lifted_at = ?, lifted_by = ?"
                " WHERE account_id = ? AND lifted_at IS NULL",
                (self._stamp(), who, account),
            )
            return int(cursor.rowcount)

    def active_suppressions(self, on: DateLike) -> set[str]:
        """Accounts suppressed on day ``on``: not lifted and ``until >= on`` (inclusive).

        A suppression applies from the moment it is recorded to every date through
        ``until``, including re-runs of earlier dates.
        """
        day = iso_date(on)
        rows = self._conn.execute(
            "SELECT DISTINCT account_id FROM suppressions WHERE lifted_at IS NULL AND until >= ?",
            (day,),
        ).fetchall()
        return {row[0] for row in rows}

    _SUPPRESSION_COLUMNS: Final = (
        ACCOUNT_ID,
        UNTIL,
        REASON,
        ANALYST,
        CREATED_AT,
        LIFTED_AT,
        LIFTED_BY,
    )

    def suppressions_frame(self, *, include_lifted: bool = False) -> pd.DataFrame:
        """Suppressions, newest first: the current ones (expired included, ``until`` shows
        it), or with ``include_lifted`` the whole history including lifted ones.

        Columns: ``account_id, until, reason, analyst, created_at, lifted_at, lifted_by``.
        """
        where = "" if include_lifted else " WHERE lifted_at IS NULL"
        return self._frame(
            "SELECT account_id, until, reason, analyst, created_at, lifted_at, lifted_by"
            " FROM suppressions" + where + " ORDER BY id DESC",
            (),
            self._SUPPRESSION_COLUMNS,
        )
