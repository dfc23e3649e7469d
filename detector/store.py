"""The detector's embedded state: analyst verdicts, suppressions, alerts, runs, models.

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

import getpass
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

import pandas as pd

from detector.errors import UserError
from detector.safe import fsync_dir
from detector.schema import (
    ACCOUNT_ID,
    BAND,
    FLAGGED,
    LABEL,
    LABEL_BENIGN,
    LABEL_EXTRACTION,
    LABELS,
    REASONS,
    REASONS_SEPARATOR,
    SCENARIO,
    SCORE,
)

__all__ = [
    "ALERT_KINDS",
    "CASE_STATUSES",
    "DB_FILENAME",
    "MIGRATIONS",
    "RUN_STATUSES",
    "ModelRecord",
    "Store",
    "StoreError",
]

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

# --- schema -----------------------------------------------------------------------------

_V1: Final = """
CREATE TABLE verdicts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL,
    verdict     TEXT NOT NULL CHECK (verdict IN ('extraction', 'benign')),
    note        TEXT NOT NULL DEFAULT '',
    analyst     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX verdicts_account ON verdicts (account_id, id);
CREATE TRIGGER verdicts_no_update BEFORE UPDATE ON verdicts
BEGIN
    SELECT RAISE(ABORT, 'verdicts are append-only');
END;
CREATE TRIGGER verdicts_no_delete BEFORE DELETE ON verdicts
BEGIN
    SELECT RAISE(ABORT, 'verdicts are append-only');
END;

CREATE TABLE suppressions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL,
    until       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    analyst     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    lifted_at   TEXT,
    lifted_by   TEXT
);
CREATE INDEX suppressions_active ON suppressions (account_id) WHERE lifted_at IS NULL;

CREATE TABLE alerts (
    run_date    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    score       REAL,
    band        TEXT NOT NULL DEFAULT '',
    reasons     TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL CHECK (kind IN ('new', 'rise')),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (run_date, account_id)
);
CREATE INDEX alerts_account ON alerts (account_id, run_date);

CREATE TABLE scores (
    run_date    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    score       REAL NOT NULL,
    flagged     INTEGER NOT NULL CHECK (flagged IN (0, 1)),
    PRIMARY KEY (run_date, account_id)
) WITHOUT ROWID;
CREATE INDEX scores_account ON scores (account_id, run_date);

CREATE TABLE runs (
    run_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_date       TEXT NOT NULL,
    params         TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    counts         TEXT,
    model_version  TEXT,
    error          TEXT
);
CREATE INDEX runs_date ON runs (run_date);

CREATE TABLE models (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    version        TEXT NOT NULL UNIQUE,
    path           TEXT NOT NULL,
    digest         TEXT NOT NULL,
    trained_at     TEXT NOT NULL,
    window_start   TEXT,
    window_end     TEXT,
    reason         TEXT NOT NULL DEFAULT '',
    registered_at  TEXT NOT NULL
);
"""

MIGRATIONS: Final[tuple[str, ...]] = (_V1,)
"""Schema scripts in order; script ``i`` brings the database to version ``i + 1``.

Append only: a released script is never edited, a change is a new script.
"""

_SCHEMA_VERSION_DDL: Final = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL
)
"""


class StoreError(UserError):
    """The state cannot be used: missing, empty, corrupt, unreadable, or too new.

    A user error (exit 1, one line): the message names the file and how to recover.
    """


_CORRUPT_CODES: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_ENVIRONMENT_CODES: Final = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PERM,
    }
)
"""SQLite failures caused by the state directory's environment (permissions, disk)."""


