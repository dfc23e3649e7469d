"""The store's connection: opening (never inventing state), transactions, migrations."""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pandas as pd

from detector.safe import fsync_dir
from detector.store.files import (
    ENVIRONMENT_CODES,
    StoreError,
    check_file,
    corrupt_store_error,
    enable_wal,
    sqlite_code,
)
from detector.store.migrations import MIGRATIONS, SCHEMA_VERSION_DDL, split_script
from detector.store.names import BUSY_TIMEOUT_S, DB_FILENAME
from detector.store.values import iso_instant, utc_now

__all__ = ["StoreBase"]


class StoreBase:
    """The connection, transactions and schema of the store; the mixins add the tables.

    Not used alone: :class:`detector.store.Store` joins it with one mixin per concept.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        now: Callable[[], datetime] = utc_now,
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
    ) -> Self:
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
            cls._create_file(path, migrations, now or utc_now)
        check_file(path)
        try:
            # timeout= sets SQLite's busy_timeout: a locked database is waited for.
            # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT.
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the state store ({exc})") from None
        try:
            enable_wal(conn)
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, path, now or utc_now)
            store._migrate(migrations, fresh=False)
        except sqlite3.DatabaseError as exc:
            conn.close()
            corrupt = corrupt_store_error(exc, path)
            if corrupt is not None:
                raise corrupt from None
            if sqlite_code(exc) not in ENVIRONMENT_CODES:
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
    def snapshot(self) -> Iterator[None]:
        """Several reads that must see one state of the store (see :meth:`_read`).

        A view assembled from several reads (a case file: members, statuses, verdicts,
        timeline, alerts) wraps them in one block, so a nightly run committing meanwhile
        is either wholly in it or not at all.
        """
        with self._read():
            yield

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction, so multi-statement reads see one snapshot.

        The store is in WAL mode: a nightly run may commit while an analyst reads, and
        the reads of one view (the queue: accounts, their latest scores, their cases'
        members, the run before) must all see the same state, not two runs mixed. Inside
        an open transaction (a write block, or an outer read) it joins it.
        """
        if self._conn.in_transaction:
            yield self._conn
            return
        self._conn.execute("BEGIN")
        try:
            yield self._conn
        finally:
            self._conn.execute("COMMIT")

    def _stamp(self) -> str:
        return iso_instant(self._now())

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
            conn.execute(SCHEMA_VERSION_DDL)
            # re-read under the lock: another process may have migrated meanwhile
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            version = int(current.fetchone()[0])
            self._check_version(version, len(migrations))
            stamp = self._stamp()
            for number, script in enumerate(migrations[version:], start=version + 1):
                for statement in split_script(script):
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
