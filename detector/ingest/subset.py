"""The clean rows of a few accounts, read without screening everyone else's.

The report and the nightly job's alert rules look at a few hundred flagged accounts in
a log of millions of requests. Screening every row to keep a percent of them was most
of the report's time (40 of the nightly job's 152 s at 10M requests). Every contract
rule and the window check are properties of a row alone, so screening only the wanted
accounts' rows gives those rows the verdicts the whole read gives them.

Deduplication is the one rule across rows: a row is a duplicate when an earlier valid
row has its ``request_id``, whoever's row that is. Within the wanted accounts it is
decided here exactly as in :func:`detector.ingest.iter_clean`. A ``request_id`` that
also appears on another account's row (a gateway never writes one, but the log is
input) could make the two reads differ, so :func:`read_account_rows` then folds the
full read instead: the result is always the full read's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import schema as S
from detector.arrowtext import as_arrow, hash_each
from detector.config import DEFAULT, Config
from detector.ingest.dedupe import Deduper, in_sorted
from detector.ingest.discover import list_log
from detector.ingest.raw import RawChunk
from detector.ingest.readers import read_file, read_without_text
from detector.ingest.span import log_span
from detector.ingest.stream import iter_clean, screen
from detector.ingest.validate import as_text, finalize_dtypes
from detector.ingest.window import TimeBounds, time_bounds

__all__ = ["SharedRequestIds", "iter_account_rows", "read_account_rows"]

T = TypeVar("T")
Seen = Callable[[int, Collection[str]], None]
"""Told of every chunk read: its row count and its contract columns."""
WantsPrompts = Callable[[], bool]
"""Asked before each file: does the caller still need the wanted accounts' prompts?"""


class SharedRequestIds(Exception):
    """A wanted account's row shares its ``request_id`` with another account's row, so
    the rows :func:`iter_account_rows` yielded may differ from the full read's."""


def _id_hashes(ids: pd.Series) -> np.ndarray:
    """The 64-bit hashes of non-blank request ids (as the deduper hashes them)."""
    text, _ = as_text(ids)
    h = hash_each(as_arrow(text))
    return h[h != 0]


class _Pending:
    """The wanted rows of one file's chunks, gathered into chunks of up to ``rows`` rows.

    A few accounts hold a percent of a chunk's rows; screening and folding each such
    sliver alone cost more in per-call overhead than the rows themselves (4 of the
    report's 15 s at 10M requests). Only chunks with the same columns and dtypes are
    joined, so each column is validated exactly as it would be alone, and the rows keep
    their log order, which is all deduplication depends on.
    """

    def __init__(self, rows: int) -> None:
        self.rows = max(rows, 1)
        self.parts: list[RawChunk] = []
        self.count = 0

    def _same_shape(self, raw: RawChunk) -> bool:
        head = self.parts[0].frame
        return list(head.columns) == list(raw.frame.columns) and head.dtypes.equals(
            raw.frame.dtypes
        )

    def add(self, raw: RawChunk) -> list[RawChunk]:
        """Gather ``raw``; what was gathered before, when it is full or shaped otherwise."""
        out = self.flush() if self.parts and not self._same_shape(raw) else []
        self.parts.append(raw)
        self.count += len(raw.frame)
        if self.count >= self.rows:
            out += self.flush()
        return out

    def flush(self) -> list[RawChunk]:
        """Everything gathered, as one chunk (none when empty)."""
        if not self.parts:
            return []
        parts, self.parts, self.count = self.parts, [], 0
        if len(parts) == 1:
            return parts
        frame = pd.concat([p.frame for p in parts], ignore_index=True)
        reason = np.concatenate([p.reason for p in parts])
        names = frozenset().union(*(p.names for p in parts))
        return [RawChunk(frame, reason, names)]


def _screened(rows: RawChunk, bounds: TimeBounds, dedupe: Deduper) -> Iterator[pd.DataFrame]:
    """The valid, first-seen rows of ``rows`` (none, or one clean chunk)."""
    s = screen(rows, bounds)
    valid = (s.reason == "") & ~s.outside
    if not valid.any():
        return
    keep = dedupe.keep(s.clean[S.REQUEST_ID], valid, s.clean[S.ACCOUNT_ID])
    if keep.any():
        yield finalize_dtypes(s.clean[keep].reset_index(drop=True))


