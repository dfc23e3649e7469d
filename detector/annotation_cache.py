"""Annotated files kept between runs, so a nightly window re-reads only its new day.

The nightly job scores a sliding window (7 days by default): six of tonight's seven
days were read, validated, deduplicated and annotated last night, and that first pass
is most of the run (83 of 125 s at 10M requests, docs/performance.md). The annotated
rows of a file are a function of the file, its time bounds, the configuration, the
topic model and this code -- so they are kept, per file, under a key of all of those,
and a later run replays them instead of reading the file again.

A replay must give exactly what the full read gives. So a file is kept only when its
read quarantined nothing (the quarantine file and its reasons come from reading) and
dropped no row as a duplicate of an *earlier* file's row (its kept rows then depend on
that file alone); and it is replayed only when none of its request ids was kept from
an earlier file of this run (:meth:`detector.ingest.LogReader.replay`). Otherwise the
file is read as usual. An entry is written to a temporary directory and renamed into
place, and carries the SHA-256 of its rows, checked before it is used: an interrupted
or damaged entry is a miss, never a wrong row.

Layout: ``ROOT/<key>/`` with ``rows.arrow`` (the annotated chunks, Arrow IPC with LZ4,
as :mod:`detector.buckets` spills them), ``ids.npy`` (the kept request ids' 64-bit
hashes, and their accounts' 32-bit tags as a second row) and ``entry.json`` (the source
file, counts, per-model first request and rows, digest). Entries unused for
``Config.annotation_cache_days`` days are removed at the end of a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.buckets import SPILL_COMPRESSION
from detector.config import Config
from detector.errors import UserError
from detector.ingest import FileCounts, FileRead, LogFile, TimeBounds

__all__ = [
    "ROW_SETTINGS",
    "SOURCES",
    "AnnotationCache",
    "CachedFile",
    "ModelStats",
    "open_cache_dir",
    "run_key",
]

CACHE_FORMAT = 2
"""2: ``ids.npy`` holds the kept ids and their account tags (two rows)."""
ROWS, IDS, ENTRY = "rows.arrow", "ids.npy", "entry.json"
_PACKAGE = Path(__file__).resolve().parent
# the code that decides a file's annotated rows: a change to any of it is a new key
SOURCES = (
    "annotate.py",
    "annotation_cache.py",
    "arrowtext.py",
    "config.py",
    "first_pass.py",
    "netaddr.py",
    "promptmemo.py",
    "schema.py",
    "textflags.py",
    "topics.py",
    "ingest",
)
_LIBRARIES = ("numpy", "pandas", "pyarrow", "scikit-learn", "scipy")
ROW_SETTINGS = (
    "chunk_rows",
    "partition_slack_hours",
    "span_max_gap_days",
    "span_max_stray_share",
    "text_head_chars",
    "text_tail_chars",
)
"""The settings an annotated file's rows depend on besides the topic model (keyed by its
fingerprint, which covers the settings it was fitted with): the chunking (which row of
a chunk carries the sub-stream labels), the partition slack (which rows are
quarantined) and the text window. The rest (scoring, alerting, threads) cannot change
a row, so ``detector train --alert-budget`` and ``detector score`` share entries;
tests/test_annotation_cache.py fails when the annotating code reads a setting that is
neither here nor known to leave rows alone."""

_ARROW_STRINGS = {pa.string(): pd.ArrowDtype(pa.string())}
ModelStats = dict[str, tuple[int, int]]
"""Per model name: first request time (epoch seconds) and kept rows."""


def code_fingerprint() -> str:
    """SHA-256 of the sources that annotate a row, and of the libraries' versions."""
    h = hashlib.sha256(f"format {CACHE_FORMAT} python {sys.version_info[:2]}".encode())
    for name in SOURCES:
        path = _PACKAGE / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(source.relative_to(_PACKAGE)).encode())
            h.update(source.read_bytes())
    for lib in _LIBRARIES:
        try:
            h.update(f"{lib} {metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib} -".encode())
    return h.hexdigest()


def run_key(config: Config, topic_model: object | None) -> str:
    """The part of every entry's key that is the same for a whole run: the code, the
    settings and the topic model (its ``fingerprint()``; ``None`` without one)."""
    settings = {name: repr(getattr(config, name)) for name in ROW_SETTINGS}
    topics = "none" if topic_model is None else topic_model.fingerprint()  # type: ignore[attr-defined]
    payload = json.dumps([code_fingerprint(), settings, topics], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def file_key(run: str, f: LogFile, bounds: TimeBounds) -> str:
    """An entry's key: the run's key, the file as it is now and the time range its rows
    are held to (a partition's day: the same whatever window selected the file, so a
    day is replayed night after night).

    "As it is now" is the path, size, inode and modification and change times: any write
    to the file, or a new file renamed over it, changes the change time, which no one
    can set back (a modification time can be, by ``touch -d`` or ``rsync -t``).
    """
    st = f.path.stat()
    ident = [run, str(f.path.resolve()), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]
    ident += [f.fmt, f.gzipped]
    ident += [str(f.partition), repr(bounds.applied)]
    if bounds.span is not None:  # a flat file's rows off the log's span are quarantined
        ident.append(repr(bounds.span))
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:40]


