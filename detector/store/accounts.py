"""The per-account case list: alerted, judged or suppressed accounts and their status."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from detector.schema import ACCOUNT_ID, LABEL_BENIGN, LABEL_EXTRACTION
from detector.store.base import StoreBase
from detector.store.names import (
    ANALYST,
    CASE_CLEARED,
    CASE_CONFIRMED,
    CASE_OPEN,
    CASE_STATUS,
    CASE_STATUSES,
    CASE_SUPPRESSED,
    LAST_ALERT_DATE,
    LAST_SCORE,
    NOTE,
    SUPPRESSED_UNTIL,
    VERDICT,
    VERDICT_AT,
    DateLike,
)
from detector.store.values import iso_date

__all__ = ["AccountCases"]


class AccountCases(StoreBase):
    """The per-account case list: alerted, judged or suppressed accounts and their status."""

    # -- cases -------------------------------------------------------------------------

    def cases(self, on: DateLike, status: str | Iterable[str] | None = None) -> pd.DataFrame:
        """The analysts' case list as of day ``on``.

        An account is a case if it was alerted on or before ``on``, has a verdict, or is
        suppressed on ``on``. Its status: ``confirmed`` / ``cleared`` when its latest
        verdict is ``extraction`` / ``benign`` (a verdict wins; a benign one only until
        it expires), else ``suppressed`` when a suppression covers ``on``, else ``open``
        (alerted, awaiting a verdict). Verdicts count whenever they were made; alerts and
        scores only up to ``on``. ``status`` keeps only the given status(es).

        Columns: ``account_id, status, last_score`` (latest stored score up to ``on``,
        else the last alert's), ``last_alert_date, verdict, note`` (of the latest
        verdict), ``analyst, verdict_at, suppressed_until``. Sorted open first, then by
        status, then by ``last_score`` descending and ``account_id``.
        """
        day = iso_date(on)
        if status is None:
            wanted: tuple[str, ...] = CASE_STATUSES
        else:
            wanted = (status,) if isinstance(status, str) else tuple(status)
            unknown = [s for s in wanted if s not in CASE_STATUSES]
            if unknown:
                raise ValueError(f"unknown case status {unknown}; expected {CASE_STATUSES}")
        sql = """
        WITH
        sup AS (
            SELECT account_id, MAX(until) AS until FROM suppressions
            WHERE lifted_at IS NULL AND until >= :on GROUP BY account_id
        ),
        la AS (
            SELECT account_id, run_date, score FROM (
                SELECT account_id, run_date, score, ROW_NUMBER() OVER (
                    PARTITION BY account_id ORDER BY run_date DESC) AS rn
                FROM alerts WHERE run_date <= :on
            ) WHERE rn = 1
        ),
        lv AS (
            SELECT v.account_id, v.verdict, v.note, v.analyst, v.created_at, v.expires
            FROM verdicts v
            JOIN (SELECT MAX(id) AS id FROM verdicts GROUP BY account_id) m ON v.id = m.id
        ),
        universe AS (
            SELECT account_id FROM la
            UNION SELECT account_id FROM lv
            UNION SELECT account_id FROM sup
        ),
        cases AS (
            SELECT u.account_id,
                CASE
                    WHEN lv.verdict = :extraction THEN :confirmed
                    WHEN lv.verdict = :benign AND (lv.expires IS NULL OR lv.expires >= :on)
                        THEN :cleared
                    WHEN sup.until IS NOT NULL THEN :suppressed
                    ELSE :open
                END AS status,
                -- the latest stored score: one index seek per case (a join on a
                -- window over the scores had no index: quadratic in the cases)
                COALESCE(
                    (SELECT s.score FROM scores s
                     WHERE s.account_id = u.account_id AND s.run_date <= :on
                     ORDER BY s.run_date DESC LIMIT 1),
                    la.score
                ) AS last_score,
                la.run_date AS last_alert_date,
                lv.verdict, lv.note, lv.analyst, lv.created_at AS verdict_at,
                sup.until AS suppressed_until
            FROM universe u
            LEFT JOIN la ON la.account_id = u.account_id
            LEFT JOIN lv ON lv.account_id = u.account_id
            LEFT JOIN sup ON sup.account_id = u.account_id
        )
        SELECT * FROM cases
        ORDER BY
            CASE status WHEN :open THEN 0 WHEN :suppressed THEN 1
                        WHEN :confirmed THEN 2 ELSE 3 END,
            last_score IS NULL, last_score DESC, account_id
        """
        params = {
            "on": day,
            "extraction": LABEL_EXTRACTION,
            "benign": LABEL_BENIGN,
            "open": CASE_OPEN,
            "suppressed": CASE_SUPPRESSED,
            "confirmed": CASE_CONFIRMED,
            "cleared": CASE_CLEARED,
        }
        columns = (
            ACCOUNT_ID,
            CASE_STATUS,
            LAST_SCORE,
            LAST_ALERT_DATE,
            VERDICT,
            NOTE,
            ANALYST,
            VERDICT_AT,
            SUPPRESSED_UNTIL,
        )
        with self._read():
            frame = self._frame(sql, params, columns)
        frame[LAST_SCORE] = frame[LAST_SCORE].astype(float)
        if len(wanted) < len(CASE_STATUSES):
            frame = frame[frame[CASE_STATUS].isin(wanted)].reset_index(drop=True)
        return frame
