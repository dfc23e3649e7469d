"""How a nightly run ends badly: exit codes, the errors that map to them, and whether a
failure was recorded in the store.

The exit codes are documented in ``detector nightly --help`` and docs/operations.md.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Final

from detector.ingest import IngestError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_LOCKED",
    "EXIT_OK",
    "LockHeldError",
    "MissingPartitionError",
    "PublishError",
    "failure_recorded",
    "mark_recorded",
]

EXIT_OK: Final = 0
EXIT_BAD_INPUT: Final = 1
"""Missing day partition, unreadable log, bad date or option, unusable state directory."""
EXIT_LOCKED: Final = 2
"""Another run holds ``STATE/nightly.lock``."""
EXIT_INTERNAL: Final = 3
"""Anything else: a bug, a full disk, a failing store."""


class MissingPartitionError(IngestError):
    """A day of the window has no partition under the log root (exit 1)."""


class LockHeldError(RuntimeError):
    """Another nightly run holds the lock (exit 2)."""

    exit_code: Final = EXIT_LOCKED


class PublishError(RuntimeError):
    """The night is committed in the store but its directory could not be put in place.

    Exit 3; the next run of the job puts the directory in place (see
    :func:`detector.nightly.publish.recover`).
    """


_RECORDED: Final = "detector_run_recorded"


def mark_recorded(exc: BaseException, run_id: int) -> None:
    """Note on ``exc`` that the run failing with it is recorded as ``failed``."""
    with suppress(AttributeError, TypeError):  # a few built-in exceptions refuse attributes
        setattr(exc, _RECORDED, run_id)


def failure_recorded(exc: BaseException) -> int | None:
    """The run id a failed run recorded as ``failed``; ``None`` if nothing was recorded.

    ``None`` means the failure came before the run was recorded (options, lock,
    store), or the store could not take the record either (read-only, full disk).
    """
    value = getattr(exc, _RECORDED, None)
    return value if isinstance(value, int) else None
