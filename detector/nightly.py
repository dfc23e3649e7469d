"""The nightly batch job: score the last N days, alert only on what is new, leave a record.

A scheduler runs :func:`run_nightly` (``detector nightly``) once a day. One run:

1. checks every option (nothing is locked, read or recorded before they pass);
2. takes ``STATE/nightly.lock`` (two runs never overlap; a stale lock is taken over);
3. opens the store (creating it on the very first run) and recovers what killed runs
   left (see *Publishing*), then records the run as started (``runs`` table);
4. checks the window: every day partition ``date=YYYY-MM-DD`` of the N days ending on
   DATE must exist under ROOT, else the run fails (exit 1) -- never a silently smaller
   window -- unless ``allow_missing``, which records the missing days;
5. chooses the model (see *Model lifecycle*), training one if needed;
6. scores the window with the analysts' active suppressions;
7. selects the alerts (see *Alerts*);
8. stages every output in ``STATE/runs/.DATE.run-<run_id>``, commits the night to the
   store in one transaction, then puts the directory in place as ``STATE/runs/DATE``.

Publishing
----------
The commit of one store transaction (model, scores, the date's alerts, the run's
``ok``) is the publish point. Before it, a failure removes the staging directory and
records the run as ``failed``; the store and ``STATE/runs/DATE`` are as they were.
After it, only renames remain; if the process dies there, the next run finds the
committed run's staging directory and puts it in place. So a night is published
exactly once whatever the moment of a crash. :mod:`detector.faults` names the points
at which the crash-safety tests kill the job.

Model lifecycle
---------------
Bundles live in ``STATE/models/`` and are registered in the store (path relative to
the state dir, payload SHA-256); a registered bundle is used only while its file's
digest is the registered one. A new model is trained when there is none, when the
current one's training data ends more than ``retrain_days`` before DATE, when it
cannot be loaded or is not the registered file, when the window's features drifted
from its training population (max PSI over features > ``psi_threshold``), or when
forced. The reason is recorded in the registry and the summary. Training leaves
out the accounts analysts confirmed as extraction. Next to each bundle,
``<version>.psi.json`` holds the training population's per-feature quantile bins, the
reference for the drift check.

Re-runs are reproducible: the store records which model scored each run date (the
``model_version`` of its ``ok`` run); re-running a date reuses that model while its
file exists, so ``scores.csv`` comes out byte for byte the same (training itself is
seeded, but a re-run never depends on that).

Alerts
------
``new``: flagged today and never alerted before. ``rise``: flagged today, alerted
before with the case closed by a verdict, and the score rose by more than
``Config.rise_margin`` since the account's previous score. Never alerted: a suppressed
account, an account an analyst cleared (latest verdict ``benign``), an account
alerted before that has no verdict yet (its case is still open). A verdict is final,
as in :meth:`detector.store.Store.cases`. Only alerts of earlier run dates count as
"before", so a re-run of a date reproduces that date's alerts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.artifacts import BundleError, load_bundle, read_manifest
from detector.config import DEFAULT, Config
from detector.engines import Engine, SparkOptions
from detector.errors import UserError
from detector.faults import checkpoint
from detector.ingest import IngestError, discover
from detector.model import parse_budget
from detector.pipeline import FeatureResult
from detector.safe import atomic_write_text, fsync_dir
from detector.scoring import ScoreResult, score, score_features, train, write_scores
from detector.store import (
    ALERT_NEW,
    ALERT_RISE,
    DB_FILENAME,
    KIND,
    RUN_FAILED,
    RUN_OK,
    VERDICT,
    ModelRecord,
    Store,
    corrupt_store_error,
)

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_LOCKED",
    "EXIT_OK",
    "LockHeldError",
    "MissingPartitionError",
    "NightlySummary",
    "PublishError",
    "RunLock",
    "check_window",
    "failure_recorded",
    "population_stability",
    "psi_reference",
    "registry_mismatch",
    "run_nightly",
    "select_alerts",
    "validate_options",
]

# --- exit codes (documented in ``detector nightly --help`` and docs/operations.md) ----

EXIT_OK: Final = 0
EXIT_BAD_INPUT: Final = 1
"""Missing day partition, unreadable log, bad date or option."""
EXIT_LOCKED: Final = 2
"""Another run holds ``STATE/nightly.lock``."""
EXIT_INTERNAL: Final = 3
"""Anything else: a bug or a broken state directory."""

# --- layout of the state directory ----------------------------------------------------

RUNS_DIR: Final = "runs"
MODELS_DIR: Final = "models"
LOCK_NAME: Final = "nightly.lock"
SCORES_NAME: Final = "scores.csv"
ALERTS_NAME: Final = "alerts.jsonl"
REPORT_NAME: Final = "report.html"
SUMMARY_NAME: Final = "summary.json"
QUARANTINE_NAME: Final = "quarantine.csv"
PSI_SUFFIX: Final = ".psi.json"
MODEL_NAME: Final = "nightly"
"""Name of the bundles the job trains: versions read ``nightly-<YYYYMMDD>-<digest8>``."""

PSI_EPSILON: Final = 1e-4
"""Share given to an empty bin so the PSI's log ratio stays finite."""
PSI_TOP: Final = 5
UNREADABLE_LOCK_GRACE_S: Final = 60.0
"""A lock file without valid JSON (a crash between create and write) is stale after this."""

REPORT_UNAVAILABLE: Final = "unavailable"
REPORT_WRITTEN: Final = "written"

# alert extra columns
PREVIOUS_SCORE: Final = "previous_score"


# --- errors ---------------------------------------------------------------------------


class MissingPartitionError(IngestError):
    """A day of the window has no partition under the log root (exit 1)."""


class LockHeldError(RuntimeError):
    """Another nightly run holds the lock (exit 2)."""

    exit_code: Final = EXIT_LOCKED


# --- the summary ----------------------------------------------------------------------


