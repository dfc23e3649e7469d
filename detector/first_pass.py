"""The pipeline's first pass: read the log, annotate every request, route it to a bucket.

Chunks are read (validated, deduplicated) on the calling thread and annotated on worker
threads (Arrow kernels and numpy mostly release the GIL), consumed in order so the
output never depends on thread timing. Along the way the pass collects the population
facts the features need: the time span and each model's first request and rows.

With an annotation cache (:mod:`detector.annotation_cache`), a file annotated by an
earlier run with the same code, settings and topic model is replayed from it instead
of read; a file read now is written to it when it can be replayed later. Either way the
buckets, the counts and the facts are those of the full read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from detector import annotate as A
from detector import schema as S
from detector.annotation_cache import (
    AnnotationCache,
    EntryWriter,
    ModelStats,
    open_cache_dir,
    run_key,
)
from detector.buckets import Buckets
from detector.config import Config
from detector.ingest import (
    FileRead,
    IngestReport,
    LogFile,
    LogReader,
    TimeBounds,
    epoch_seconds,
)
from detector.ordered import in_order
from detector.promptmemo import PromptMemo
from detector.topic_fit import TopicModelFit
from detector.topics import TopicModel

__all__ = ["FirstPass", "first_pass", "model_stats"]


@dataclass
class FirstPass:
    """What the first pass gathered besides the buckets."""

    models: ModelStats = field(default_factory=dict)
    t_min: int = int(np.iinfo(np.int64).max)
    t_max: int = int(np.iinfo(np.int64).min)
    topic_model: TopicModel | None = None
    annotation_cache: dict[str, int] | None = None
    """With a cache: files ``replayed`` from it and files ``read``."""

    def count_file(self, how: str) -> None:
        """Count a file ``replayed`` or ``read`` (with a cache)."""
        if self.annotation_cache is not None:
            self.annotation_cache[how] += 1


def model_stats(chunk: pd.DataFrame, into: ModelStats) -> None:
    """Fold a clean chunk's per-model first request time and row count into ``into``."""
    secs = pd.Series(epoch_seconds(chunk[S.TIMESTAMP]), index=chunk.index)
    stats = secs.groupby(chunk[S.MODEL], sort=False, observed=True).agg(["min", "size"])
    # one item per model name, not per request
    merge_models(into, {str(k): (int(v["min"]), int(v["size"])) for k, v in stats.iterrows()})


def merge_models(into: ModelStats, other: ModelStats) -> None:
    """Add ``other``'s per-model stats to ``into`` (earliest first request, summed rows)."""
    for name, (first, rows) in other.items():
        have = into.get(name)
        into[name] = (first, rows) if have is None else (min(have[0], first), have[1] + rows)


@dataclass
class _Piece:
    """One item of the pass, in log order: a clean chunk to annotate, an annotated
    chunk replayed from the cache, or the end of a file read now."""

    file: int
    clean: pd.DataFrame | None = None
    annotated: pd.DataFrame | None = None
    replayed: bool = False
    done: FileRead | None = None
    """Set on the item after a read file's last chunk (with a cache only)."""
    models: ModelStats = field(default_factory=dict)
    """The read file's per-model stats (on the ``done`` item)."""


