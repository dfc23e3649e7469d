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
from typing import Any, Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.arrowtext import as_arrow, hash_each
from detector.config import DEFAULT, Config
from detector.ingest.discover import LogFile, list_log
from detector.ingest.quarantine import QuarantineWriter
from detector.ingest.raw import RawChunk
from detector.ingest.readers import read_file
from detector.ingest.report import IngestReport
from detector.ingest.validate import finalize_dtypes, validate_frame
from detector.ingest.window import TimeBounds, check_times, time_bounds


def in_sorted(known: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mask of ``values`` present in the sorted array ``known`` (a binary search each:
    ``np.isin`` would hash every element, seconds at 10M)."""
    if len(known) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    return known[np.minimum(np.searchsorted(known, values), len(known) - 1)] == values


RUN_GROWTH: Final = 8
"""Each of :class:`Deduper`'s sorted runs is at least this many times the next newer one:
fewer runs to search (the lookups are most of its time) for a little more merging.
Measured on 10M and 30M simulated hashes: 2 → 2.9 s and 15.4 s, 4 → 2.7 s and 12.5 s,
8 → 2.4 s and 11.6 s."""


class Deduper:
    """Remembers the 64-bit hashes of kept ``request_id`` values across chunks.

    Memory is 8 bytes per kept request (80 MB per 10M). A 64-bit collision between two
    different ids would wrongly count one as a duplicate; at 10M requests the chance
    is about 3 in a million per run.

    The hashes are kept as a few sorted *runs*, each at least :data:`RUN_GROWTH` times
    the size of the next newer one (a log-structured merge): a chunk's new hashes become
    the newest run, and a run is merged into the one before it while that one is less
    than :data:`RUN_GROWTH` times its size. A hash is merged a few times and a lookup
    searches a few runs (2 at 10M requests). Merging every chunk into one sorted array,
    as before, cost time in proportion to everything kept so far, per chunk, so a whole
    read grew with the square of the log: 4.9 s of the reading thread at 10M requests
    and 30 s at 30M, against 2.4 s and 11.6 s with runs (docs/performance.md, "Tenth
    round"). What is left is the binary searches themselves, cache misses on a large run.
    """

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self.last_hashes = np.empty(0, dtype=np.uint64)
        """The hashes :meth:`keep` looked up last (of its valid rows' ids, in order)."""

    @property
    def run_sizes(self) -> tuple[int, ...]:
        """The sizes of the sorted runs, oldest first (a logarithmic number of them)."""
        return tuple(len(r) for r in self._runs)

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    def seen(self, hashes: np.ndarray) -> np.ndarray:
        """Mask of ``hashes`` kept before (sorted ``hashes`` search the runs in order)."""
        found = np.zeros(len(hashes), dtype=bool)
        for run in self._runs:
            found |= in_sorted(run, hashes)
        return found

    def duplicated(self, request_ids: pd.Series) -> np.ndarray:
        """Mask of rows whose id was kept before (in an earlier chunk or earlier here)."""
        # the ids are valid rows' (never blank), hashed from their Arrow bytes as pandas
        # hashes them, with no Python str per id
        h = hash_each(as_arrow(request_ids))
        self.last_hashes = h
        dup = pd.Series(h).duplicated(keep="first").to_numpy()
        # the chunk's first occurrences, sorted: looked up in the sorted runs in order
        # (cache-friendly), and the new ones kept as the newest run
        first = np.flatnonzero(~dup)
        order = np.argsort(h[first])
        fresh = h[first[order]]
        seen = self.seen(fresh)
        dup[first[order[seen]]] = True
        self._add(fresh[~seen])
        return dup

    def _add(self, fresh: np.ndarray) -> None:
        """Keep sorted, unseen hashes as the newest run, then merge runs until each is
        at least :data:`RUN_GROWTH` times the next newer one (a stable sort of two sorted
        runs is a linear merge)."""
        if len(fresh) == 0:
            return
        self._runs.append(fresh)
        while len(self._runs) > 1 and len(self._runs[-2]) < RUN_GROWTH * len(self._runs[-1]):
            newer = self._runs.pop()
            self._runs[-1] = np.sort(np.concatenate([self._runs[-1], newer]), kind="stable")

    def remember(self, hashes: np.ndarray) -> bool:
        """Remember sorted, distinct ``hashes`` as kept, unless one of them was kept
        before: then remember nothing and return False."""
        if self.seen(hashes).any():
            return False
        self._add(hashes)
        return True

    def keep(self, ids: pd.Series, valid: np.ndarray) -> np.ndarray:
        """Mask of the rows to keep: ``valid`` ones whose id was not kept before.

        Deduplicates on the valid rows' ids alone (an invalid row is quarantined, never
        kept, so its id does not count) and remembers the kept ones.
        """
        dup = self.duplicated(ids if valid.all() else ids[valid])
        keep = valid.copy()
        keep[np.flatnonzero(valid)[dup]] = False
        return keep


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
        self._dedupe = Deduper()
        self._quarantine = QuarantineWriter(quarantine_path)
        self.last: FileRead | None = None
        """The last file :meth:`read` ran to its end with ``describe``."""

    def bounds(self, f: LogFile) -> TimeBounds:
        """The time bounds ``f``'s rows are held to."""
        return time_bounds(f, self._start, self._end, self._config)

    def read(self, f: LogFile, describe: bool = False) -> Iterator[pd.DataFrame]:
        """Clean, deduplicated chunks of ``f``, counted. With ``describe``, :attr:`last`
        describes the file once the iterator is exhausted (its kept ids cost 8 bytes a
        row until then)."""
        report, bounds = self.report, self.bounds(f)
        counts, quarantined = FileCounts(), 0
        present: set[str] = set()
        hashes: list[np.ndarray] = []
        for raw in read_file(f, self._config.chunk_rows):
            present.update(c for c in raw.frame.columns if c in S.OPTIONAL)
            s = screen(raw, bounds)
            outside = int(s.outside.sum())
            counts.outside_window += outside
            counts.read += len(raw.frame) - outside
            bad = s.reason != ""
            if bad.any():
                quarantined += int(bad.sum())
                report.add_quarantined(s.reason[bad], str(f.path))
                self._quarantine.write(raw.frame[bad], s.reason[bad], str(f.path))
            valid = ~bad & ~s.outside
            if not valid.any():
                continue
            # select the kept rows of every column (prompt text included) once, and
            # only when some row goes
            keep = self._dedupe.keep(s.clean[S.REQUEST_ID], valid)
            if describe:
                hashes.append(self._dedupe.last_hashes)
            n_keep = int(keep.sum())
            counts.duplicates += int(valid.sum()) - n_keep
            counts.kept += n_keep
            if n_keep:
                clean = s.clean if keep.all() else s.clean[keep]
                yield finalize_dtypes(clean.reset_index(drop=True))
        counts.present_optional = tuple(sorted(present))
        self._count(counts)
        if describe:
            ids = np.unique(np.concatenate(hashes)) if hashes else np.empty(0, np.uint64)
            self.last = FileRead(counts, quarantined, ids, self_contained=len(ids) == counts.kept)

    def replay(self, ids: np.ndarray, counts: FileCounts) -> bool:
        """Count a file read before (its kept ids and counts, see :class:`FileRead`)
        without reading it, when the full read would keep the same rows: none of its ids
        was kept from an earlier file. Returns False (and counts nothing) otherwise;
        the caller then reads the file."""
        if not self._dedupe.remember(ids):
            return False
        self._count(counts)
        return True

    def _count(self, counts: FileCounts) -> None:
        r = self.report
        r.read += counts.read
        r.kept += counts.kept
        r.duplicates += counts.duplicates
        r.outside_window += counts.outside_window
        r.present_optional.update(counts.present_optional)

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