@dataclass
class NightlySummary:
    """What one run did: written as ``summary.json`` and returned by :func:`run_nightly`.

    ``ingest`` holds the reconciled counts (``read = kept + duplicates + quarantined``),
    ``timings`` seconds per stage, ``model`` the version used and why it was chosen,
    ``drift`` the PSI figures against the model's training population.
    """

    run_date: str
    run_id: int
    status: str
    out_dir: str
    window: dict[str, Any]
    missing_days: list[str]
    ingest: dict[str, Any]
    accounts: int
    flagged: int
    suppressed: int
    alerts: dict[str, int]
    model: dict[str, Any]
    drift: dict[str, Any]
    report: str
    timings: dict[str, float]
    started_at: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready)."""
        return asdict(self)

    def counts(self) -> dict[str, Any]:
        """The figures recorded with the run in the store (``detector runs``)."""
        return {
            "read": self.ingest.get("read"),
            "kept": self.ingest.get("kept"),
            "duplicates": self.ingest.get("duplicates"),
            "quarantined": self.ingest.get("quarantined"),
            "accounts": self.accounts,
            "flagged": self.flagged,
            "suppressed": self.suppressed,
            "alerts_new": self.alerts.get(ALERT_NEW, 0),
            "alerts_rise": self.alerts.get(ALERT_RISE, 0),
            "missing_days": len(self.missing_days),
            "seconds": self.timings.get("total"),
        }


# --- stage log ------------------------------------------------------------------------


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(when: dt.datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


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


class StageLog:
    """One line per stage on stderr: ``key=value`` text, or one JSON object per line.

    Cron appends stderr to a log file, so lines are plain text without colour or
    progress bars; ``json_lines`` makes them machine-readable. ``quiet`` drops the
    stage lines (warnings still go out). The stream is looked up at write time so
    test runners that swap ``sys.stderr`` capture it.
    """

    def __init__(
        self,
        run_date: dt.date,
        *,
        json_lines: bool = False,
        quiet: bool = False,
        now: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.run_date = run_date.isoformat()
        self.json_lines = json_lines
        self.quiet = quiet
        self._now = now

    def _write(self, line: str) -> None:
        stream = sys.stderr
        stream.write(line + "\n")
        stream.flush()

    def stage(self, stage: str, **fields: Any) -> None:
        """Log that ``stage`` finished, with its figures (``seconds`` last)."""
        if self.quiet:
            return
        if self.json_lines:
            record = {"ts": _iso(self._now()), "level": "info", "date": self.run_date}
            record["stage"] = stage
            record.update({k: _json_value(v) for k, v in fields.items()})
            self._write(json.dumps(record, default=str))
        else:
            parts = [f"stage={stage}", *(f"{k}={_text_value(v)}" for k, v in fields.items())]
            self._write(f"nightly date={self.run_date} " + " ".join(parts))

    def warn(self, message: str) -> None:
        """A warning (always shown, even when quiet)."""
        if self.json_lines:
            record = {"ts": _iso(self._now()), "level": "warning", "date": self.run_date}
            record["message"] = message
            self._write(json.dumps(record))
        else:
            self._write(f"warning: nightly date={self.run_date}: {message}")


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3) if np.isfinite(value) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


class _Timer:
    """Seconds per stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
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


# --- the lock -------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class LockHolder:
    """What a lock file says about the run holding it (fields ``None`` when unreadable)."""

    raw: str
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
            return cls(raw, None, None, None)
        return cls(raw, pid, host, started)

    def describe(self) -> str:
        if self.pid is None:
            return "an unreadable lock file"
        started = _iso(self.started_at) if self.started_at else "?"
        return f"pid {self.pid} on {self.host}, started {started}"


class RunLock:
    """``STATE/nightly.lock``: at most one nightly run per state directory.

    Acquired with ``os.open(O_CREAT | O_EXCL)`` (atomic on a local filesystem) and
    holding ``{"pid", "host", "started_at"}``. A held lock raises
    :class:`LockHeldError` naming the holder. A lock is *stale* -- taken over with a
    warning -- when its process is gone (same host, pid not running), when it is
    older than ``timeout_s``, or when it is unreadable and older than a minute. The
    take-over renames the stale file aside and checks it moved the file it judged,
    so two runs taking over the same stale lock cannot both win.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout_s: float,
        now: Callable[[], dt.datetime] = _utc_now,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._now = now
        self._warn = warn or (lambda message: None)
        self._content: str | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeldError`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        content = json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "started_at": _iso(self._now())}
        )
        for attempt in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._holder()
                why = None if holder is None else self._stale(holder)
                if holder is None:  # released between our open and read: try again
                    continue
                if why is None or attempt:
                    raise LockHeldError(
                        f"{self.path}: another nightly run holds the lock ({holder.describe()}); "
                        "wait for it, or remove the file if that run is certainly dead"
                    ) from None
                self._take_over(holder, why)
                continue
            try:
                os.write(fd, content.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            self._content = content
            return
        raise LockHeldError(f"{self.path}: could not take the lock (another run keeps taking it)")

    def _holder(self) -> LockHolder | None:
        try:
            raw = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        return LockHolder.parse(raw)

    def _stale(self, holder: LockHolder) -> str | None:
        """Why the lock is stale, or ``None`` when its holder may still be running."""
        if holder.pid is None or holder.started_at is None:
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return "lock file vanished"
            if age > UNREADABLE_LOCK_GRACE_S:
                return f"unreadable lock file, {age:.0f} s old"
            return None
        age_s = (self._now() - holder.started_at).total_seconds()
        if age_s > self.timeout_s:
            return (
                f"held by {holder.describe()}, {age_s / 3600:.1f} h ago, longer than the "
                f"{self.timeout_s / 3600:g} h lock timeout"
            )
        if holder.host == socket.gethostname() and not _pid_alive(holder.pid):
            return f"held by {holder.describe()}, but that process is no longer running"
        return None

    def _take_over(self, holder: LockHolder, why: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return  # someone removed it meanwhile; the retry decides
        moved = aside.read_text(encoding="utf-8", errors="replace")
        if moved != holder.raw:
            # another run took the lock over between our read and the rename: give it back
            with suppress(FileExistsError):
                os.link(aside, self.path)
            aside.unlink(missing_ok=True)
            raise LockHeldError(f"{self.path}: another nightly run just took over a stale lock")
        aside.unlink(missing_ok=True)
        self._warn(f"took over stale lock {self.path}: {why}")

    def release(self) -> None:
        """Remove the lock if it is still ours (idempotent)."""
        if self._content is None:
            return
        try:
            current = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            current = None
        if current == self._content:
            self.path.unlink(missing_ok=True)
        elif current is not None:
            self._warn(f"{self.path} was taken over by another run; leaving it in place")
        self._content = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# --- the window -----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The days a run scores and which of them have a partition under the log root."""

    start: dt.date
    end: dt.date
    days: tuple[dt.date, ...]
    missing: tuple[dt.date, ...]
    files: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": len(self.days),
            "days_present": len(self.days) - len(self.missing),
            "files": self.files,
        }


MISSING_RANGES_SHOWN: Final = 5
"""Missing-day ranges named in a message; the rest are counted (the line stays short)."""