@dataclass
class CachedFile:
    """A file's entry: its counts and kept ids (to replay) and its annotated rows."""

    path: Path
    counts: FileCounts
    ids: np.ndarray
    tags: np.ndarray
    """The account tag each of ``ids`` was kept with (see :class:`~detector.ingest.Deduper`)."""
    models: ModelStats

    def frames(self) -> Iterator[pd.DataFrame]:
        """The annotated rows, a batch at a time, in the order they were annotated."""
        with pa.ipc.open_stream(self.path / ROWS) as reader:
            for batch in reader:
                # the text columns as annotate makes them (Arrow strings), so replayed
                # and freshly annotated chunks share one schema in a spilled bucket
                yield pa.Table.from_batches([batch]).to_pandas(types_mapper=_ARROW_STRINGS.get)


class EntryWriter:
    """Streams one file's annotated chunks into a new entry; :meth:`commit` publishes
    it, :meth:`discard` drops it. The cache only saves time: a write that fails (a full
    disk) drops the entry and never the run."""

    def __init__(self, root: Path, key: str, source: Path) -> None:
        self._source = str(source)
        self._final = root / key
        self._tmp = root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._options = pa.ipc.IpcWriteOptions(compression=SPILL_COMPRESSION)
        self._rows = 0
        self.failed = False
        try:
            self._tmp.mkdir(parents=True)
        except OSError:
            self.failed = True

    def append(self, frame: pd.DataFrame) -> None:
        """Add an annotated chunk of the file."""
        if self.failed:
            return
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pa.ipc.new_stream(
                    self._tmp / ROWS, table.schema, options=self._options
                )
            self._writer.write_table(table)
            self._rows += len(frame)
        except (OSError, pa.ArrowException):
            self.failed = True
            self.discard()

    def commit(self, read: FileRead, models: ModelStats) -> None:
        """Publish the entry (atomically: a rename), unless another run already did."""
        if self.failed:
            return
        try:
            self._publish(read, models)
        except (OSError, pa.ArrowException):
            self.failed = True
            self.discard()

    def _publish(self, read: FileRead, models: ModelStats) -> None:
        if self._writer is None:  # no kept row: an empty stream of an empty schema
            self._writer = pa.ipc.new_stream(self._tmp / ROWS, pa.schema([]))
        self._writer.close()
        pairs = np.stack([read.ids, read.tags.astype(np.uint64)])
        np.save(self._tmp / IDS, pairs, allow_pickle=False)
        with open(self._tmp / ROWS, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        entry = {
            "format": CACHE_FORMAT,
            "source": self._source,
            "rows": self._rows,
            "counts": read.counts.to_dict(),
            "models": {name: list(v) for name, v in models.items()},
            "sha256": digest,
        }
        (self._tmp / ENTRY).write_text(json.dumps(entry))
        if self._final.exists():  # written meanwhile by another run: keep theirs
            self.discard()
            return
        os.rename(self._tmp, self._final)

    def discard(self) -> None:
        """Drop the unfinished entry."""
        if self._writer is not None:
            with contextlib.suppress(OSError, pa.ArrowException):
                self._writer.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def open_cache_dir(root: Path) -> Path:
    """Create the cache directory, or raise one clear :class:`UserError` (a run checks
    it before any work)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"annotation cache {root}: cannot create it ({exc.strerror or exc}); "
            "give a writable directory"
        ) from None
    return root


class AnnotationCache:
    """The entries under ``root`` for one run's code, settings and topic model."""

    def __init__(self, root: Path, run: str) -> None:
        self.root = open_cache_dir(root)
        self.run = run

    def load(self, f: LogFile, bounds: TimeBounds) -> CachedFile | None:
        """``f``'s entry, checked against its digest; ``None`` when there is none or it
        is damaged (a damaged entry is removed)."""
        path = self.root / file_key(self.run, f, bounds)
        if not (path / ENTRY).is_file():
            return None
        try:
            entry = json.loads((path / ENTRY).read_text())
            with open(path / ROWS, "rb") as fh:
                if hashlib.file_digest(fh, "sha256").hexdigest() != entry["sha256"]:
                    raise ValueError("digest mismatch")
            pairs = np.load(path / IDS, allow_pickle=False)
            if entry["format"] != CACHE_FORMAT or pairs.dtype != np.uint64 or pairs.ndim != 2:
                raise ValueError("unknown format")
            cached = CachedFile(
                path=path,
                counts=FileCounts.from_dict(entry["counts"]),
                ids=pairs[0],
                tags=pairs[1].astype(np.uint32),
                models={k: (int(v[0]), int(v[1])) for k, v in entry["models"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            shutil.rmtree(path, ignore_errors=True)
            return None
        os.utime(path / ENTRY)  # last used: pruning keeps what runs use
        return cached

    def writer(self, f: LogFile, bounds: TimeBounds) -> EntryWriter:
        """A new entry for ``f`` (as it is now)."""
        return EntryWriter(self.root, file_key(self.run, f, bounds), f.path)

    def prune(self, max_age_days: float) -> int:
        """Remove entries (and abandoned temporary ones) unused for ``max_age_days``;
        return how many."""
        cutoff = time.time() - max_age_days * 86_400
        removed = 0
        for path in self.root.iterdir():
            marker = path / ENTRY if not path.name.startswith(".tmp-") else path
            try:
                stale = marker.stat().st_mtime < cutoff
            except OSError:  # no entry.json: a damaged entry
                stale = True
            if stale and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed
