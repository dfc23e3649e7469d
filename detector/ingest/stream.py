"""The streaming read of a log: files → raw chunks → checked rows → dedupe → clean chunks.

Every row read ends in exactly one of ``kept``, ``duplicates`` or ``quarantined``, and
is counted as it goes (see :mod:`detector.ingest` for the counting rules). The
quarantine file is published only when the whole log was read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from detector import schema as S
from detector.arrowtext import as_arrow, hash_each
from detector.config import DEFAULT, Config
from detector.ingest.discover import list_log
from detector.ingest.quarantine import QuarantineWriter
from detector.ingest.raw import RawChunk
from detector.ingest.readers import read_file
from detector.ingest.report import IngestReport
from detector.ingest.validate import finalize_dtypes, validate_frame
from detector.ingest.window import TimeBounds, check_times, time_bounds


class Deduper:
    """Remembers the 64-bit hashes of kept ``request_id`` values across chunks.

    Memory is 8 bytes per kept request (80 MB per 10M). A 64-bit collision between two
    different ids would wrongly count one as a duplicate; at 10M requests the chance
    is about 3 in a million per run.
    """

    def __init__(self) -> None:
        self._seen = np.empty(0, dtype=np.uint64)

    def duplicated(self, request_ids: pd.Series) -> np.ndarray:
        """Mask of rows whose id was kept before (in an earlier chunk or earlier here)."""
        # the ids are valid rows' (never blank), hashed from their Arrow bytes as pandas
        # hashes them, with no Python str per id
        h = hash_each(as_arrow(request_ids))
        dup = pd.Series(h).duplicated(keep="first").to_numpy()
        # the chunk's first occurrences, sorted: looked up in the sorted seen hashes in
        # order (cache-friendly), and the new ones merged in (a stable sort of two
        # sorted runs is a linear merge)
        first = np.flatnonzero(~dup)
        order = np.argsort(h[first])
        fresh = h[first[order]]
        if len(self._seen):
            pos = np.searchsorted(self._seen, fresh)
            seen = self._seen[np.minimum(pos, len(self._seen) - 1)] == fresh
            dup[first[order[seen]]] = True
            fresh = fresh[~seen]
        self._seen = np.sort(np.concatenate([self._seen, fresh]), kind="stable")
        return dup

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
    listing = list_log(paths, start=start, end=end)
    report.files = [str(f.path) for f in listing.files]
    report.pruned_files, report.ignored_files = listing.pruned, listing.ignored
    report.empty_files = listing.empty
    dedupe = Deduper()
    quarantine = QuarantineWriter(quarantine_path)
    try:
        for f in listing.files:
            bounds = time_bounds(f, start, end, config)
            for raw in read_file(f, config.chunk_rows):
                report.present_optional.update(c for c in raw.frame.columns if c in S.OPTIONAL)
                s = screen(raw, bounds)
                report.outside_window += int(s.outside.sum())
                report.read += len(raw.frame) - int(s.outside.sum())
                bad = s.reason != ""
                if bad.any():
                    report.add_quarantined(s.reason[bad], str(f.path))
                    quarantine.write(raw.frame[bad], s.reason[bad], str(f.path))
                valid = ~bad & ~s.outside
                if not valid.any():
                    continue
                # select the kept rows of every column (prompt text included) once, and
                # only when some row goes
                keep = dedupe.keep(s.clean[S.REQUEST_ID], valid)
                report.duplicates += int(valid.sum() - keep.sum())
                report.kept += int(keep.sum())
                if keep.any():
                    clean = s.clean if keep.all() else s.clean[keep]
                    yield finalize_dtypes(clean.reset_index(drop=True))
    except BaseException:  # an error, or the consumer stopped early: no partial file
        quarantine.abort()
        raise
    report.quarantine_path = quarantine.close()


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