def _day_ranges(days: Collection[dt.date]) -> str:
    """``date=`` partitions as consecutive ranges, at most a few named, the rest counted."""
    ordered = sorted(days)
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in ordered:
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
    """The ``window_days`` days ending on ``day`` and which have no ``date=`` partition.

    Only the path is read (hive partitions are pruned from directory names). Raises
    :class:`~detector.ingest.IngestError` when ``logs`` does not exist or holds no log.
    """
    if window_days < 1:
        raise IngestError(f"--window-days must be at least 1, got {window_days}")
    start = day - dt.timedelta(days=window_days - 1)
    days = tuple(start + dt.timedelta(days=i) for i in range(window_days))
    files, _ = discover(logs, start=start, end=day)
    present = {f.partition for f in files if f.partition is not None}
    missing = tuple(d for d in days if d not in present)
    return Window(start, day, days, missing, len(files))


# --- drift (PSI) ----------------------------------------------------------------------


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` per bin: ``len(edges) + 1`` value bins, then one for NaN."""
    finite = np.isfinite(values)
    idx = np.searchsorted(edges, values[finite], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, float((~finite).sum()))
    return counts / max(1, len(values))


def psi_reference(features: pd.DataFrame, bins: int = DEFAULT.psi_bins) -> dict[str, Any]:
    """Per-feature quantile bin edges and shares of a (training) population.

    The cuts are the interior ``bins``-quantiles (observed values, de-duplicated, so a
    mostly-zero feature gets fewer bins); each edge sits halfway between its cut and
    the next observed value above it. Many features have point masses (a neutral
    value, a share of exactly 1); an edge *at* such a value would swing the whole mass
    between two bins on a rounding-level change and report drift that is not there.
    Missing values get their own bin. One vectorised pass per feature, never per
    account.
    """
    quantiles = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    out: dict[str, Any] = {}
    for name in features.columns:  # one iteration per feature
        values = features[name].to_numpy(dtype=float)
        distinct = np.unique(values[np.isfinite(values)])
        edges = np.array([], dtype=float)
        if distinct.size > 1:
            cuts = np.unique(np.quantile(values[np.isfinite(values)], quantiles, method="lower"))
            above = np.searchsorted(distinct, cuts, side="right")
            inner = above < distinct.size
            edges = (cuts[inner] + distinct[above[inner]]) / 2.0
        out[str(name)] = {
            "edges": edges.tolist(),
            "shares": _bin_shares(values, edges).tolist(),
        }
    return {"bins": bins, "epsilon": PSI_EPSILON, "accounts": len(features), "features": out}


def population_stability(reference: dict[str, Any], features: pd.DataFrame) -> pd.Series:
    """PSI of each feature of ``features`` against ``reference``, largest first.

    ``PSI = sum((p - q) * ln(p / q))`` over the reference's bins, with ``p`` the
    current and ``q`` the reference shares, both floored at ``epsilon``. Rule of
    thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 a shifted population. Features
    absent from either side are skipped.
    """
    eps = float(reference.get("epsilon", PSI_EPSILON))
    values: dict[str, float] = {}
    for name, ref in reference.get("features", {}).items():
        if name not in features.columns:
            continue
        edges = np.asarray(ref["edges"], dtype=float)
        q = np.maximum(np.asarray(ref["shares"], dtype=float), eps)
        p = np.maximum(_bin_shares(features[name].to_numpy(dtype=float), edges), eps)
        values[name] = float(np.sum((p - q) * np.log(p / q)))
    return pd.Series(values, dtype=float).sort_values(ascending=False, kind="stable")


def _psi_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name.removesuffix(".bundle") + PSI_SUFFIX)


def _read_psi(bundle: Path) -> dict[str, Any] | None:
    try:
        return json.loads(_psi_path(bundle).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _drift(model_path: Path, version: str, features: pd.DataFrame) -> dict[str, Any]:
    """Drift figures of ``features`` against the model's training population."""
    reference = _read_psi(model_path)
    if reference is None:
        return {"model_version": version, "max_psi": None, "top": [], "note": "no reference"}
    psi = population_stability(reference, features)
    top = [{"feature": str(k), "psi": round(float(v), 4)} for k, v in psi.head(PSI_TOP).items()]
    return {
        "model_version": version,
        "max_psi": round(float(psi.iloc[0]), 4) if len(psi) else 0.0,
        "top": top,
        "features": len(psi),
    }


# --- alerts ---------------------------------------------------------------------------


def select_alerts(
    scores: pd.DataFrame,
    *,
    alerted_before: Collection[str],
    verdicts: pd.Series,
    previous: pd.Series,
    suppressed: Collection[str],
    rise_margin: float = DEFAULT.rise_margin,
) -> pd.DataFrame:
    """Today's alerts from a score table, with set operations over whole columns.

    Parameters
    ----------
    scores : the score table (contract columns, ``band``, optional ``suppressed``).
    alerted_before : accounts alerted on an earlier run date.
    verdicts : each account's latest verdict (``extraction`` / ``benign``), by id.
    previous : each account's previous score (before this run date), by id.
    suppressed : accounts suppressed on this run date.
    rise_margin : score points a closed case must rise by to alert again.

    Returns
    -------
    The alerted rows of ``scores`` in rank order, with ``kind`` (``new`` / ``rise``)
    and ``previous_score`` (NaN when none).
    """
    ids = scores[S.ACCOUNT_ID]
    flagged = scores[S.FLAGGED].astype(bool) & ~ids.isin(set(suppressed))
    if S.SUPPRESSED in scores.columns:
        flagged &= ~scores[S.SUPPRESSED].astype(bool)
    before = pd.Index(list(alerted_before), dtype=object)
    judged = verdicts.dropna()
    cleared = judged.index[judged == S.LABEL_BENIGN]
    open_cases = before.difference(judged.index)
    candidates = flagged & ~ids.isin(cleared) & ~ids.isin(open_cases)
    was_alerted = ids.isin(before).to_numpy()
    prev = previous.reindex(ids.to_numpy()).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        rose = (scores[S.SCORE].to_numpy(dtype=float) - prev) > rise_margin
    new = candidates.to_numpy() & ~was_alerted
    rise = candidates.to_numpy() & was_alerted & rose
    keep = new | rise
    out = scores.loc[keep].copy()
    out[KIND] = np.where(new[keep], ALERT_NEW, ALERT_RISE)
    out[PREVIOUS_SCORE] = prev[keep]
    return out


def _empty_as_none(series: pd.Series) -> pd.Series:
    """Text with empty / missing values as ``None`` (JSON ``null``)."""
    text = series.fillna("").astype(str).astype(object)
    return text.where(text != "", None)


def _alert_records(alerts: pd.DataFrame, run_date: dt.date, version: str) -> list[dict[str, Any]]:
    """``alerts.jsonl`` objects (one per alerted account; alerts are few per night)."""
    frame = pd.DataFrame(
        {
            "account_id": alerts[S.ACCOUNT_ID].astype(str),
            "score": alerts[S.SCORE].astype(float),
            "band": alerts[S.BAND].astype(str) if S.BAND in alerts else "",
            "reasons": alerts[S.REASONS]
            .fillna("")
            .astype(str)
            .map(lambda r: [x for x in r.split(S.REASONS_SEPARATOR) if x]),
            "cluster_id": _empty_as_none(alerts[S.CLUSTER_ID]),
            "kind": alerts[KIND].astype(str),
            "run_date": run_date.isoformat(),
            "model_version": version,
            "previous_score": alerts[PREVIOUS_SCORE].astype(float).round(2),
        }
    )
    records = frame.to_dict("records")
    for record in records:  # NaN is not JSON
        if record["previous_score"] != record["previous_score"]:
            record["previous_score"] = None
    return records


# --- model lifecycle ------------------------------------------------------------------


@dataclass
class _Model:
    """The model a run uses and why."""

    version: str
    path: Path
    reason: str
    trained: bool = False
    reused_for_date: bool = False
    digest: str = ""
    created_at: str = ""
    window_start: str | None = None
    window_end: str | None = None
    training_accounts: int | None = None
    excluded: int | None = None
    features: FeatureResult | None = field(default=None, repr=False, compare=False)
    """The window's features when this run just trained on them (scored without re-reading)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "path": str(self.path),
            "reason": self.reason,
            "action": "train" if self.trained else "reuse",
            "retrained": self.trained,
            "reused_for_date": self.reused_for_date,
            "training_window": [self.window_start, self.window_end],
            "training_accounts": self.training_accounts,
            "excluded_accounts": self.excluded,
        }


def _resolve(store: Store, state: Path, record: ModelRecord) -> Path | None:
    """The bundle of a registry row: its path against the state dir, else by file name.

    The fallback finds rows written before paths were stored relative to the state
    dir (relative to whatever the working directory was) when the file is in
    ``STATE/models``.
    """
    stored = store.model_path(record)
    for candidate in (stored, state / MODELS_DIR / stored.name):
        if candidate.is_file():
            return candidate
    return None


def registry_mismatch(path: Path, record: ModelRecord) -> str | None:
    """Why the file at ``path`` is not the registered model, or ``None`` when it is.

    The registry's digest is the payload SHA-256 of the bundle it registered. The
    file's manifest is read and verified (payload length, SHA-256, HMAC when a key is
    set) without unpickling anything, and its payload digest must be the registered
    one: a bundle swapped for another -- valid, but not the one that scored the
    earlier runs -- is not used.
    """
    try:
        manifest = read_manifest(path)
    except BundleError as exc:
        return str(exc)
    if manifest.get("payload_sha256") != record.digest:
        return (
            f"{path}: payload SHA-256 {str(manifest.get('payload_sha256'))[:12]}... is not the "
            f"registered {record.digest[:12]}... of {record.version} (the file was replaced)"
        )
    return None


def _model_that_scored(store: Store, state: Path, day: dt.date, log: StageLog) -> _Model | None:
    """The registered model of the latest ``ok`` run of ``day``, if its file is intact."""
    latest = store.latest_ok_run(day)
    if latest is None or latest[1] is None:
        return None
    version = str(latest[1])
    models = store.models_frame()
    rows = models[models["version"] == version]
    if rows.empty:
        return None
    record = ModelRecord(*rows.iloc[0][list(models.columns)].tolist())
    path = _resolve(store, state, record)
    if path is None:
        return None
    problem = registry_mismatch(path, record)
    if problem is not None:
        log.warn(f"not reusing {version} for the re-run of {day}: {problem}")
        return None
    model = _from_record(
        record, path, f"re-run of {day}: reusing {version}, the model that scored it"
    )
    model.reused_for_date = True
    return model


def _from_record(record: ModelRecord, path: Path, reason: str) -> _Model:
    return _Model(
        version=record.version,
        path=path,
        reason=reason,
        digest=record.digest,
        created_at=record.trained_at,
        window_start=record.window_start,
        window_end=record.window_end,
    )


def _why_retrain(
    store: Store, state: Path, day: dt.date, retrain_days: int, force: bool, log: StageLog
) -> tuple[_Model | None, str]:
    """The current model to try, or ``None`` and the reason to train a new one."""
    if force:
        return None, "forced (--force-retrain)"
    current = store.current_model()
    if current is None:
        return None, "no model"
    path = _resolve(store, state, current)
    if path is None:
        return None, f"model file missing: {current.path} ({current.version})"
    problem = registry_mismatch(path, current)
    if problem is not None:
        log.warn(f"not using {current.version}: {problem}")
        return None, f"model {current.version} unusable: {problem}"
    if current.window_end is None:
        return None, f"model {current.version} has no recorded training window"
    end = dt.date.fromisoformat(current.window_end)
    age = (day - end).days
    if age > retrain_days:
        return None, (
            f"model older than {retrain_days} days: {current.version} was trained on data "
            f"through {end}, {age} days before {day}"
        )
    return _from_record(current, path, f"current model, trained on data through {end}"), ""


def _labelled_extraction(store: Store) -> set[str]:
    labels = store.labels_frame()
    return set(labels.loc[labels[S.LABEL] == S.LABEL_EXTRACTION, S.ACCOUNT_ID].astype(str))


def _train(
    logs: Path,
    state: Path,
    window: Window,
    *,
    accounts: Path | None,
    exclude: set[str],
    config: Config,
    reason: str,
    quarantine: Path | None = None,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
) -> _Model:
    """Train on the window (without ``exclude``), save the bundle and its PSI reference."""
    models = state / MODELS_DIR
    models.mkdir(parents=True, exist_ok=True)
    path, result, fitted = train(
        logs,
        models,
        accounts=accounts,
        start=window.start,
        end=window.end,
        config=config,
        exclude=exclude,
        name=MODEL_NAME,
        quarantine_path=quarantine,
        engine=engine,
        spark=spark,
    )
    manifest = read_manifest(path, verify=False)
    population = result.features.drop(index=list(exclude & set(result.features.index)))
    reference = psi_reference(population[list(fitted.feature_names_in_)], bins=config.psi_bins)
    reference["version"] = manifest["version"]
    atomic_write_text(_psi_path(path), json.dumps(reference, sort_keys=True) + "\n")
    start_s, end_s = result.window
    return _Model(
        version=str(manifest["version"]),
        path=path,
        reason=reason,
        trained=True,
        digest=str(manifest["payload_sha256"]),
        created_at=str(manifest["created_at"]),
        window_start=start_s[:10],
        window_end=end_s[:10],
        training_accounts=len(population),
        excluded=len(result.features) - len(population),
        features=result,
    )


def _discard_unregistered(store: Store, trained: list[_Model]) -> None:
    """Remove the bundles a failed run trained, unless the registry already knows them.

    A model enters the registry only when its run succeeds, so a failed run leaves no
    half-adopted model behind (training is deterministic: the next run re-creates it).
    """
    known = set(store.models_frame()["version"])
    for model in trained:
        if model.version not in known:
            model.path.unlink(missing_ok=True)
            _psi_path(model.path).unlink(missing_ok=True)


# --- the report (written by another module; optional) ---------------------------------


def _load_report_writer() -> Callable[..., Any] | None:
    """``detector.report.write_report``, or ``None`` when that module is not installed."""
    try:
        from detector.report import write_report  # type: ignore[import-not-found]
    except ImportError:
        return None
    return write_report  # type: ignore[no-any-return]


# --- staging, publishing and recovery -------------------------------------------------
#
# A night is published in two phases. (1) Every output is written into a staging
# directory ``runs/.DATE.run-<run_id>`` and synced. (2) One store transaction records the
# model, the scores, the date's alerts and the run's ``ok``: its commit is the publish
# point. Only then does the staging directory become ``runs/DATE`` (``os.replace``; a
# previous ``runs/DATE`` is moved aside to ``runs/.DATE.old-<run_id>`` first and removed
# after). A crash before the commit leaves the store as it was and a staging directory
# the next run removes; a crash after it leaves a committed night whose directory the
# next run puts in place. Either way the night is published exactly once.

STAGING_MARK: Final = ".run-"
ASIDE_MARK: Final = ".old-"
LEGACY_TMP_MARK: Final = ".tmp-"
"""Temp directories of versions before the two-phase publish: always half an output."""


class PublishError(RuntimeError):
    """The night is committed in the store but its directory could not be put in place."""


def _staging_dir(runs: Path, day: dt.date, run_id: int) -> Path:
    return runs / f".{day.isoformat()}{STAGING_MARK}{run_id}"


def _parse_hidden(path: Path, mark: str) -> tuple[dt.date, int] | None:
    """``(date, run id)`` of ``.DATE<mark><id>``, or ``None`` for any other name."""
    head, sep, tail = path.name[1:].partition(mark)
    if not sep or not tail.isdigit():
        return None
    try:
        return dt.date.fromisoformat(head), int(tail)
    except ValueError:
        return None


def _sync_tree(directory: Path) -> None:
    """fsync every file under ``directory`` and the directories themselves.

    The commit says the night's outputs exist, so they must be on disk before it.
    """
    for path in sorted(directory.rglob("*"), reverse=True):  # files before their dirs
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        elif path.is_dir():
            fsync_dir(path)
    fsync_dir(directory)


def _publish(staged: Path, final: Path, run_id: int) -> None:
    """Put a committed night's staging directory in place as ``final``.

    Safe to repeat after a crash at any step (recovery calls it again).
    """
    aside = final.parent / f".{final.name}{ASIDE_MARK}{run_id}"
    if final.exists():
        os.replace(final, aside)
        fsync_dir(final.parent)
        checkpoint("aside")
    os.replace(staged, final)
    fsync_dir(final.parent)
    checkpoint("published")
    shutil.rmtree(aside, ignore_errors=True)


def _recover(store: Store, state: Path, log: StageLog) -> None:
    """Finish or undo what runs killed half-way left (we hold the lock: nobody else writes).

    - a run still recorded ``running`` was killed before its commit: it is recorded
      as ``failed``, its staging directory removed;
    - a staging directory of a committed run (the last ``ok`` run of its date) is put
      in place: the crash came between the commit and the rename;
    - a previous output moved aside is removed once its date's directory is in place
      (or restored, should its date have none);
    - a bundle in ``models/`` the registry does not know was trained by a run that
      never committed, and is removed (training is deterministic: it comes back if
      needed).
    """
    for run_id in store.abandon_running(
        "did not finish: killed or lost power before recording its end "
        f"(found by the run started {_iso(_utc_now())})"
    ):
        log.warn(f"run {run_id} was left running by a process that died: recorded as failed")
    runs = state / RUNS_DIR
    if runs.is_dir():
        for staged in sorted(runs.glob(f".*{STAGING_MARK}*")):
            parsed = _parse_hidden(staged, STAGING_MARK)
            if parsed is None:
                continue
            day, run_id = parsed
            final = runs / day.isoformat()
            latest = store.latest_ok_run(day)
            if latest is not None and latest[0] == run_id:
                log.warn(f"completing the publish of run {run_id}: {staged} -> {final}")
                _publish(staged, final, run_id)
            else:
                log.warn(f"removing {staged}, staged by run {run_id} which never committed")
                shutil.rmtree(staged, ignore_errors=True)
        for leftover in sorted(runs.glob(f".*{LEGACY_TMP_MARK}*")):
            log.warn(f"removing {leftover}, left by a run that did not finish")
            shutil.rmtree(leftover, ignore_errors=True)
        for aside in sorted(runs.glob(f".*{ASIDE_MARK}*")):
            final = runs / aside.name[1:].split(ASIDE_MARK)[0]
            if final.exists():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                log.warn(f"restoring {final} from {aside}, moved aside by an unfinished run")
                os.replace(aside, final)
    _discard_orphan_models(store, state / MODELS_DIR, log)


def _discard_orphan_models(store: Store, models: Path, log: StageLog) -> None:
    """Remove the job's bundles (and drift references) that the registry does not hold."""
    if not models.is_dir():
        return
    known = set(store.models_frame()["version"])
    for bundle in sorted(models.glob(f"{MODEL_NAME}-*.bundle")):
        version = bundle.name.removesuffix(".bundle")
        if version not in known:
            log.warn(f"removing {bundle}: trained by a run that never committed")
            bundle.unlink(missing_ok=True)
            _psi_path(bundle).unlink(missing_ok=True)


# --- the run --------------------------------------------------------------------------


def _score_window(
    logs: Path,
    model: _Model,
    window: Window,
    *,
    accounts: Path | None,
    config: Config,
    budget: str | None,
    suppressed: set[str],
    quarantine: Path,
    timer: _Timer,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
) -> ScoreResult:
    """Score the window; split the time into ingest, features and scoring."""
    marks: dict[str, float] = {}

    def progress(stage: str, rows: int) -> None:
        marks[stage] = time.perf_counter()

    start = time.perf_counter()
    if model.features is not None:
        # just trained on this window: its features are the ones scoring would rebuild
        scored = score_features(
            model.features,
            load_bundle(model.path),
            model_path=model.path,
            log=logs,
            config=config,
            budget=budget,
            suppressed=suppressed,
            engine=engine,
            spark=spark,
        )
        # reading and features were timed inside the "train" stage
        timer.add("ingest", 0.0)
        timer.add("features", 0.0)
        timer.add("score", time.perf_counter() - start)
        _check_loaded(scored, model)
        return scored
    scored = score(
        logs,
        model.path,
        accounts=accounts,
        start=window.start,
        end=window.end,
        config=config,
        budget=budget,
        suppressed=suppressed,
        quarantine_path=quarantine,
        progress=progress,
        engine=engine,
        spark=spark,
    )
    end = time.perf_counter()
    ingest_end = marks.get("ingest", start)
    features_end = max(marks.get("features", ingest_end), ingest_end)
    timer.add("ingest", ingest_end - start)
    timer.add("features", features_end - ingest_end)
    timer.add("score", end - features_end)
    _check_loaded(scored, model)
    return scored


def _check_loaded(scored: ScoreResult, model: _Model) -> None:
    """The bundle that scored is the registered one (its file may change between reads)."""
    loaded = scored.bundle.manifest.get("payload_sha256")
    if model.digest and loaded != model.digest:
        raise BundleError(
            f"{model.path}: the bundle loaded (payload SHA-256 {str(loaded)[:12]}...) is not "
            f"the registered {model.version} ({model.digest[:12]}...)"
        )


def validate_options(
    *,
    logs: Path,
    date: dt.date,
    state: Path,
    window_days: int,
    accounts: Path | None,
    retrain_days: int,
    psi_threshold: float,
    alert_budget: str | None,
    lock_timeout_hours: float,
    config: Config = DEFAULT,
) -> None:
    """Check every option before any work: raise one :class:`UserError` for the first bad one.

    Nothing is read, locked or recorded before this passes, so a typo costs nothing
    and leaves no trace in the run history.
    """
    if not 1 <= window_days <= config.max_window_days:
        raise UserError(
            f"--window-days must be between 1 and {config.max_window_days}, got {window_days}"
        )
    if date.toordinal() - window_days + 1 < dt.date.min.toordinal():
        raise UserError(
            f"--date {date} with --window-days {window_days}: the window would start "
            "before the year 1; give the real date of the log"
        )
    if retrain_days < 0:
        raise UserError(f"--retrain-days must be 0 or more, got {retrain_days}")
    if not (math.isfinite(psi_threshold) and psi_threshold >= 0):
        raise UserError(f"--psi-threshold must be a number 0 or more, got {psi_threshold}")
    if not (math.isfinite(lock_timeout_hours) and lock_timeout_hours >= 0):
        raise UserError(f"--lock-timeout must be a number of hours, got {lock_timeout_hours}")
    if alert_budget is not None:
        try:
            parse_budget(alert_budget, 100)
        except (TypeError, ValueError):
            raise UserError(
                f"--alert-budget: {alert_budget!r} is neither a count (50) nor a share (2%)"
            ) from None
    if not logs.is_dir():
        raise UserError(
            f"--logs: {logs} is not a directory (the root of the date=YYYY-MM-DD partitions)"
        )
    if accounts is not None and not accounts.is_file():
        raise UserError(f"--accounts: {accounts}: no such file")
    if state.exists() and not state.is_dir():
        raise UserError(f"--state: {state} is not a directory")


_RECORDED: Final = "detector_run_recorded"


def failure_recorded(exc: BaseException) -> int | None:
    """The run id a failed :func:`run_nightly` recorded as ``failed``; ``None`` if none.

    ``None`` means nothing was recorded: the failure came before the run was recorded
    (lock, store), or the store could not take the record either (read-only, full).
    """
    value = getattr(exc, _RECORDED, None)
    return value if isinstance(value, int) else None


def run_nightly(
    *,
    logs: Path,
    date: dt.date,
    state: Path,
    window_days: int = DEFAULT.window_days,
    accounts: Path | None = None,
    allow_missing: bool = False,
    retrain_days: int = DEFAULT.retrain_days,
    psi_threshold: float = DEFAULT.psi_threshold,
    force_retrain: bool = False,
    alert_budget: str | None = None,
    log_json: bool = False,
    now: Callable[[], dt.datetime] | None = None,
    quiet: bool = False,
    lock_timeout_hours: float = DEFAULT.lock_timeout_hours,
    config: Config = DEFAULT,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
) -> NightlySummary:
    """Run the nightly job for ``date``; return its summary (also in ``summary.json``).

    Raises :class:`LockHeldError` when another run holds the lock (nothing is
    recorded), a :class:`~detector.errors.UserError` for bad input (a bad option, a
    missing day partition, an unreadable log, an unusable state store) and anything
    else for internal errors. A failure before the commit leaves the store and
    ``STATE/runs/DATE`` as they were and is recorded as a ``failed`` run when the
    store can take it (:func:`failure_recorded` says). :class:`PublishError` means the
    night committed but its directory is not in place yet; the next run puts it there.
    ``now`` replaces the UTC clock (tests).
    """
    clock = now or _utc_now
    logs, state = Path(logs), Path(state)
    validate_options(
        logs=logs,
        date=date,
        state=state,
        window_days=window_days,
        accounts=accounts,
        retrain_days=retrain_days,
        psi_threshold=psi_threshold,
        alert_budget=alert_budget,
        lock_timeout_hours=lock_timeout_hours,
        config=config,
    )
    log = StageLog(date, json_lines=log_json, quiet=quiet, now=clock)
    timer = _Timer()
    params = {
        "logs": str(logs),
        "date": date.isoformat(),
        "state": str(state),
        "window_days": window_days,
        "accounts": str(accounts) if accounts else None,
        "allow_missing": allow_missing,
        "retrain_days": retrain_days,
        "psi_threshold": psi_threshold,
        "force_retrain": force_retrain,
        "alert_budget": alert_budget,
    }
    lock = RunLock(state / LOCK_NAME, timeout_s=lock_timeout_hours * 3600, now=clock, warn=log.warn)
    with timer.stage("lock"):
        try:
            state.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except OSError as exc:
            raise UserError(
                f"{state}: cannot take the lock {lock.path} ({exc.strerror or exc}); the "
                "state directory must be writable; nothing was run or recorded"
            ) from None
    try:
        checkpoint("locked")
        log.stage("lock", path=str(lock.path), seconds=timer.last("lock"))
        with Store.open(state, create=True, now=now) as store:
            _recover(store, state, log)
            checkpoint("recovered")
            run_id = store.start_run(date, params)
            checkpoint("started")
            runs = state / RUNS_DIR
            staged = _staging_dir(runs, date, run_id)
            trained: list[_Model] = []
            try:
                night = _run(
                    store,
                    run_id,
                    trained,
                    logs=logs,
                    day=date,
                    state=state,
                    runs=runs,
                    tmp=staged,
                    window_days=window_days,
                    accounts=accounts,
                    allow_missing=allow_missing,
                    retrain_days=retrain_days,
                    psi_threshold=psi_threshold,
                    force_retrain=force_retrain,
                    alert_budget=alert_budget,
                    config=config,
                    params=params,
                    started_at=_iso(clock()),
                    log=log,
                    timer=timer,
                    engine=engine,
                    spark=spark,
                )
                with timer.stage("commit"):
                    _commit(store, run_id, night)
            except BaseException as exc:
                shutil.rmtree(staged, ignore_errors=True)
                _record_failure(store, run_id, exc, trained, timer, log)
                raise
            summary = night.summary
            final = runs / date.isoformat()
            try:
                checkpoint("committed")
                log.stage("commit", run=run_id, seconds=timer.last("commit"))
                with timer.stage("publish"):
                    _publish(staged, final, run_id)
            except Exception as exc:
                raise PublishError(
                    f"run {run_id} is committed in the store (its alerts are recorded), but "
                    f"putting {staged} in place as {final} failed ({type(exc).__name__}: "
                    f"{exc}); the next run of the job completes it"
                ) from exc
            log.stage("publish", out=str(final), seconds=timer.last("publish"))
            summary.timings = {**timer.seconds, "total": timer.total()}
            log.stage(
                "done",
                status=RUN_OK,
                out=summary.out_dir,
                model=summary.model["version"],
                flagged=summary.flagged,
                alerts=sum(summary.alerts.values()),
                seconds=timer.total(),
            )
            checkpoint("done")
            return summary
    except BaseException as exc:
        corrupt = corrupt_store_error(exc, state / DB_FILENAME)
        if corrupt is not None:
            raise corrupt from exc
        raise
    finally:
        lock.release()


@dataclass
class _Night:
    """A staged night, ready to commit: what goes into the store in one transaction."""

    summary: NightlySummary
    model: _Model
    scores: pd.DataFrame
    alerts: pd.DataFrame


def _commit(store: Store, run_id: int, night: _Night) -> None:
    """Record the night in one transaction; its commit is the publish point."""
    model, day = night.model, dt.date.fromisoformat(night.summary.run_date)
    with store.transaction():
        if model.trained:
            store.register_model(
                model.version,
                model.path,
                model.digest,
                model.created_at,
                model.window_start,
                model.window_end,
                model.reason,
            )
        store.record_scores(day, night.scores)
        store.delete_alerts_for_run(day)
        store.record_alerts(
            day,
            night.alerts[[S.ACCOUNT_ID, S.SCORE, S.BAND, S.REASONS, KIND]].to_dict("records"),
        )
        store.finish_run(run_id, RUN_OK, night.summary.counts(), model.version, None)
        checkpoint("commit")


def _record_failure(
    store: Store,
    run_id: int,
    exc: BaseException,
    trained: list[_Model],
    timer: _Timer,
    log: StageLog,
) -> None:
    """Record a run that failed before its commit; mark ``exc`` with whether it was."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, UserError):  # name the kind of internal failure
        message = f"{type(exc).__name__}: {message}"
    try:
        store.finish_run(run_id, RUN_FAILED, {"seconds": timer.total()}, None, message)
    except Exception as cleanup:  # keep the original error, say what else failed
        log.warn(f"could not record run {run_id} as failed: {cleanup}")
    else:
        with suppress(AttributeError, TypeError):  # a few built-in exceptions refuse it
            setattr(exc, _RECORDED, run_id)
    try:
        _discard_unregistered(store, trained)
    except Exception as cleanup:
        log.warn(f"could not remove the models this run trained: {cleanup}")


def _run(
    store: Store,
    run_id: int,
    trained_models: list[_Model],
    *,
    logs: Path,
    day: dt.date,
    state: Path,
    runs: Path,
    tmp: Path,
    window_days: int,
    accounts: Path | None,
    allow_missing: bool,
    retrain_days: int,
    psi_threshold: float,
    force_retrain: bool,
    alert_budget: str | None,
    config: Config,
    params: dict[str, Any],
    started_at: str,
    log: StageLog,
    timer: _Timer,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
) -> _Night:
    """The stages of one run, between recording its start and its commit.

    Every output goes into the staging directory ``tmp``; the store is only read.
    Models trained on the way are appended to ``trained_models`` as soon as their
    bundle exists, so the caller can discard them if the run fails.
    """
    # window
    with timer.stage("window"):
        window = check_window(logs, day, window_days)
    missing = [d.isoformat() for d in window.missing]
    if missing and not allow_missing:
        raise MissingPartitionError(
            f"{logs}: no partition for {_day_ranges(window.missing)} in the "
            f"{window_days}-day window {window.start}..{window.end}; restore the "
            "missing day(s) or pass --allow-missing"
        )
    if missing:
        log.warn(f"scoring without {len(missing)} missing day(s): {_day_ranges(window.missing)}")
    log.stage(
        "window",
        start=window.start.isoformat(),
        end=window.end.isoformat(),
        days=len(window.days),
        missing=_day_ranges(window.missing) if missing else [],
        files=window.files,
        seconds=timer.last("window"),
    )
    checkpoint("window")
    tmp.mkdir(parents=True)
    quarantine = tmp / QUARANTINE_NAME
    suppressed = store.active_suppressions(day)
    exclude = _labelled_extraction(store)

    def retrain(reason: str) -> _Model:
        with timer.stage("train"):
            trained = _train(
                logs,
                state,
                window,
                accounts=accounts,
                exclude=exclude,
                config=config,
                reason=reason,
                quarantine=quarantine,
                engine=engine,
                spark=spark,
            )
        trained_models.append(trained)
        checkpoint("trained")
        log.stage(
            "train",
            version=trained.version,
            reason=reason,
            accounts=trained.training_accounts,
            excluded=trained.excluded,
            seconds=timer.last("train"),
        )
        return trained

    def score_with(chosen: _Model) -> ScoreResult:
        scored = _score_window(
            logs,
            chosen,
            window,
            accounts=accounts,
            config=config,
            budget=alert_budget,
            suppressed=suppressed,
            quarantine=quarantine,
            timer=timer,
            engine=engine,
            spark=spark,
        )
        report = scored.result.report
        log.stage(
            "ingest",
            rows=report.read,
            kept=report.kept,
            duplicates=report.duplicates,
            quarantined=report.quarantined,
            seconds=timer.last("ingest"),
        )
        log.stage("features", accounts=len(scored.result.features), seconds=timer.last("features"))
        log.stage(
            "score",
            model=chosen.version,
            accounts=len(scored.scores),
            flagged=int(scored.scores[S.FLAGGED].sum()),
            seconds=timer.last("score"),
        )
        return scored

    # model
    with timer.stage("model"):
        model = None if force_retrain else _model_that_scored(store, state, day, log)
        reason = ""
        if model is None:
            model, reason = _why_retrain(store, state, day, retrain_days, force_retrain, log)
    log.stage(
        "model",
        action="train" if model is None else "reuse",
        version=None if model is None else model.version,
        reason=reason or (model.reason if model else ""),
        seconds=timer.last("model"),
    )
    if model is None:
        model = retrain(reason)
    try:
        scored = score_with(model)
    except BundleError as exc:
        if model.trained:
            raise
        model = retrain(f"model {model.version} unusable: {exc}")
        scored = score_with(model)
    checkpoint("scored")

    # drift
    with timer.stage("drift"):
        drift = _drift(model.path, model.version, scored.result.features)
    drift["threshold"] = psi_threshold
    drift["triggered_retrain"] = False
    max_psi = drift["max_psi"]
    log.stage(
        "drift",
        model=model.version,
        max_psi=max_psi,
        feature=drift["top"][0]["feature"] if drift["top"] else None,
        threshold=psi_threshold,
        seconds=timer.last("drift"),
    )
    if (
        not model.trained
        and not model.reused_for_date
        and max_psi is not None
        and max_psi > psi_threshold
    ):
        top = drift["top"][0]["feature"]
        model = retrain(
            f"drift: max PSI {max_psi:.3f} ({top}) > {psi_threshold:g} against "
            f"{drift['model_version']}"
        )
        scored = score_with(model)
        drift["triggered_retrain"] = True
        after = _drift(model.path, model.version, scored.result.features)
        drift["after_retrain"] = {"model_version": model.version, "max_psi": after["max_psi"]}
    checkpoint("drift")

    # outputs, in the staging dir
    final = runs / day.isoformat()
    with timer.stage("write"):
        scored.result.report.quarantine_path = str(final / QUARANTINE_NAME)
        scored.meta["ingest"] = scored.result.report.to_dict()
        scored.meta["run_date"] = day.isoformat()
        scored.meta["model_reason"] = model.reason
        written = write_scores(scored, tmp / SCORES_NAME)
    log.stage("write", files=len(written), seconds=timer.last("write"))
    checkpoint("written")

    with timer.stage("alerts"):
        before = store.alerted_accounts(day - dt.timedelta(days=1))[S.ACCOUNT_ID]
        latest = store.latest_verdicts()
        verdicts = latest.set_index(S.ACCOUNT_ID)[VERDICT]
        alerts = select_alerts(
            scored.scores,
            alerted_before=before.astype(str).tolist(),
            verdicts=verdicts,
            previous=store.previous_scores(day),
            suppressed=suppressed,
            rise_margin=config.rise_margin,
        )
        records = _alert_records(alerts, day, model.version)
        atomic_write_text(tmp / ALERTS_NAME, "".join(json.dumps(r) + "\n" for r in records))
    kinds = alerts[KIND].value_counts()
    counts = {ALERT_NEW: int(kinds.get(ALERT_NEW, 0)), ALERT_RISE: int(kinds.get(ALERT_RISE, 0))}
    log.stage(
        "alerts", new=counts[ALERT_NEW], rise=counts[ALERT_RISE], seconds=timer.last("alerts")
    )
    checkpoint("alerts")

    with timer.stage("report"):
        writer = _load_report_writer()
        report_status = REPORT_UNAVAILABLE
        if writer is not None:
            writer(
                tmp / REPORT_NAME,
                scores_path=tmp / SCORES_NAME,
                log=logs,
                start=window.start,
                end=window.end,
                state=state,
            )
            report_status = REPORT_WRITTEN
    log.stage("report", status=report_status, seconds=timer.last("report"))
    checkpoint("report")

    ingest = scored.result.report.to_dict()
    summary = NightlySummary(
        run_date=day.isoformat(),
        run_id=run_id,
        status=RUN_OK,
        out_dir=str(final),
        window=window.to_dict(),
        missing_days=missing,
        ingest={
            k: ingest[k]
            for k in (
                "read",
                "kept",
                "duplicates",
                "quarantined",
                "reconciles",
                "files",
                "quarantine_reasons",
                "quarantine_file",
                "missing_optional_columns",
            )
        },
        accounts=len(scored.scores),
        flagged=int(scored.scores[S.FLAGGED].sum()),
        suppressed=int(scored.scores[S.SUPPRESSED].sum()),
        alerts=counts,
        model=model.to_dict(),
        drift=drift,
        report=report_status,
        timings={},
        started_at=started_at,
        params=params,
    )
    summary.timings = {**timer.seconds, "total": timer.total()}
    atomic_write_text(
        tmp / SUMMARY_NAME, json.dumps(summary.to_dict(), indent=1, default=str) + "\n"
    )
    _sync_tree(tmp)
    checkpoint("staged")
    return _Night(summary, model, scored.scores, alerts)


def default_state_dir() -> Path:
    """``$DETECTOR_STATE`` or ``./state``: where ``detector runs`` looks by default."""
    return Path(os.environ.get("DETECTOR_STATE", "state"))


def run_history(state: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs recorded in ``state``, newest first, with counts decoded."""
    with Store.open(state) as store:
        frame = store.runs_frame(limit=limit)
    rows: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):  # one per run (a page of history)
        record = {k: (None if _missing(v) else v) for k, v in record.items()}
        for key in ("counts", "params"):
            text = record.get(key)
            record[key] = json.loads(text) if text else {}
        rows.append(record)
    return rows


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