def _sqlite_code(exc: BaseException) -> int | None:
    """The primary SQLite result code of an error (extended codes folded), if any."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def corrupt_store_error(exc: BaseException, path: Path) -> StoreError | None:
    """A :class:`StoreError` if ``exc`` is SQLite saying the file is not a sound database.

    SQLite notices some damage (a truncated file, overwritten pages) only when a query
    reaches it, long after opening; callers turn such an error into the same one-line
    message as a corrupt file found at open.
    """
    if not isinstance(exc, sqlite3.DatabaseError) or _sqlite_code(exc) not in _CORRUPT_CODES:
        return None
    return StoreError(
        f"{path} is corrupt ({exc}); restore it from a backup, or move it aside and "
        f"run `detector init --state {path.parent}` to start an empty store"
    )


@dataclass(frozen=True)
class ModelRecord:
    """One row of the model registry (see :meth:`Store.register_model`)."""

    version: str
    path: str
    digest: str
    trained_at: str
    window_start: str | None
    window_end: str | None
    reason: str
    registered_at: str


_MODEL_COLUMNS: Final[tuple[str, ...]] = (
    "version",
    "path",
    "digest",
    "trained_at",
    "window_start",
    "window_end",
    "reason",
    "registered_at",
)
_MODEL_SELECT: Final = (
    "SELECT version, path, digest, trained_at, window_start, window_end, reason, registered_at"
    " FROM models"
)

_RUN_COLUMNS: Final[tuple[str, ...]] = (
    "run_id",
    RUN_DATE,
    "started_at",
    "finished_at",
    "status",
    "counts",
    "model_version",
    "error",
    "params",
)

# --- helpers ------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso_instant(value: datetime | str) -> str:
    """ISO-8601 UTC text of an instant; a naive datetime or offset-less string means UTC."""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _iso_date(value: DateLike) -> str:
    """``YYYY-MM-DD`` of a date (a datetime counts by its UTC day, a string is validated)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return date.fromisoformat(value).isoformat()
    raise TypeError(f"expected a date or YYYY-MM-DD string, got {type(value).__name__}")


def _optional_date(value: DateLike | None) -> str | None:
    return None if value is None else _iso_date(value)


def _account(value: Any) -> str:
    """Validate an account id: any non-empty string, stored exactly as given."""
    if not isinstance(value, str) or value == "":
        raise ValueError(f"account id must be a non-empty string, got {value!r}")
    return value


