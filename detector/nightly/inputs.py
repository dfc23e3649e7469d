"""What a nightly run is asked to do, checked before any work, and the window it scores.

:class:`NightlyOptions` holds every option of a run; :meth:`NightlyOptions.validate`
refuses a bad one with one :class:`~detector.errors.UserError` before anything is
locked, read or recorded, so a typo costs nothing and leaves no trace in the run
history. :func:`check_window` then finds which day partitions of the window exist --
from directory names, and each day's files' row counts (Parquet footers, the first
lines of a text file); partitions outside the window are never opened. A day whose
files hold no row is missing like a day without a directory: scoring the window
without it would make the scores look calmer than they are.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from detector.config import DEFAULT, Config
from detector.engines import Engine, SparkOptions
from detector.errors import UserError
from detector.ingest import LogFile, discover, holds_rows
from detector.nightly.errors import MissingPartitionError
from detector.nightly.layout import CACHE_DIR
from detector.output_paths import Input, Output, check_outside_logs, check_paths
from detector.ranking import parse_budget

__all__ = ["NightlyOptions", "Window", "check_window", "day_ranges"]

MISSING_RANGES_SHOWN: Final = 5
"""Missing-day ranges named in a message; the rest are counted (the line stays short)."""


@dataclass(frozen=True)
class NightlyOptions:
    """Every option of one run (``detector nightly``'s flags); defaults from :data:`DEFAULT`.

    ``log_json`` ``None``: JSON log lines when stderr is not a terminal.
    """

    logs: Path
    date: dt.date
    state: Path
    window_days: int = DEFAULT.window_days
    accounts: Path | None = None
    no_accounts: bool = False
    """Score without an account table and forget the one earlier runs recorded."""
    allow_missing: bool = False
    retrain_days: int = DEFAULT.retrain_days
    psi_threshold: float = DEFAULT.psi_threshold
    force_retrain: bool = False
    refit_topics: bool = False
    """A retrain tonight fits a new topic model even when the current one is recent
    (``Config.topic_refit_days``)."""
    alert_budget: str | None = None
    lock_timeout_hours: float = DEFAULT.lock_timeout_hours
    log_json: bool | None = None
    quiet: bool = False
    config: Config = DEFAULT
    engine: Engine = "local"
    spark: SparkOptions | None = None
    annotation_cache: bool = True
    """Replay the days earlier nights annotated (``STATE/cache/annotated``)."""

    @property
    def cache_dir(self) -> Path | None:
        """The annotation cache's directory, ``None`` when it is off."""
        return self.state / CACHE_DIR if self.annotation_cache else None

    def validate(self) -> None:
        """Raise one :class:`UserError` naming the first bad option; read nothing but paths."""
        limit = self.config.max_window_days
        if not 1 <= self.window_days <= limit:
            raise UserError(f"--window-days must be between 1 and {limit}, got {self.window_days}")
        if self.date.toordinal() - self.window_days + 1 < dt.date.min.toordinal():
            raise UserError(
                f"--date {self.date} with --window-days {self.window_days}: the window would "
                "start before the year 1; give the real date of the log"
            )
        if self.retrain_days < 0:
            raise UserError(f"--retrain-days must be 0 or more, got {self.retrain_days}")
        if not (math.isfinite(self.psi_threshold) and self.psi_threshold >= 0):
            raise UserError(f"--psi-threshold must be a number 0 or more, got {self.psi_threshold}")
        if not (math.isfinite(self.lock_timeout_hours) and self.lock_timeout_hours >= 0):
            raise UserError(
                f"--lock-timeout must be a number of hours, got {self.lock_timeout_hours}"
            )
        if self.alert_budget is not None:
            try:
                parse_budget(self.alert_budget, 100)
            except (TypeError, ValueError):
                raise UserError(
                    f"--alert-budget: {self.alert_budget!r} is neither a count (50) nor a "
                    "share (2%)"
                ) from None
        if not self.logs.is_dir():
            raise UserError(
                f"--logs: {self.logs} is not a directory (the root of the date=YYYY-MM-DD "
                "partitions)"
            )
        if self.accounts is not None and self.no_accounts:
            raise UserError("--accounts and --no-accounts contradict each other; give one")
        if self.accounts is not None and not self.accounts.is_file():
            raise UserError(f"--accounts: {self.accounts}: no such file")
        accounts = None if self.accounts is None else Input("--accounts", self.accounts)
        state = Output("--state", self.state, directory=True)
        # the state is created (in an existing directory), never in the log: neither this
        # run's --logs nor another date=-partitioned log around it
        check_paths([state], [Input("--logs", self.logs, log=True), accounts])
        check_outside_logs(state)

    def params(self) -> dict[str, Any]:
        """The options recorded with the run in the store (``detector runs --json``)."""
        return {
            "logs": str(self.logs),
            "date": self.date.isoformat(),
            "state": str(self.state),
            "window_days": self.window_days,
            "accounts": str(self.accounts) if self.accounts else None,
            "no_accounts": self.no_accounts,
            "allow_missing": self.allow_missing,
            "retrain_days": self.retrain_days,
            "psi_threshold": self.psi_threshold,
            "force_retrain": self.force_retrain,
            "refit_topics": self.refit_topics,
            "alert_budget": self.alert_budget,
            "annotation_cache": self.annotation_cache,
        }


@dataclass(frozen=True)
class Window:
    """The days a run scores and which of them have a partition under the log root."""

    start: dt.date
    end: dt.date
    days: tuple[dt.date, ...]
    missing: tuple[dt.date, ...]
    """Days without a partition, or whose partition's files hold no row (``empty``)."""
    files: int
    empty: tuple[dt.date, ...] = ()
    """The missing days that have a partition, but only files of zero rows."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": len(self.days),
            "days_present": len(self.days) - len(self.missing),
            "files": self.files,
        }

    def require_complete(self, logs: Path, allow_missing: bool) -> None:
        """Raise :class:`MissingPartitionError` for missing days unless they are allowed.

        A silently smaller window would make the scores look calmer than they are.
        """
        if self.missing and not allow_missing:
            absent = [d for d in self.missing if d not in self.empty]
            what = [f"no partition for {day_ranges(absent)}"] if absent else []
            if self.empty:
                what.append(f"zero rows in the partition of {day_ranges(self.empty)}")
            raise MissingPartitionError(
                f"{logs}: {' and '.join(what)} in the "
                f"{len(self.days)}-day window {self.start}..{self.end}; restore the "
                "missing day(s) or pass --allow-missing"
            )


def day_ranges(days: Collection[dt.date]) -> str:
    """``date=`` partitions as consecutive ranges, at most a few named, the rest counted."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    parts = [
        f"date={a}" if a == b else f"date={a}..{b} ({(b - a).days + 1} days)"
        for a, b in ranges[:MISSING_RANGES_SHOWN]
    ]
    if len(ranges) > MISSING_RANGES_SHOWN:
        rest = sum((b - a).days + 1 for a, b in ranges[MISSING_RANGES_SHOWN:])
        parts.append(f"and {rest} more day(s)")
    return ", ".join(parts)


def check_window(logs: Path, day: dt.date, window_days: int) -> Window:
    """The ``window_days`` days ending on ``day`` and which have no ``date=`` partition,
    or one whose files hold no row.

    Hive partitions are pruned from directory names; a window day's files are asked
    whether they hold a row (:func:`~detector.ingest.holds_rows`: a Parquet footer, a
    text file's first lines) until one does. Raises
    :class:`~detector.ingest.IngestError` when ``logs`` does not exist or holds no log.
    """
    if window_days < 1:
        raise UserError(f"--window-days must be at least 1, got {window_days}")
    start = day - dt.timedelta(days=window_days - 1)
    days = tuple(start + dt.timedelta(days=i) for i in range(window_days))
    files, _ = discover(logs, start=start, end=day)
    by_day: dict[dt.date, list[LogFile]] = {}
    for f in files:
        if f.partition is not None:
            by_day.setdefault(f.partition, []).append(f)
    empty = tuple(d for d in days if d in by_day and not any(map(holds_rows, by_day[d])))
    missing = tuple(d for d in days if d not in by_day or d in empty)
    return Window(start, day, days, missing, len(files), empty)
