"""What the nightly runs left: alerts and per-run scores of every account."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from detector.cases import SINGLE_PREFIX
from detector.schema import (
    ACCOUNT_ID,
    BAND,
    CASE_ID,
    CASE_SCORE,
    FLAGGED,
    REASONS,
    REASONS_SEPARATOR,
    SCORE,
)
from detector.store.base import StoreBase
from detector.store.names import (
    ALERT_KINDS,
    CREATED_AT,
    FIRST_ALERT_DATE,
    KIND,
    LAST_ALERT_DATE,
    LAST_ALERT_SCORE,
    RUN_DATE,
    DateLike,
)
from detector.store.values import as_flag, check_account, iso_date

__all__ = ["History"]

QUEUE_BANDS = ("critical", "high")
"""Bands whose accounts keep their top reason in the score history."""


def _text(frame: pd.DataFrame, column: str, n: int) -> pd.Series:
    """A text column of ``frame`` with missing values empty (all empty when absent)."""
    if column not in frame.columns:
        return pd.Series([""] * n, index=frame.index, dtype=object)
    return frame[column].fillna("").astype(str)


class History(StoreBase):
    """What the nightly runs left: alerts and per-run scores of every account."""

    # -- alerts ------------------------------------------------------------------------

    def record_alerts(self, run_date: DateLike, rows: Iterable[Mapping[str, Any]]) -> int:
        """Record a run's alerts; return how many were new.

        Each row needs ``account_id``, ``score``, ``band``, ``reasons`` (a ``"; "``-joined
        string or a list) and ``kind`` (``new`` or ``rise``). Idempotent per
        ``(run_date, account_id)``: re-recording a date never duplicates, and the first
        recording wins (use :meth:`delete_alerts_for_run` to redo a date).
        """
        day = iso_date(run_date)
        stamp = self._stamp()
        params = []
        for row in rows:
            missing = [k for k in (ACCOUNT_ID, SCORE, BAND, REASONS, KIND) if k not in row]
            if missing:
                raise ValueError(f"alert row lacks {missing}: {dict(row)!r}")
            kind = row[KIND]
            if kind not in ALERT_KINDS:
                raise ValueError(f"alert kind must be one of {ALERT_KINDS}, got {kind!r}")
            reasons = row[REASONS]
            if not isinstance(reasons, str):
                reasons = REASONS_SEPARATOR.join(str(r) for r in reasons)
            score = row[SCORE]
            params.append(
                (
                    day,
                    check_account(row[ACCOUNT_ID]),
                    None if score is None or pd.isna(score) else float(score),
                    "" if row[BAND] is None else str(row[BAND]),
                    reasons,
                    kind,
                    stamp,
                )
            )
        if not params:
            return 0
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO alerts"
                " (run_date, account_id, score, band, reasons, kind, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                params,
            )
            return conn.total_changes - before

    def delete_alerts_for_run(self, run_date: DateLike) -> int:
        """Delete every alert of ``run_date`` (before re-running it); return how many."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM alerts WHERE run_date = ?", (iso_date(run_date),))
            return int(cursor.rowcount)

    def alerts_frame(self, run_date: DateLike | None = None) -> pd.DataFrame:
        """Alerts as recorded (optionally of one run date), by date then account."""
        sql = "SELECT run_date, account_id, score, band, reasons, kind, created_at FROM alerts"
        params: tuple[Any, ...] = ()
        if run_date is not None:
            sql += " WHERE run_date = ?"
            params = (iso_date(run_date),)
        return self._frame(
            sql + " ORDER BY run_date, account_id",
            params,
            (RUN_DATE, ACCOUNT_ID, SCORE, BAND, REASONS, KIND, CREATED_AT),
        )

    def alerted_accounts(self, before_or_on: DateLike) -> pd.DataFrame:
        """Every account alerted on or before a date, with its first and last alert.

        Columns: ``account_id, first_alert_date, last_alert_date, last_alert_score``;
        the nightly job uses it so an account already alerted is not alerted again.
        """
        return self._frame(
            "SELECT account_id, first_alert_date, run_date, score FROM ("
            "  SELECT account_id, run_date, score,"
            "    MIN(run_date) OVER (PARTITION BY account_id) AS first_alert_date,"
            "    ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY run_date DESC) AS rn"
            "  FROM alerts WHERE run_date <= ?"
            ") WHERE rn = 1 ORDER BY account_id",
            (iso_date(before_or_on),),
            (ACCOUNT_ID, FIRST_ALERT_DATE, LAST_ALERT_DATE, LAST_ALERT_SCORE),
        )

    def alerted_on_other_dates(self, run_date: DateLike) -> pd.Series:
        """Every account alerted on some run date other than ``run_date`` (sorted ids).

        What the nightly job must not alert again when it runs ``run_date``: an alert of
        a *later* date counts as much as an earlier one, so a backfilled or out-of-order
        night never raises an account a night after it already raised. Alerts of
        ``run_date`` itself do not count, so re-running that date reproduces them.
        """
        frame = self._frame(
            "SELECT DISTINCT account_id FROM alerts WHERE run_date <> ? ORDER BY account_id",
            (iso_date(run_date),),
            (ACCOUNT_ID,),
        )
        return frame[ACCOUNT_ID].astype(str)

    # -- score history -----------------------------------------------------------------

    def record_scores(self, run_date: DateLike, scores: pd.DataFrame) -> int:
        """Store a run's scores (``account_id, score, flagged``), replacing that date's rows.

        Bulk insert in one transaction; ``flagged`` may be bool, 0/1 or ``true``/``false``
        text (as read back from ``scores.csv``). ``case_id`` (clusters only), ``case_score``,
        ``band`` and the first of ``reasons`` (flagged or high accounts only) are kept too
        when the frame has them (the queue's trend and timeline read them). Returns the
        number of rows stored.
        """
        day = iso_date(run_date)
        missing = [c for c in (ACCOUNT_ID, SCORE, FLAGGED) if c not in scores.columns]
        if missing:
            raise ValueError(f"scores frame lacks columns {missing}")
        accounts = scores[ACCOUNT_ID].astype(str)
        if accounts.duplicated().any():
            dupes = accounts[accounts.duplicated()].unique()[:5].tolist()
            raise ValueError(f"scores frame has duplicate account ids, e.g. {dupes}")
        values = pd.to_numeric(scores[SCORE], errors="raise").astype(float)
        if values.isna().any():
            raise ValueError("scores frame has missing scores")
        flags = as_flag(scores[FLAGGED]).astype(int)
        n = len(scores)
        # kept small: a case of one is stored as '' (read back as acct:<id>), and the top
        # reason only where the queue can show it (flagged, or banded high or above)
        case_id = _text(scores, CASE_ID, n)
        case_id = case_id.where(~case_id.str.startswith(SINGLE_PREFIX), "")
        case_score = (
            pd.to_numeric(scores[CASE_SCORE], errors="coerce").astype(float)
            if CASE_SCORE in scores.columns
            else pd.Series([float("nan")] * n, index=scores.index)
        )
        top_reason = _text(scores, REASONS, n).str.split(REASONS_SEPARATOR, n=1).str[0]
        worth = flags.astype(bool) | _text(scores, BAND, n).isin(QUEUE_BANDS)
        top_reason = top_reason.where(worth.to_numpy(), "")
        params = zip(
            [day] * n,
            accounts.tolist(),
            values.tolist(),
            flags.tolist(),
            case_id.tolist(),
            case_score.astype(object).where(case_score.notna(), None).tolist(),
            _text(scores, BAND, n).tolist(),
            top_reason.fillna("").tolist(),
            strict=True,
        )
        with self._write() as conn:
            conn.execute("DELETE FROM scores WHERE run_date = ?", (day,))
            conn.executemany(
                "INSERT INTO scores (run_date, account_id, score, flagged, case_id, case_score,"
                " band, top_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                params,
            )
        return len(scores)

    def was_scored(self, account_id: str) -> bool:
        """Whether the account appears in the score history of any run.

        ``label`` and ``suppress`` ask this before recording a decision, so a mistyped
        id is caught instead of silently creating a case nobody will ever see.
        """
        row = self._conn.execute(
            "SELECT 1 FROM scores WHERE account_id = ? LIMIT 1", (check_account(account_id),)
        ).fetchone()
        return row is not None

    def previous_scores(self, before: DateLike) -> pd.Series:
        """Each account's latest score from a run strictly before ``before``.

        A float Series named ``score`` indexed by ``account_id``; the nightly job compares
        today's scores with it to raise ``rise`` alerts.
        """
        frame = self._frame(
            "SELECT account_id, score FROM ("
            "  SELECT account_id, score,"
            "    ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY run_date DESC) AS rn"
            "  FROM scores WHERE run_date < ?"
            ") WHERE rn = 1 ORDER BY account_id",
            (iso_date(before),),
            (ACCOUNT_ID, SCORE),
        )
        return frame.set_index(ACCOUNT_ID)[SCORE].astype(float)

    def last_seen(self, since: DateLike, before: DateLike) -> pd.Series:
        """Each account's latest run date from ``since`` up to (not including) ``before``.

        A string Series (``YYYY-MM-DD``) named ``run_date`` indexed by ``account_id``,
        only accounts some run in that span scored: every account with a request in the
        run's window (:mod:`detector.nightly.idle` reads idleness from it).
        """
        frame = self._frame(
            "SELECT account_id, MAX(run_date) FROM scores"
            " WHERE run_date >= ? AND run_date < ? GROUP BY account_id ORDER BY account_id",
            (iso_date(since), iso_date(before)),
            (ACCOUNT_ID, RUN_DATE),
        )
        return frame.set_index(ACCOUNT_ID)[RUN_DATE].astype(str)

    def scores_frame(self, run_date: DateLike) -> pd.DataFrame:
        """The scores stored for one run date (``account_id, score, flagged``)."""
        frame = self._frame(
            "SELECT account_id, score, flagged FROM scores WHERE run_date = ?"
            " ORDER BY score DESC, account_id",
            (iso_date(run_date),),
            (ACCOUNT_ID, SCORE, FLAGGED),
        )
        frame[FLAGGED] = frame[FLAGGED].astype(bool)
        return frame