def iter_account_rows(
    paths: Path | Sequence[Path],
    accounts: Collection[str],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    seen: Seen | None = None,
    wants_prompts: WantsPrompts | None = None,
) -> Iterator[pd.DataFrame]:
    """Clean, deduplicated chunks of ``accounts``' rows of the log, in log order.

    Only rows whose ``account_id`` is one of ``accounts`` are screened; nothing is
    quarantined or counted. ``seen(rows, columns)`` is called for every chunk read,
    with its row count and the contract columns it has (everyone's rows).
    ``wants_prompts()``, when given, is asked before each file: once it says no, a file
    that can be read without its prompts and give the same verdicts
    (:func:`~detector.ingest.readers.read_without_text`) is read without them
    (decoding prompts was most of the report's read), and its chunks lack ``prompt``.
    Raises :class:`SharedRequestIds` once the log is read when a wanted row's
    ``request_id`` is also another account's (the caller then reads the log whole:
    :func:`read_account_rows`).
    """
    wanted = pa.array(sorted({str(a) for a in accounts}), pa.string())
    dedupe = Deduper()
    mine_ids: list[np.ndarray] = []
    other_ids: list[np.ndarray] = []
    files = list_log(paths, start=start, end=end).files
    span, _ = log_span(files, start, end, config)  # the full read's span, for its verdicts
    for f in files:
        bounds = time_bounds(f, start, end, config, span)
        pending = _Pending(config.chunk_rows)
        if wants_prompts is not None and not wants_prompts():
            skipped, chunks = read_without_text(f, config.chunk_rows, S.PROMPT)
        else:
            skipped, chunks = (), read_file(f, config.chunk_rows)
        for raw in chunks:
            if seen is not None:
                seen(len(raw.frame), [*raw.frame.columns, *skipped])
            if S.ACCOUNT_ID not in raw.frame.columns or S.REQUEST_ID not in raw.frame.columns:
                continue  # a chunk of JSON lines without the key: every row is quarantined
            account, _ = as_text(raw.frame[S.ACCOUNT_ID])
            mine = pc.fill_null(pc.is_in(as_arrow(account), value_set=wanted), False)
            mine = mine.to_numpy(zero_copy_only=False)
            other_ids.append(_id_hashes(raw.frame[S.REQUEST_ID][~mine]))
            if not mine.any():
                continue
            mine_ids.append(_id_hashes(raw.frame[S.REQUEST_ID][mine]))
            rows = RawChunk(raw.frame[mine].reset_index(drop=True), raw.reason[mine], raw.names)
            for full in pending.add(rows):
                yield from _screened(full, bounds, dedupe)
        for full in pending.flush():
            yield from _screened(full, bounds, dedupe)
    if mine_ids and other_ids:
        # a sort and a binary search: np.isin hashes all of them (5 s at 10M rows)
        other = np.sort(np.concatenate(other_ids))
        if in_sorted(other, np.concatenate(mine_ids)).any():
            raise SharedRequestIds


def read_account_rows(
    paths: Path | Sequence[Path],
    accounts: Collection[str],
    fold: Callable[[Iterable[pd.DataFrame]], T],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    seen: Seen | None = None,
    wants_prompts: WantsPrompts | None = None,
) -> T:
    """``fold`` over the clean chunks of ``accounts``' rows, exactly as the full read
    (:func:`detector.ingest.iter_clean`) keeps them.

    ``fold`` must consume its chunks to the end. It runs over
    :func:`iter_account_rows`; when that finds a request id shared with another
    account, ``fold`` runs again over the full read's chunks, filtered to ``accounts``
    (and ``seen`` is told of the log's chunks a second time; every prompt is read then).
    ``wants_prompts`` is as in :func:`iter_account_rows`.
    """
    try:
        return fold(
            iter_account_rows(
                paths,
                accounts,
                start=start,
                end=end,
                config=config,
                seen=seen,
                wants_prompts=wants_prompts,
            )
        )
    except SharedRequestIds:
        wanted = pd.Index({str(a) for a in accounts}, dtype=object)

        def full() -> Iterator[pd.DataFrame]:
            for chunk in iter_clean(paths, start=start, end=end, config=config):
                if seen is not None:
                    seen(len(chunk), chunk.columns)
                mask = chunk[S.ACCOUNT_ID].isin(wanted).to_numpy(dtype=bool)
                if mask.any():
                    yield chunk[mask].reset_index(drop=True)

        return fold(full())
