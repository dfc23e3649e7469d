"""Names and enumerations of the state store: its frame columns, alert kinds, statuses.

Contract columns come from :mod:`detector.schema`; these are the store's own.
"""

from __future__ import annotations

from datetime import date
from typing import Final, Literal

DB_FILENAME: Final = "state.sqlite"
BUSY_TIMEOUT_S: Final = 30.0
"""How long a writer waits for another writer's lock before giving up."""

# --- names of the store's own frame columns (contract columns come from schema) --------

VERDICT: Final = "verdict"
NOTE: Final = "note"
ANALYST: Final = "analyst"
CREATED_AT: Final = "created_at"
UNTIL: Final = "until"
REASON: Final = "reason"
LIFTED_AT: Final = "lifted_at"
LIFTED_BY: Final = "lifted_by"
KIND: Final = "kind"
RUN_DATE: Final = "run_date"
FIRST_ALERT_DATE: Final = "first_alert_date"
LAST_ALERT_DATE: Final = "last_alert_date"
LAST_ALERT_SCORE: Final = "last_alert_score"
LAST_SCORE: Final = "last_score"
CASE_STATUS: Final = "status"
VERDICT_AT: Final = "verdict_at"
SUPPRESSED_UNTIL: Final = "suppressed_until"
VERDICT_SCORE: Final = "verdict_score"
"""The score a verdict answered (the account's latest stored score when it was given)."""
EXPIRES: Final = "expires"
"""Last day a ``benign`` verdict holds (empty for ``extraction``: it does not lapse)."""

# --- enumerations -----------------------------------------------------------------------

ALERT_NEW: Final = "new"
ALERT_RISE: Final = "rise"
ALERT_KINDS: Final[tuple[str, ...]] = (ALERT_NEW, ALERT_RISE)

CASE_OPEN: Final = "open"
CASE_SUPPRESSED: Final = "suppressed"
CASE_CONFIRMED: Final = "confirmed"
CASE_CLEARED: Final = "cleared"
CASE_STATUSES: Final[tuple[str, ...]] = (CASE_OPEN, CASE_SUPPRESSED, CASE_CONFIRMED, CASE_CLEARED)
"""Case statuses, in the order :meth:`Store.cases` lists them (work queue first)."""

RUN_RUNNING: Final = "running"
RUN_OK: Final = "ok"
RUN_FAILED: Final = "failed"
RUN_STATUSES: Final[tuple[str, ...]] = (RUN_RUNNING, RUN_OK, RUN_FAILED)


RunStatus = Literal["ok", "failed"]
DateLike = date | str