def _default_analyst() -> str:
    """Who is at the keyboard: ``$USER``, else the login name, else ``unknown``."""
    user = os.environ.get("USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry (containers)
        return "unknown"


def _json(value: Mapping[str, Any] | None) -> str:
    """Deterministic JSON of a params / counts mapping (dates and paths become strings)."""
    return json.dumps(dict(value or {}), sort_keys=True, default=str)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether an error is SQLite's "database is locked" (BUSY / LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)  # pragma: no cover - Python < 3.11


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the database to WAL, retrying while another process holds the lock.

    Switching the journal mode needs an exclusive lock and SQLite reports a conflict
    immediately, without the busy handler, so several processes opening a fresh state
    directory at once would otherwise fail with "database is locked". WAL is persistent
    in the file: once one opener succeeds, the others find it already set.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _split_script(script: str) -> Iterator[str]:
    """Split an SQL script into statements (``executescript`` would commit mid-migration).

    ``sqlite3.complete_statement`` decides where a statement ends, so semicolons inside
    string literals and ``CREATE TRIGGER ... BEGIN ...; END`` bodies are handled.
    """
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            buffer = ""
            if statement != ";":
                yield statement
    if buffer.strip(" \t\r\n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]!r}")


def _as_flag(series: pd.Series) -> pd.Series:
    """Booleans from a ``flagged`` column: bool, 0/1, or ``"true"``/``"false"`` text (CSV)."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.fillna(0).astype(bool)
    text = series.astype(str).str.strip().str.lower()
    return text.isin(("true", "1", "yes", "t"))


_SQLITE_MAGIC: Final = b"SQLite format 3\x00"


def _check_file(path: Path) -> None:
    """Refuse a ``state.sqlite`` that is not a regular, non-empty SQLite file.

    SQLite itself would open a 0-byte file as a brand-new database, which is exactly
    the silent loss of every verdict this guards against.
    """
    if not path.is_file():
        raise StoreError(f"{path} is not a regular file; restore the state store from a backup")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the state store ({exc.strerror or exc})") from None
    if not head:
        raise StoreError(
            f"{path} is empty (0 bytes): the verdicts, suppressions and alert history are "
            "not in it; restore it from a backup, or move it aside and run "
            f"`detector init --state {path.parent}` to start over (the next night then "
            "alerts every flagged account again)"
        )
    if head != _SQLITE_MAGIC:
        raise StoreError(
            f"{path} is not an SQLite database (corrupt or overwritten); restore it from a "
            f"backup, or move it aside and run `detector init --state {path.parent}`"
        )


# --- the store ----------------------------------------------------------------------------


class Store:
    """The SQLite state of one detector deployment.

    Open with :meth:`Store.open` (a context manager). Methods that write run in their own
    ``BEGIN IMMEDIATE`` transaction; methods that return frames read a consistent
    snapshot.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Wrap an open connection; use :meth:`open` rather than calling this directly."""
        self._conn = conn
        self.path = path
        self._now = now
        self._tx_depth = 0

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        state_dir: str | os.PathLike[str],
        *,
        create: bool = False,
        now: Callable[[], datetime] | None = None,
        migrations: Sequence[str] = MIGRATIONS,
    ) -> Store:
        """Open ``state_dir/state.sqlite`` and bring its schema up to date.

        ``create`` makes a new, empty store when the directory holds none (the nightly
        job's first run and ``detector init`` pass it; analyst commands never do, so a
        mistyped ``--state`` is an error instead of a new empty store). A file that
        exists but is empty, corrupt or not a detector store is always an error.
        ``now`` replaces the UTC clock (tests). ``migrations`` defaults to
        :data:`MIGRATIONS`; tests pass a longer list to exercise upgrades.

        Raises :class:`StoreError` (one line: what and how to recover) when the store is
        missing (without ``create``), unusable, or written by a newer schema.
        """
        directory = Path(state_dir)
        path = directory / DB_FILENAME
        if directory.exists() and not directory.is_dir():
            raise StoreError(f"{directory} is not a directory; --state names the state directory")
        if not path.exists():
            if not create:
                raise StoreError(
                    f"{directory}: no detector state here (no {DB_FILENAME}); check --state, "
                    f"or create one with `detector init --state {directory}`"
                )
            directory.mkdir(parents=True, exist_ok=True)
            cls._create_file(path, migrations, now or _utc_now)
        _check_file(path)
        try:
            # timeout= sets SQLite's busy_timeout: a locked database is waited for.
            # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT.
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the state store ({exc})") from None
        try:
            _enable_wal(conn)
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, path, now or _utc_now)
            store._migrate(migrations, fresh=False)
        except sqlite3.DatabaseError as exc:
            conn.close()
            corrupt = corrupt_store_error(exc, path)
            if corrupt is not None:
                raise corrupt from None
            if _sqlite_code(exc) not in _ENVIRONMENT_CODES:
                raise  # e.g. a broken migration script: a bug, not the user's doing
            raise StoreError(f"{path}: cannot use the state store ({exc})") from None
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def _create_file(
        cls, path: Path, migrations: Sequence[str], now: Callable[[], datetime]
    ) -> None:
        """Build a new store under a temporary name, then link it into place.

        ``os.link`` never replaces an existing file, so when several processes create
        the same store at once exactly one file wins and the others open it; and a
        crash half-way leaves only the temporary file, never an empty ``state.sqlite``.
        """
        tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            cls(conn, tmp, now)._migrate(migrations, fresh=True)
            conn.execute("PRAGMA journal_mode = WAL").fetchall()
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created the store first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction around several writes: all of them commit, or none.

        ``BEGIN IMMEDIATE`` takes the write lock up front; every write method called
        inside the block joins this transaction instead of committing on its own. If
        the block raises, everything is rolled back. Nested blocks join the outer one.
        """
        with self._write():
            yield

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` takes the lock now, so writers queue.

        Inside :meth:`transaction` it joins the open transaction (the outermost block
        commits or rolls back).
        """
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self._conn
            finally:
                self._tx_depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._tx_depth = 1
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                with suppress(sqlite3.Error):  # keep the original error
                    self._conn.execute("ROLLBACK")
            raise
        finally:
            self._tx_depth = 0

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction, so multi-statement reads see one snapshot."""
        self._conn.execute("BEGIN")
        try:
            yield self._conn
        finally:
            self._conn.execute("COMMIT")

    def _stamp(self) -> str:
        return _iso_instant(self._now())

    def _frame(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any], columns: Sequence[str]
    ) -> pd.DataFrame:
        """Run a query and return its rows as a DataFrame with the given column names."""
        rows = self._conn.execute(sql, params).fetchall()
        return pd.DataFrame.from_records(rows, columns=list(columns))

    # -- schema ------------------------------------------------------------------------

    def _check_version(self, version: int, known: int) -> None:
        if version > known:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this code "
                f"understands ({known}); upgrade the detector"
            )

    def _migrate(self, migrations: Sequence[str], *, fresh: bool) -> None:
        """Apply the scripts the database has not seen yet, all in one transaction.

        An up-to-date database is detected without taking the write lock, so opening
        the store (every analyst command does) never waits behind a nightly write. Only
        a ``fresh`` file (being created) may lack the ``schema_version`` table; any
        other file without it is not a detector store.
        """
        if not fresh:
            has_table = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if has_table is None:
                raise StoreError(
                    f"{self.path} holds no detector schema (not a detector store, or "
                    "damaged); restore it from a backup, or move it aside and run "
                    f"`detector init --state {self.path.parent}`"
                )
        version = 0 if fresh else self.schema_version
        self._check_version(version, len(migrations))
        if version == len(migrations):
            return
        with self._write() as conn:
            conn.execute(_SCHEMA_VERSION_DDL)
            # re-read under the lock: another process may have migrated meanwhile
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            version = int(current.fetchone()[0])
            self._check_version(version, len(migrations))
            stamp = self._stamp()
            for number, script in enumerate(migrations[version:], start=version + 1):
                for statement in _split_script(script):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (number, stamp),
                )

    @property
    def schema_version(self) -> int:
        """The highest migration applied to this database."""
        row = self._conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(row.fetchone()[0])

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
        account = _account(account_id)
        if verdict not in LABELS:
            raise ValueError(f"verdict must be one of {LABELS}, got {verdict!r}")
        who = analyst or _default_analyst()
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
        account = _account(account_id)
        day = _iso_date(until)
        if not reason or not reason.strip():
            raise ValueError("a suppression needs a reason")
        who = analyst or _default_analyst()
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
        account = _account(account_id)
        who = analyst or _default_analyst()
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
        day = _iso_date(on)
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

    # -- alerts ------------------------------------------------------------------------

    def record_alerts(self, run_date: DateLike, rows: Iterable[Mapping[str, Any]]) -> int:
        """Record a run's alerts; return how many were new.

        Each row needs ``account_id``, ``score``, ``band``, ``reasons`` (a ``"; "``-joined
        string or a list) and ``kind`` (``new`` or ``rise``). Idempotent per
        ``(run_date, account_id)``: re-recording a date never duplicates, and the first
        recording wins (use :meth:`delete_alerts_for_run` to redo a date).
        """
        day = _iso_date(run_date)
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
                    _account(row[ACCOUNT_ID]),
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
            cursor = conn.execute("DELETE FROM alerts WHERE run_date = ?", (_iso_date(run_date),))
            return int(cursor.rowcount)

    def alerts_frame(self, run_date: DateLike | None = None) -> pd.DataFrame:
        """Alerts as recorded (optionally of one run date), by date then account."""
        sql = "SELECT run_date, account_id, score, band, reasons, kind, created_at FROM alerts"
        params: tuple[Any, ...] = ()
        if run_date is not None:
            sql += " WHERE run_date = ?"
            params = (_iso_date(run_date),)
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
            (_iso_date(before_or_on),),
            (ACCOUNT_ID, FIRST_ALERT_DATE, LAST_ALERT_DATE, LAST_ALERT_SCORE),
        )

    # -- score history -----------------------------------------------------------------

    def record_scores(self, run_date: DateLike, scores: pd.DataFrame) -> int:
        """Store a run's scores (``account_id, score, flagged``), replacing that date's rows.

        Bulk insert in one transaction; ``flagged`` may be bool, 0/1 or ``true``/``false``
        text (as read back from ``scores.csv``). Returns the number of rows stored.
        """
        day = _iso_date(run_date)
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
        flags = _as_flag(scores[FLAGGED]).astype(int)
        params = zip(
            [day] * len(scores),
            accounts.tolist(),
            values.tolist(),
            flags.tolist(),
            strict=True,
        )
        with self._write() as conn:
            conn.execute("DELETE FROM scores WHERE run_date = ?", (day,))
            conn.executemany(
                "INSERT INTO scores (run_date, account_id, score, flagged) VALUES (?, ?, ?, ?)",
                params,
            )
        return len(scores)

    def was_scored(self, account_id: str) -> bool:
        """Whether the account appears in the score history of any run.

        ``label`` and ``suppress`` ask this before recording a decision, so a mistyped
        id is caught instead of silently creating a case nobody will ever see.
        """
        row = self._conn.execute(
            "SELECT 1 FROM scores WHERE account_id = ? LIMIT 1", (_account(account_id),)
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
            (_iso_date(before),),
            (ACCOUNT_ID, SCORE),
        )
        return frame.set_index(ACCOUNT_ID)[SCORE].astype(float)

    def scores_frame(self, run_date: DateLike) -> pd.DataFrame:
        """The scores stored for one run date (``account_id, score, flagged``)."""
        frame = self._frame(
            "SELECT account_id, score, flagged FROM scores WHERE run_date = ?"
            " ORDER BY score DESC, account_id",
            (_iso_date(run_date),),
            (ACCOUNT_ID, SCORE, FLAGGED),
        )
        frame[FLAGGED] = frame[FLAGGED].astype(bool)
        return frame

    # -- cases -------------------------------------------------------------------------

    def cases(self, on: DateLike, status: str | Iterable[str] | None = None) -> pd.DataFrame:
        """The analysts' case list as of day ``on``.

        An account is a case if it was alerted on or before ``on``, has a verdict, or is
        suppressed on ``on``. Its status: ``confirmed`` / ``cleared`` when its latest
        verdict is ``extraction`` / ``benign`` (a verdict is final and wins), else
        ``suppressed`` when a suppression covers ``on``, else ``open`` (alerted, awaiting
        a verdict). Verdicts count whenever they were made; alerts and scores only up to
        ``on``. ``status`` keeps only the given status(es).

        Columns: ``account_id, status, last_score`` (latest stored score up to ``on``,
        else the last alert's), ``last_alert_date, verdict, note`` (of the latest
        verdict), ``analyst, verdict_at, suppressed_until``. Sorted open first, then by
        status, then by ``last_score`` descending and ``account_id``.
        """
        day = _iso_date(on)
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
            SELECT v.account_id, v.verdict, v.note, v.analyst, v.created_at FROM verdicts v
            JOIN (SELECT MAX(id) AS id FROM verdicts GROUP BY account_id) m ON v.id = m.id
        ),
        universe AS (
            SELECT account_id FROM la
            UNION SELECT account_id FROM lv
            UNION SELECT account_id FROM sup
        ),
        ls AS (
            SELECT account_id, score FROM (
                SELECT account_id, score, ROW_NUMBER() OVER (
                    PARTITION BY account_id ORDER BY run_date DESC) AS rn
                FROM scores
                WHERE run_date <= :on AND account_id IN (SELECT account_id FROM universe)
            ) WHERE rn = 1
        ),
        cases AS (
            SELECT u.account_id,
                CASE
                    WHEN lv.verdict = :extraction THEN :confirmed
                    WHEN lv.verdict = :benign THEN :cleared
                    WHEN sup.until IS NOT NULL THEN :suppressed
                    ELSE :open
                END AS status,
                COALESCE(ls.score, la.score) AS last_score,
                la.run_date AS last_alert_date,
                lv.verdict, lv.note, lv.analyst, lv.created_at AS verdict_at,
                sup.until AS suppressed_until
            FROM universe u
            LEFT JOIN la ON la.account_id = u.account_id
            LEFT JOIN lv ON lv.account_id = u.account_id
            LEFT JOIN sup ON sup.account_id = u.account_id
            LEFT JOIN ls ON ls.account_id = u.account_id
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

    # -- runs --------------------------------------------------------------------------

    def start_run(self, run_date: DateLike, params: Mapping[str, Any]) -> int:
        """Record that a run for ``run_date`` started with ``params``; return its run id."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (run_date, params, started_at, status) VALUES (?, ?, ?, ?)",
                (_iso_date(run_date), _json(params), self._stamp(), RUN_RUNNING),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        counts: Mapping[str, Any] | None = None,
        model_version: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record a run's outcome (``ok`` or ``failed``), its counts, model and error.

        Raises ``ValueError`` if the run does not exist or has already finished, so a
        run's outcome cannot be silently overwritten.
        """
        if status not in (RUN_OK, RUN_FAILED):
            raise ValueError(f"run status must be 'ok' or 'failed', got {status!r}")
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, counts = ?, model_version = ?,"
                " error = ? WHERE run_id = ? AND status = ?",
                (self._stamp(), status, _json(counts), model_version, error, run_id, RUN_RUNNING),
            )
            if cursor.rowcount != 1:
                raise ValueError(f"run {run_id} does not exist or has already finished")

    def run_status(self, run_id: int) -> str | None:
        """The status of a run (``running`` / ``ok`` / ``failed``), ``None`` if unknown."""
        row = self._conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else str(row[0])

    def latest_ok_run(self, run_date: DateLike) -> tuple[int, str | None] | None:
        """``(run_id, model_version)`` of the last run of ``run_date`` that committed."""
        row = self._conn.execute(
            "SELECT run_id, model_version FROM runs WHERE run_date = ? AND status = ?"
            " ORDER BY run_id DESC LIMIT 1",
            (_iso_date(run_date), RUN_OK),
        ).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def abandon_running(self, error: str) -> list[int]:
        """Mark every run still ``running`` as ``failed`` with ``error``; return their ids.

        Only the holder of the nightly lock calls this: any other run recorded as
        running was killed (``kill -9``, power loss) before it could record its end.
        """
        with self._write() as conn:
            ids = [
                int(row[0])
                for row in conn.execute(
                    "SELECT run_id FROM runs WHERE status = ? ORDER BY run_id", (RUN_RUNNING,)
                )
            ]
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE status = ?",
                (RUN_FAILED, self._stamp(), error, RUN_RUNNING),
            )
        return ids

    def runs_frame(self, limit: int = 50) -> pd.DataFrame:
        """The latest ``limit`` runs, newest first.

        Columns: ``run_id, run_date, started_at, finished_at, status, counts`` (JSON text),
        ``model_version, error, params`` (JSON text).
        """
        return self._frame(
            "SELECT run_id, run_date, started_at, finished_at, status, counts, model_version,"
            " error, params FROM runs ORDER BY run_id DESC LIMIT ?",
            (int(limit),),
            _RUN_COLUMNS,
        )

    # -- model registry ----------------------------------------------------------------

    def register_model(
        self,
        version: str,
        path: str | os.PathLike[str],
        digest: str,
        trained_at: datetime | str,
        window_start: DateLike | None,
        window_end: DateLike | None,
        reason: str,
    ) -> ModelRecord:
        """Add a trained model to the registry; it becomes :meth:`current_model`.

        ``path`` is stored relative to the state directory when it lies inside it (as
        the nightly job's ``models/`` does), else absolute; :meth:`model_path` resolves
        it. ``digest`` is the bundle's payload SHA-256 (from its manifest); whoever
        uses a registered model compares it with the file first.

        Registering the same version again with the same digest is a no-op (a re-run);
        with a different digest it is a ``ValueError`` -- a version names one artefact.
        """
        if not version:
            raise ValueError("model version must be non-empty")
        stored_path = self._relative_to_state(Path(path))
        with self._write() as conn:
            existing = conn.execute(
                "SELECT digest FROM models WHERE version = ?", (version,)
            ).fetchone()
            if existing is not None:
                if existing[0] != digest:
                    raise ValueError(
                        f"model version {version!r} is already registered with another digest"
                    )
            else:
                conn.execute(
                    "INSERT INTO models (version, path, digest, trained_at, window_start,"
                    " window_end, reason, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        version,
                        stored_path,
                        digest,
                        _iso_instant(trained_at),
                        _optional_date(window_start),
                        _optional_date(window_end),
                        reason or "",
                        self._stamp(),
                    ),
                )
            row = conn.execute(
                _MODEL_SELECT + " WHERE version = ?",
                (version,),
            ).fetchone()
        return ModelRecord(*row)

    def _relative_to_state(self, path: Path) -> str:
        """A model path as stored: POSIX text relative to the state dir, else absolute."""
        absolute = Path(os.path.abspath(path))
        state = Path(os.path.abspath(self.path.parent))
        try:
            return absolute.relative_to(state).as_posix()
        except ValueError:
            return str(absolute)

    def model_path(self, record: ModelRecord) -> Path:
        """Where a registered model's file is: its stored path against the state dir.

        Rows written before paths were stored relative to the state dir may hold a
        path relative to some working directory; those resolve, if at all, by file
        name under ``STATE/models/`` (the caller checks the file exists and its digest).
        """
        stored = Path(record.path)
        if stored.is_absolute():
            return stored
        return self.path.parent / stored

    def models_frame(self) -> pd.DataFrame:
        """Every registered model, newest first (columns as :class:`ModelRecord`)."""
        return self._frame(
            _MODEL_SELECT + " ORDER BY id DESC",
            (),
            _MODEL_COLUMNS,
        )

    def model_records(self) -> list[ModelRecord]:
        """Every registered model, newest first."""
        rows = self._conn.execute(_MODEL_SELECT + " ORDER BY id DESC").fetchall()
        return [ModelRecord(*row) for row in rows]

    def current_model(self) -> ModelRecord | None:
        """The most recently registered model, or ``None`` before the first training."""
        row = self._conn.execute(_MODEL_SELECT + " ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else ModelRecord(*row)
