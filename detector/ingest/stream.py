"""The streaming read of a log: files → raw chunks → checked rows → dedupe → clean chunks.

Every row read ends in exactly one of ``kept``, ``duplicates`` or ``quarantined``, and
is counted as it goes (see :mod:`detector.ingest` for the counting rules). The
quarantine file is published only when the whole log was read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detector import schema as S
from detector.config import DEFAULT, Config
from detector.ingest.dedupe import Deduper
from detector.ingest.discover import LogFile, list_log
from detector.ingest.quarantine import QuarantineWriter
from detector.ingest.raw import RawChunk
from detector.ingest.readers import read_file
from detector.ingest.report import IngestReport
from detector.ingest.span import log_span
from detector.ingest.validate import finalize_dtypes, validate_frame
from detector.ingest.window import TimeBounds, check_times, time_bounds


def _name(paths: Path | Sequence[Path]) -> str:
    """A log's paths as one name for a message."""
    return str(paths) if isinstance(paths, (str, Path)) else ", ".join(map(str, paths))


@dataclass
class Screened:
    """A raw chunk after the contract rules and the time checks.

    ``clean`` holds every row's coerced values; ``reason`` is ``""`` for a valid row;
    ``outside`` marks valid rows outside the window (not part of the read log).
    """

    clean: pd.DataFrame
    reason: np.ndarray
    outside: np.ndarray


def screen(raw: RawChunk, bounds: TimeBounds) -> Screened:
    """Validate a raw chunk and check its timestamps against the file's bounds."""
    checked = validate_frame(raw.frame, raw.reason)
    reason, outside = check_times(checked.clean, checked.reason, bounds)
    return Screened(checked.clean, reason, outside)


@dataclass
class FileCounts:
    """What reading one file added to the run's counts, when it quarantined nothing:
    enough to replay the file from a cache (:meth:`LogReader.replay`)."""

    read: int = 0
    kept: int = 0
    duplicates: int = 0
    outside_window: int = 0
    present_optional: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileCounts:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**data, "present_optional": tuple(data["present_optional"])})


@dataclass
class FileRead:
    """One file's read, as :meth:`LogReader.read` left it (after its last chunk)."""

    counts: FileCounts
    quarantined: int
    ids: np.ndarray
    """The 64-bit hashes of the file's kept request ids, sorted."""
    tags: np.ndarray
    """The account tag each of ``ids`` was kept with (:func:`account_tags`)."""
    self_contained: bool
    """No row of the file was dropped as a duplicate of an *earlier file's* row: its
    kept rows depend on the file alone (given no earlier file shares an id with it)."""

    @property
    def replayable(self) -> bool:
        """Whether the file's kept rows and counts can be replayed without reading it."""
        return self.quarantined == 0 and self.self_contained


