"""Analysts' decisions: append-only verdicts and suppressions of accounts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Final

import pandas as pd

from detector.config import DEFAULT
from detector.schema import ACCOUNT_ID, CASE_ID, LABEL, LABEL_BENIGN, LABELS, SCENARIO
from detector.store.base import StoreBase
from detector.store.names import (
    ANALYST,
    CREATED_AT,
    EXPIRES,
    LIFTED_AT,
    LIFTED_BY,
    NOTE,
    REASON,
    UNTIL,
    VERDICT,
    VERDICT_SCORE,
    DateLike,
)
from detector.store.values import check_account, default_analyst, iso_date, iso_instant

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
        *,
        case_id: str = "",
        benign_days: int = DEFAULT.benign_verdict_days,
    ) -> int:
        """Record an analyst's verdict (``extraction`` or ``benign``); return its row id.

        Verdicts are append-only: a new verdict supersedes the previous one for the
        account, and the history stays for audit. ``analyst`` defaults to ``$USER``.
        The verdict keeps the score it answered (the account's latest stored score), so
        a cleared account that later scores well above it alerts again; a ``benign``
        verdict expires ``benign_days`` after today (an ``extraction`` one never does).
        ``case_id`` records that the verdict was given to a whole case.
        """
        ids = self.add_verdicts(
            [account_id], verdict, note, analyst, case_id=case_id, benign_days=benign_days
        )
        return ids[0]

    def add_verdicts(
        self,
        account_ids: Sequence[str],
        verdict: str,
        note: str = "",
        analyst: str | None = None,
        *,
        case_id: str = "",
        benign_days: int = DEFAULT.benign_verdict_days,
    ) -> list[int]:
        """:meth:`add_verdict` for many accounts (a case's members) in one statement.

        One query finds the scores the verdicts answer and one bulk insert records them,
        so labelling a 25,000-account case costs two statements, not 50,000. Returns the
        row ids in the order of ``account_ids``.
        """
        accounts = [check_account(a) for a in account_ids]
        if verdict not in LABELS:
            raise ValueError(f"verdict must be one of {LABELS}, got {verdict!r}")
        if benign_days < 1:
            raise ValueError(f"a benign verdict must hold at least a day, got {benign_days}")
        who = analyst or default_analyst()
        now = self._now()  # once: the stamp and the expiry are of the same instant
        expires = (
            iso_date(now + dt.timedelta(days=benign_days)) if verdict == LABEL_BENIGN else None
        )
        stamp = iso_instant(now)
        with self._write() as conn:
            answered = dict(
                conn.execute(
                    "SELECT account_id, score FROM (SELECT account_id, score, ROW_NUMBER()"
                    " OVER (PARTITION BY account_id ORDER BY run_date DESC) AS rn FROM scores"
                    " WHERE account_id IN (SELECT value FROM json_each(?))) WHERE rn = 1",
                    (json.dumps(accounts),),
                ).fetchall()
            )
            before = conn.execute("SELECT COALESCE(MAX(id), 0) FROM verdicts").fetchone()[0]
            conn.executemany(
                "INSERT INTO verdicts (account_id, verdict, note, analyst, created_at, score,"
                " case_id, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (a, verdict, note or "", who, stamp, answered.get(a), case_id or "", expires)
                    for a in accounts
                ],
            )
            rows = conn.execute(
                "SELECT id FROM verdicts WHERE id > ? ORDER BY id", (before,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    _VERDICT_COLUMNS: Final = (ACCOUNT_ID, VERDICT, NOTE, ANALYST, CREATED_AT)
    _DETAIL_COLUMNS: Final = (*_VERDICT_COLUMNS, VERDICT_SCORE, CASE_ID, EXPIRES)

    def verdict_details(self, *, latest: bool = False) -> pd.DataFrame:
        """Verdicts with what they answered: every one oldest first, or each account's latest.

        Columns: those of :meth:`verdict_history`, then ``verdict_score`` (the score the
        verdict answered), ``case_id`` (when given to a whole case) and ``expires`` (the
        last day a ``benign`` verdict holds).
        """
        where = (
            " WHERE v.id IN (SELECT MAX(id) FROM verdicts GROUP BY account_id)" if latest else ""
        )
        return self._frame(
            "SELECT v.account_id, v.verdict, v.note, v.analyst, v.created_at, v.score,"
            " v.case_id, v.expires FROM verdicts v" + where + " ORDER BY v.id",
            (),
            self._DETAIL_COLUMNS,
        )

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
        *,
        case_id: str = "",
    ) -> int:
        """Suppress alerts for an account through ``until`` (inclusive); return the row id.

        A new suppression supersedes (lifts) any active one for the account, so it can
        shorten as well as extend the period. ``reason`` is required: a suppression
        without a why cannot be reviewed.
        """
        return self.suppress_many([account_id], until, reason, analyst, case_id=case_id)[0]

    def suppress_many(
        self,
        account_ids: Sequence[str],
        until: DateLike,
        reason: str,
        analyst: str | None = None,
        *,
        case_id: str = "",
    ) -> list[int]:
        """:meth:`suppress` for many accounts (a case's members) in two bulk statements.

        Returns the row ids in the order of ``account_ids``.
        """
        accounts = [check_account(a) for a in account_ids]
        day = iso_date(until)
        if not reason or not reason.strip():
            raise ValueError("a suppression needs a reason")
        who = analyst or default_analyst()
        stamp = self._stamp()
        with self._write() as conn:
            conn.execute(
                "UPDATE suppressions SET lifted_at = ?, lifted_by = ?"
                " WHERE lifted_at IS NULL AND account_id IN (SELECT value FROM json_each(?))",
                (stamp, who, json.dumps(accounts)),
            )
            before = conn.execute("SELECT COALESCE(MAX(id), 0) FROM suppressions").fetchone()[0]
            conn.executemany(
                "INSERT INTO suppressions (account_id, until, reason, analyst, created_at,"
                " case_id) VALUES (?, ?, ?, ?, ?, ?)",
                [(a, day, reason, who, stamp, case_id or "") for a in accounts],
            )
            rows = conn.execute(
                "SELECT id FROM suppressions WHERE id > ? ORDER BY id", (before,)
            ).fetchall()
        return [int(r[0]) for r in rows]

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
