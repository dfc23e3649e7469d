"""The detector's embedded state: analyst verdicts, suppressions, alerts, runs, models.

A package of one module per concept, joined into :class:`Store` here: ``base``
(connection, transactions, migrations), ``decisions`` (verdicts, suppressions),
``history`` (alerts, per-run scores), ``accounts`` (the per-account case list),
``queue`` (the queue by case), ``rules`` (suppression rules), ``registry`` (runs,
models), ``inputs`` (the nightly job's remembered inputs); ``names``, ``values``,
``files`` and ``migrations`` hold what they share.
Every public name stays importable from ``detector.store``.

Everything that must survive between nightly runs and analyst sessions lives in one
SQLite file, ``STATE_DIR/state.sqlite``. SQLite because the state is small, local and
must be safe under concurrency without a server: a nightly job and several analysts
(``detector`` commands) may write at the same moment.

Design
------
- WAL journal mode: readers never block the writer and vice versa.
- Every write runs inside ``BEGIN IMMEDIATE``: the write lock is taken up front, so
  concurrent writers queue on ``busy_timeout`` (30 s) instead of failing with
  "database is locked" half-way through a transaction.
- Values are always bound parameters; no caller-supplied text (account ids, notes and
  reasons come from investigated accounts or analysts) is ever formatted into SQL.
- The schema is an ordered list of SQL scripts (:data:`MIGRATIONS`); the
  ``schema_version`` table records which have run. Opening applies the missing ones in
  one transaction, so a later version adds a script and old state files upgrade in
  place. Migration scripts are frozen history: they spell column names literally and
  are never edited once released (the DataFrames returned use the contract constants
  of :mod:`detector.schema`).
- Verdicts are append-only (enforced by triggers): the latest row per account is the
  current verdict, earlier rows are the audit trail.
- Timestamps are ISO-8601 UTC strings (microseconds, ``+00:00``); dates are
  ``YYYY-MM-DD``. Both sort correctly as text. The clock is injectable for tests.

- Opening never invents state: :meth:`Store.open` refuses a state directory without
  ``state.sqlite`` unless asked to create one (``create=True``: the nightly job's first
  run, ``detector init``), and refuses a file that exists but is empty, is not an
  SQLite database or holds no detector schema -- treating it as new would silently
  drop every verdict, suppression and alert and re-alert the next night. A new file
  is built under a temporary name and linked into place, so a crash while creating
  it never leaves an empty ``state.sqlite`` behind.
- :meth:`Store.transaction` groups several writes into one transaction (the nightly
  job commits a night's model, scores, alerts and outcome at once); the write
  methods called inside it join it instead of committing on their own.
- Registered model paths are stored relative to the state directory and resolved
  against it (:meth:`Store.model_path`), so the registry does not depend on the
  working directory of whoever ran the job, and a state directory can be moved.

A :class:`Store` wraps one connection and is not meant to be shared between threads;
open one per process or thread.
"""

from __future__ import annotations

from detector.store.base import StoreBase
from detector.store.decisions import Decisions
from detector.store.files import StoreError, corrupt_store_error
from detector.store.inputs import NightlyInputs
from detector.store.migrations import MIGRATIONS
from detector.store.names import (
    ALERT_KINDS,
    ALERT_NEW,
    ALERT_RISE,
    ANALYST,
    BUSY_TIMEOUT_S,
    CASE_CLEARED,
    CASE_CONFIRMED,
    CASE_OPEN,
    CASE_STATUS,
    CASE_STATUSES,
    CASE_SUPPRESSED,
    CREATED_AT,
    DB_FILENAME,
    EXPIRES,
    FIRST_ALERT_DATE,
    KIND,
    LAST_ALERT_DATE,
    LAST_ALERT_SCORE,
    LAST_SCORE,
    LIFTED_AT,
    LIFTED_BY,
    NOTE,
    REASON,
    RUN_DATE,
    RUN_FAILED,
    RUN_OK,
    RUN_RUNNING,
    RUN_STATUSES,
    SUPPRESSED_UNTIL,
    UNTIL,
    VERDICT,
    VERDICT_AT,
    VERDICT_SCORE,
    DateLike,
    RunStatus,
)
from detector.store.queue import QUEUE_COLUMNS, CaseQueue
from detector.store.registry import ModelRecord, Registry
from detector.store.rules import RULE_COLUMNS, SuppressionRules

__all__ = [
    "ALERT_KINDS",
    "ALERT_NEW",
    "ALERT_RISE",
    "ANALYST",
    "BUSY_TIMEOUT_S",
    "CASE_CLEARED",
    "CASE_CONFIRMED",
    "CASE_OPEN",
    "CASE_STATUS",
    "CASE_STATUSES",
    "CASE_SUPPRESSED",
    "CREATED_AT",
    "DB_FILENAME",
    "EXPIRES",
    "FIRST_ALERT_DATE",
    "KIND",
    "LAST_ALERT_DATE",
    "LAST_ALERT_SCORE",
    "LAST_SCORE",
    "LIFTED_AT",
    "LIFTED_BY",
    "MIGRATIONS",
    "NOTE",
    "QUEUE_COLUMNS",
    "REASON",
    "RULE_COLUMNS",
    "RUN_DATE",
    "RUN_FAILED",
    "RUN_OK",
    "RUN_RUNNING",
    "RUN_STATUSES",
    "SUPPRESSED_UNTIL",
    "UNTIL",
    "VERDICT",
    "VERDICT_AT",
    "VERDICT_SCORE",
    "DateLike",
    "ModelRecord",
    "RunStatus",
    "Store",
    "StoreError",
    "corrupt_store_error",
]


class Store(Decisions, CaseQueue, SuppressionRules, Registry, NightlyInputs, StoreBase):
    """The SQLite state of one detector deployment.

    Open with :meth:`Store.open` (a context manager). Methods that write run in their own
    ``BEGIN IMMEDIATE`` transaction; methods that return frames read a consistent
    snapshot.
    """