class LogReader:
    """The streaming read of a log, file by file (what :func:`iter_clean` runs).

    One deduplication and one quarantine file span the files; :meth:`read` streams a
    file's clean chunks and :meth:`replay` counts a file whose kept rows come from
    elsewhere (a cache) instead, so both give the counts and the kept rows the full read
    would. :meth:`finish` publishes the quarantine file (only after every file).
    """

    def __init__(
        self,
        paths: Path | Sequence[Path],
        *,
        start: dt.date | None,
        end: dt.date | None,
        config: Config,
        quarantine_path: Path | None,
        report: IngestReport,
    ) -> None:
        listing = list_log(paths, start=start, end=end)
        self.files: list[LogFile] = listing.files
        self.report = report
        report.files = [str(f.path) for f in listing.files]
        report.pruned_files, report.ignored_files = listing.pruned, listing.ignored
        report.empty_files = listing.empty
        self._start, self._end, self._config = start, end, config
        self.span, warning = log_span(listing.files, start, end, config)
        """The flat log's span (:mod:`detector.ingest.span`), ``None`` when not held to one."""
        if warning:
            report.warnings.append(f"{_name(paths)}: {warning}")
        self._dedupe = Deduper()
        self._quarantine = QuarantineWriter(quarantine_path)
        self.last: FileRead | None = None
        """The last file :meth:`read` ran to its end with ``describe``."""

    def bounds(self, f: LogFile) -> TimeBounds:
        """The time bounds ``f``'s rows are held to."""
        return time_bounds(f, self._start, self._end, self._config, self.span)

    def read(self, f: LogFile, describe: bool = False) -> Iterator[pd.DataFrame]:
        """Clean, deduplicated chunks of ``f``, counted. With ``describe``, :attr:`last`
        describes the file once the iterator is exhausted (its kept ids cost 8 bytes a
        row until then)."""
        bounds = self.bounds(f)
        counts, quarantined = FileCounts(), 0
        present: set[str] = set()
        hashes: list[np.ndarray] = []
        fresh: list[tuple[np.ndarray, np.ndarray]] = []
        for raw in read_file(f, self._config.chunk_rows):
            present.update(c for c in raw.frame.columns if c in S.OPTIONAL)
            s = screen(raw, bounds)
            outside = int(s.outside.sum())
            counts.outside_window += outside
            counts.read += len(raw.frame) - outside
            bad = s.reason != ""
            valid = ~bad & ~s.outside
            keep = reused = np.zeros(len(bad), dtype=bool)
            if valid.any():
                keep = self._dedupe.keep(s.clean[S.REQUEST_ID], valid, s.clean[S.ACCOUNT_ID])
                reused = self._dedupe.last_conflicts
                if describe:
                    hashes.append(self._dedupe.last_hashes)
                    fresh.append(self._dedupe.last_fresh)
            gone = bad | reused
            if gone.any():
                # one write in file order, rule breaks and reused ids together: the
                # quarantine file and the first reasons do not depend on where chunks
                # end (the Spark engine, which has none, writes the same file)
                why = np.where(reused, S.REASON_ID_REUSED, s.reason)[gone]
                quarantined += self._quarantine_rows(raw, gone, why, f)
            n_keep = int(keep.sum())
            counts.duplicates += int(valid.sum()) - n_keep - int(reused.sum())
            counts.kept += n_keep
            if n_keep:
                # select the kept rows of every column (prompt text included) once, and
                # only when some row goes
                clean = s.clean if keep.all() else s.clean[keep]
                yield finalize_dtypes(clean.reset_index(drop=True))
        counts.present_optional = tuple(sorted(present))
        self._count(counts, f)
        if describe:
            distinct = len(np.unique(np.concatenate(hashes))) if hashes else 0
            ids = np.concatenate([p[0] for p in fresh]) if fresh else np.empty(0, np.uint64)
            tags = np.concatenate([p[1] for p in fresh]) if fresh else np.empty(0, np.uint32)
            order = np.argsort(ids)
            self.last = FileRead(
                counts, quarantined, ids[order], tags[order], self_contained=distinct == len(ids)
            )

    def _quarantine_rows(
        self, raw: RawChunk, rows: np.ndarray, reasons: np.ndarray, f: LogFile
    ) -> int:
        """Count and write ``raw``'s ``rows`` (a mask) to quarantine, one reason each."""
        self.report.add_quarantined(reasons, str(f.path))
        self._quarantine.write(raw.frame[rows], reasons, str(f.path))
        return len(reasons)

    def replay(self, f: LogFile, ids: np.ndarray, tags: np.ndarray, counts: FileCounts) -> bool:
        """Count a file read before (its kept ids, their accounts' tags and its counts,
        see :class:`FileRead`) without reading it, when the full read would keep the
        same rows: none of its ids was kept from an earlier file. Returns False (and
        counts nothing) otherwise; the caller then reads the file."""
        if not self._dedupe.remember(ids, tags):
            return False
        self._count(counts, f)
        return True

    def _count(self, counts: FileCounts, f: LogFile) -> None:
        r = self.report
        r.read += counts.read
        r.kept += counts.kept
        r.duplicates += counts.duplicates
        r.outside_window += counts.outside_window
        if counts.read:  # a file of no row in the window says nothing about the columns
            r.note_file_columns(str(f.path), counts.present_optional)

    def finish(self) -> None:
        """Publish the quarantine file (call after every file was read or replayed)."""
        self.report.quarantine_path = self._quarantine.close()

    def abort(self) -> None:
        """Drop the partial quarantine file (an error, or the consumer stopped early)."""
        self._quarantine.abort()


def iter_clean(
    paths: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    quarantine_path: Path | None = None,
    report: IngestReport | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream the log as clean, deduplicated chunks in contract dtypes.

    ``report`` (created if not given) is filled in as chunks are read; read it after
    the iterator is exhausted. Rows breaking a rule go to ``quarantine_path``, which is
    written only when the iterator runs to the end.
    """
    report = report if report is not None else IngestReport()
    reader = LogReader(
        paths, start=start, end=end, config=config, quarantine_path=quarantine_path, report=report
    )
    try:
        for f in reader.files:
            yield from reader.read(f)
    except BaseException:  # an error, or the consumer stopped early: no partial file
        reader.abort()
        raise
    reader.finish()


def read_log(
    paths: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    quarantine_path: Path | None = None,
) -> tuple[pd.DataFrame, IngestReport]:
    """Read a whole log into one clean frame (for small logs, tests and notebooks)."""
    report = IngestReport()
    chunks = list(
        iter_clean(
            paths,
            start=start,
            end=end,
            config=config,
            quarantine_path=quarantine_path,
            report=report,
        )
    )
    if chunks:
        frame = pd.concat(chunks, ignore_index=True)
    else:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in S.REQUIRED})
    return frame, report
