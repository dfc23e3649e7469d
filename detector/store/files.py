"""The state file on disk: refusing what is not a sound detector store, and WAL mode."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Final

from detector.errors import UserError
from detector.store.names import BUSY_TIMEOUT_S


class StoreError(UserError):
    """The state cannot be used: missing, empty, corrupt, unreadable, or too new.

    A user error (exit 1, one line): the message names the file and how to recover.
    """


_CORRUPT_CODES: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
ENVIRONMENT_CODES: Final = frozenset(
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


def sqlite_code(exc: BaseException) -> int | None:
    """The primary SQLite result code of an error (extended codes folded), if any."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def corrupt_store_error(exc: BaseException, path: Path) -> StoreError | None:
    """A :class:`StoreError` if ``exc`` is SQLite saying the file is not a sound database.

    SQLite notices some damage (a truncated file, overwritten pages) only when a query
    reaches it, long after opening; callers turn such an error into the same one-line
    message as a corrupt file found at open.
    """
    if not isinstance(exc, sqlite3.DatabaseError) or sqlite_code(exc) not in _CORRUPT_CODES:
        return None
    return StoreError(
        f"{path} is corrupt ({exc}); restore it from a backup, or move it aside and "
        f"run `detector init --state {path.parent}` to start an empty store"
    )


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether an error is SQLite's "database is locked" (BUSY / LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)  # pragma: no cover - Python < 3.11


def enable_wal(conn: sqlite3.Connection) -> None:
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


_SQLITE_MAGIC: Final = b"SQLite format 3\x00"


def check_file(path: Path) -> None:
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
