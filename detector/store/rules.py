"""Suppression rules as the store keeps them: added with a reason and an expiry, removed
(kept for audit), listed. What they cover is :mod:`detector.rules`' business."""

from __future__ import annotations

from typing import Final

import pandas as pd

from detector.config import DEFAULT, Config
from detector.rules import check_rule
from detector.store.base import StoreBase
from detector.store.names import DateLike
from detector.store.values import default_analyst, iso_date

__all__ = ["RULE_COLUMNS", "SuppressionRules"]

RULE_COLUMNS: Final[tuple[str, ...]] = (
    "rule_id",
    "field",
    "value",
    "until",
    "reason",
    "analyst",
    "created_at",
    "removed_at",
    "removed_by",
)


class SuppressionRules(StoreBase):
    """Suppression rules: by account, case, org, card, or a user-agent / template pattern."""

    def add_rule(
        self,
        field: str,
        value: str,
        until: DateLike,
        reason: str,
        analyst: str | None = None,
        config: Config = DEFAULT,
    ) -> int:
        """Add a rule active through ``until`` (inclusive); return its id.

        The field and value are checked (:func:`detector.rules.check_rule`); ``until``
        and ``reason`` are required and ``until`` lies within
        ``Config.max_rule_days`` of today.
        """
        value = check_rule(field, value, config)
        if not reason or not reason.strip():
            raise ValueError("a rule needs a reason (--reason)")
        day = iso_date(until)
        today = iso_date(self._now())
        if day < today:
            raise ValueError(f"--until {day} is in the past (today is {today} UTC)")
        latest = pd.Timestamp(today) + pd.Timedelta(days=config.max_rule_days)
        if day > latest.date().isoformat():
            raise ValueError(
                f"--until {day} is more than {config.max_rule_days} days away; rules must "
                "end (renew one when it lapses)"
            )
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO rules (field, value, until, reason, analyst, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (field, value, day, reason, analyst or default_analyst(), self._stamp()),
            )
            return int(cursor.lastrowid or 0)

    def remove_rule(self, rule_id: int, analyst: str | None = None) -> bool:
        """Remove an active rule now (the row is kept for audit); ``False`` if none."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE rules SET removed_at = ?, removed_by = ?"
                " WHERE id = ? AND removed_at IS NULL",
                (self._stamp(), analyst or default_analyst(), int(rule_id)),
            )
            return cursor.rowcount == 1

    def rules_frame(
        self, on: DateLike | None = None, *, include_removed: bool = False
    ) -> pd.DataFrame:
        """Rules by id: those active on ``on`` (not removed, ``until >= on``), or all
        not removed when ``on`` is None; ``include_removed`` adds removed ones."""
        where, params = [], []
        if not include_removed:
            where.append("removed_at IS NULL")
        if on is not None:
            where.append("until >= ?")
            params.append(iso_date(on))
        sql = (
            "SELECT id, field, value, until, reason, analyst, created_at, removed_at, removed_by"
            " FROM rules" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        )
        return self._frame(sql, params, RULE_COLUMNS)
