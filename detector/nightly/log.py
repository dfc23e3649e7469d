"""The nightly job's stage log, through stdlib :mod:`logging`, and its stage timer.

One record per stage on stderr, plus warnings. Cron appends stderr to a file, so
records are either JSON objects, one per line (``ts, level, date, stage`` and the
stage's figures; warnings carry ``message``) -- the default when stderr is not a
terminal, or with ``--log-json`` -- or ``key=value`` text for a person at a terminal.
Nothing else (no colour, no progress bars) is written. ``quiet`` drops the stage
records; warnings always go out.

The records go to the ``detector.nightly`` logger through a handler attached for the
run only (and not propagated), so embedding the job in another program neither
duplicates its lines nor changes that program's logging.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Final, TextIO

import numpy as np

__all__ = ["LOGGER_NAME", "StageLog", "StageTimer", "iso", "utc_now"]

LOGGER_NAME: Final = "detector.nightly"
_FIELDS: Final = "nightly_fields"


def utc_now() -> dt.datetime:
    """The current UTC instant (the job's clock, replaceable in tests)."""
    return dt.datetime.now(dt.UTC)


def iso(when: dt.datetime) -> str:
    """ISO-8601 UTC text, whole seconds (a naive instant means UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3) if np.isfinite(value) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _text_value(value: Any) -> str:
    """A ``key=value`` value: numbers plain, text quoted when it holds spaces or quotes."""
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if np.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value) or "none"
    text = str(value)
    if text == "" or any(c.isspace() or c in "\"'=" for c in text) or not text.isprintable():
        return json.dumps(text)
    return text


class _JsonFormatter(logging.Formatter):
    def __init__(self, run_date: str, now: Callable[[], dt.datetime]) -> None:
        super().__init__()
        self._date = run_date
        self._now = now

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": iso(self._now()),
            "level": record.levelname.lower(),
            "date": self._date,
        }
        fields = getattr(record, _FIELDS, None)
        if fields is None:
            out["message"] = record.getMessage()
        else:
            out["stage"] = record.getMessage()
            out.update({k: _json_value(v) for k, v in fields.items()})
        return json.dumps(out, default=str)


class _TextFormatter(logging.Formatter):
    def __init__(self, run_date: str) -> None:
        super().__init__()
        self._date = run_date

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, _FIELDS, None)
        if fields is None:
            return f"{record.levelname.lower()}: nightly date={self._date}: {record.getMessage()}"
        parts = [f"stage={record.getMessage()}"]
        parts += [f"{k}={_text_value(v)}" for k, v in fields.items()]
        return f"nightly date={self._date} " + " ".join(parts)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class StageLog:
    """The run's log: :meth:`stage` records and :meth:`warn` warnings on stderr.

    Use as a context manager: the handler is attached on entry and removed on exit.
    ``json_lines`` ``None`` means JSON when stderr is not a terminal.
    """

    def __init__(
        self,
        run_date: dt.date,
        *,
        json_lines: bool | None = None,
        quiet: bool = False,
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        if json_lines is None:
            json_lines = not sys.stderr.isatty()
        self.quiet = quiet
        self._logger = logging.getLogger(LOGGER_NAME)
        self._handler = _StderrHandler()
        date = run_date.isoformat()
        formatter = _JsonFormatter(date, now) if json_lines else _TextFormatter(date)
        self._handler.setFormatter(formatter)

    def __enter__(self) -> StageLog:
        self._logger.addHandler(self._handler)
        self._logger.setLevel(logging.INFO)
        self._logger.propagate = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._logger.removeHandler(self._handler)

    def stage(self, stage: str, **fields: Any) -> None:
        """Log that ``stage`` finished, with its figures (``seconds`` last)."""
        if not self.quiet:
            self._logger.info(stage, extra={_FIELDS: fields})

    def warn(self, message: str) -> None:
        """A warning (always shown, even when quiet)."""
        self._logger.warning(message)


class StageTimer:
    """Seconds per stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as (part of) stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 3)

    def last(self, name: str) -> float:
        return self.seconds.get(name, 0.0)

    def total(self) -> float:
        return round(time.perf_counter() - self.t0, 3)
