"""``STATE/nightly.lock``: at most one nightly run per state directory.

The lock is an exclusive ``fcntl.flock`` on the file, held for the whole run. The
kernel releases it when the holder exits in any way -- including ``kill -9``, an OOM
kill or a crash -- so there is no stale lock to detect or take over, and a live run is
never taken over however long it takes. The file stays in place; while held it says
who holds it (``{"pid", "host", "started_at"}``), and a run that finds it held exits 2
naming the holder -- as probably hung when it has held the lock longer than the
``--lock-timeout``.

``flock`` is local to a host unless the filesystem forwards it: Linux NFS clients
(v4) turn it into an NFS lock, which the server drops when the holder's lease
expires. On other network filesystems, run the job from one host.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from detector.nightly.errors import LockHeldError
from detector.nightly.log import iso, utc_now

__all__ = ["LockHolder", "RunLock"]

_MAX_HOLDER_BYTES = 4096


@dataclass(frozen=True)
class LockHolder:
    """What a lock file says about the run holding it (fields ``None`` when unreadable)."""

    pid: int | None
    host: str | None
    started_at: dt.datetime | None

    @classmethod
    def parse(cls, raw: str) -> LockHolder:
        try:
            data = json.loads(raw)
            pid = int(data["pid"])
            host = str(data["host"])
            started = dt.datetime.fromisoformat(str(data["started_at"]))
            if started.tzinfo is None:
                started = started.replace(tzinfo=dt.UTC)
        except (ValueError, TypeError, KeyError):
            return cls(None, None, None)
        return cls(pid, host, started)

    def describe(self) -> str:
        if self.pid is None:
            return "a run that has not written its details yet"
        started = iso(self.started_at) if self.started_at else "?"
        return f"pid {self.pid} on {self.host}, started {started}"


class RunLock:
    """An exclusive ``flock`` on ``path`` for the life of one run (a context manager).

    :meth:`acquire` never waits: a held lock raises :class:`LockHeldError` naming the
    holder. ``hung_after_s`` only changes that message: a holder older than it is
    called probably hung (it is still never taken over).
    """

    def __init__(
        self,
        path: Path,
        *,
        hung_after_s: float,
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.path = Path(path)
        self.hung_after_s = hung_after_s
        self._now = now
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeldError` (``OSError`` if unwritable)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = LockHolder.parse(os.pread(fd, _MAX_HOLDER_BYTES, 0).decode("utf-8", "replace"))
            os.close(fd)
            raise LockHeldError(self._held_message(holder)) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            content = json.dumps(
                {"pid": os.getpid(), "host": socket.gethostname(), "started_at": iso(self._now())}
            ).encode("utf-8")
            os.ftruncate(fd, 0)
            os.pwrite(fd, content, 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)  # closing releases the lock
            raise
        self._fd = fd

    def _held_message(self, holder: LockHolder) -> str:
        message = f"{self.path}: another nightly run holds the lock ({holder.describe()})"
        if holder.started_at is not None:
            age_s = (self._now() - holder.started_at).total_seconds()
            if age_s > self.hung_after_s:
                return (
                    f"{message} for {age_s / 3600:.1f} h, longer than the "
                    f"{self.hung_after_s / 3600:g} h --lock-timeout: it is probably hung; "
                    "check that process (the lock is freed the moment it exits)"
                )
        return f"{message}; wait for it to finish"

    def release(self) -> None:
        """Clear the holder details and release the lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # the details stay; the lock is released all the same
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