def first_pass(
    log: Path | Sequence[Path],
    buckets: Buckets,
    report: IngestReport,
    *,
    start: dt.date | None,
    end: dt.date | None,
    config: Config,
    topic_model: TopicModel | None,
    fit_topics: bool,
    quarantine_path: Path | None,
    cache_dir: Path | None,
    progress: Callable[[str, int], None] | None,
) -> FirstPass:
    """Read, annotate and route ``log`` into ``buckets``; fill in ``report``.

    ``topic_model`` ``None`` with ``fit_topics``: one is fitted on the log's first chunk
    with prompts, on a thread of its own while annotation starts (or first, with a
    cache: the cache's key needs it).
    """
    out = FirstPass()
    reader = LogReader(
        log, start=start, end=end, config=config, quarantine_path=quarantine_path, report=report
    )
    memo = PromptMemo(config.prompt_memo_entries)  # prompts seen in earlier chunks
    cache = None
    if cache_dir is not None:
        open_cache_dir(cache_dir)  # an unusable directory fails before any work
        out.annotation_cache = {"replayed": 0, "read": 0}
    try:
        with (
            ThreadPoolExecutor(max_workers=config.workers) as pool,
            ThreadPoolExecutor(max_workers=1) as fit_pool,
        ):
            fitting = None
            if topic_model is None and fit_topics:
                # a pool of its own, so a worker waiting for the fit never holds it up
                fitting = TopicModelFit(fit_pool, log, start=start, end=end, config=config)
                if cache_dir is not None:
                    topic_model, fitting = fitting.result(), None
            if cache_dir is not None:
                cache = AnnotationCache(cache_dir, run_key(config, topic_model))
            model = topic_model if fitting is None else fitting

            def annotate(piece: _Piece) -> _Piece:
                if piece.clean is not None:
                    piece.annotated = A.annotate(
                        piece.clean, config=config, topic_model=model, memo=memo
                    )
                    piece.clean = None
                return piece

            pieces = _pieces(reader, cache, out)
            writing: tuple[int, EntryWriter] | None = None
            try:
                for piece in in_order(pool, annotate, pieces, config.workers):
                    if piece.annotated is not None:
                        _consume(piece.annotated, buckets, out, progress)
                    if cache is None or piece.replayed:
                        continue
                    if writing is None or writing[0] != piece.file:
                        writing = (piece.file, cache.writer(*_file_and_bounds(reader, piece)))
                    if piece.annotated is not None:
                        writing[1].append(piece.annotated)
                    if piece.done is not None:
                        if piece.done.replayable:
                            writing[1].commit(piece.done, piece.models)
                        else:
                            writing[1].discard()
                        writing = None
            finally:
                if writing is not None:
                    writing[1].discard()
            out.topic_model = topic_model if fitting is None else fitting.result()
    except BaseException:  # an error, or the consumer stopped early: no partial file
        reader.abort()
        raise
    reader.finish()
    if cache is not None:
        cache.prune(config.annotation_cache_days)
    return out


def _file_and_bounds(reader: LogReader, piece: _Piece) -> tuple[LogFile, TimeBounds]:
    f = reader.files[piece.file]
    return f, reader.bounds(f)


def _pieces(reader: LogReader, cache: AnnotationCache | None, out: FirstPass) -> Iterator[_Piece]:
    """The pass's items, file by file: replayed from ``cache`` when the entry is there
    and replaying gives the full read's rows, read otherwise."""
    for i, f in enumerate(reader.files):
        if cache is not None:
            hit = cache.load(f, reader.bounds(f))
            if hit is not None and reader.replay(f, hit.ids, hit.tags, hit.counts):
                out.count_file("replayed")
                merge_models(out.models, hit.models)
                for frame in hit.frames():
                    yield _Piece(i, annotated=frame, replayed=True)
                continue
        stats: ModelStats = {}
        for chunk in reader.read(f, describe=cache is not None):
            model_stats(chunk, stats)
            yield _Piece(i, clean=chunk)
        merge_models(out.models, stats)
        out.count_file("read")
        if cache is not None:
            yield _Piece(i, done=reader.last, models=stats)


def _consume(
    ann: pd.DataFrame,
    buckets: Buckets,
    out: FirstPass,
    progress: Callable[[str, int], None] | None,
) -> None:
    """Route an annotated chunk to its buckets and widen the time span."""
    if len(ann) == 0:
        return
    out.t_min = min(out.t_min, int(ann[A.TS].min()))
    out.t_max = max(out.t_max, int(ann[A.TS].max()))
    buckets.add(ann)
    if progress:
        progress("ingest", len(ann))
