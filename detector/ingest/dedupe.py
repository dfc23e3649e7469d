"""Deduplication of ``request_id`` across a log's chunks, by account.

Log shipping is at-least-once: a request can arrive twice, and counts once. The same id
on another account's row is not a re-delivery; :class:`Deduper` tells the two apart
with a few bits of each kept id's account, in the same sorted runs as the ids.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector.arrowtext import as_arrow, hash_each

__all__ = ["RUN_GROWTH", "Deduper", "account_tags", "in_sorted"]


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


def account_tags(accounts: pd.Series | None, n: int) -> np.ndarray:
    """32 bits of each account id's hash: enough to tell the account that kept a
    ``request_id`` from another (zeros without ``accounts``: no account is told apart)."""
    if accounts is None:
        return np.zeros(n, dtype=np.uint32)
    # a chunk holds few accounts: hash each distinct one, then spread (a third the cost)
    encoded = pc.dictionary_encode(as_arrow(accounts))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    per_account = hash_each(encoded.dictionary).astype(np.uint32)
    return per_account[encoded.indices.fill_null(0).to_numpy()]


def _merge(
    older: tuple[np.ndarray, np.ndarray], newer: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted runs of (id hash, account tag) as one sorted run: a linear merge, each
    newer hash placed after the older ones equal to it."""
    (a, at), (b, bt) = older, newer
    pos = np.searchsorted(a, b, side="right") + np.arange(len(b))
    ids = np.empty(len(a) + len(b), dtype=a.dtype)
    tags = np.empty(len(ids), dtype=at.dtype)
    mine = np.zeros(len(ids), dtype=bool)
    mine[pos] = True
    ids[pos], tags[pos] = b, bt
    ids[~mine], tags[~mine] = a, at
    return ids, tags


class Deduper:
    """Remembers the 64-bit hashes of kept ``request_id`` values across chunks, each with
    32 bits of its account's hash.

    Log shipping is at-least-once, so a ``request_id`` kept before and seen again *for
    the same account* is a re-delivery: a duplicate. Seen again for *another* account it
    is not the same request (a gateway never reuses an id; a client-supplied id or a
    merged log can): dropping it as a duplicate would silently lose a real request, so
    it is a *conflict*, quarantined by the reader (:data:`~detector.schema.REASON_ID_REUSED`).

    Memory is 12 bytes per kept request (120 MB per 10M). A 64-bit collision between two
    different ids would wrongly count one as a duplicate; at 10M requests the chance
    is about 3 in a million per run. Two accounts whose tags collide (1 in 4 billion
    per reused id) would count a conflict as a duplicate.

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
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self.last_hashes = np.empty(0, dtype=np.uint64)
        """The hashes :meth:`keep` looked up last (of its valid rows' ids, in order)."""
        self.last_fresh = (np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint32))
        """The (id hash, account tag) pairs :meth:`keep` kept last, sorted by hash."""
        self.last_conflicts = np.zeros(0, dtype=bool)
        """Mask over :meth:`keep`'s rows: valid rows whose id another account kept."""

    @property
    def run_sizes(self) -> tuple[int, ...]:
        """The sizes of the sorted runs, oldest first (a logarithmic number of them)."""
        return tuple(len(r[0]) for r in self._runs)

    def __len__(self) -> int:
        return sum(len(r[0]) for r in self._runs)

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mask of ``hashes`` kept before, and the account tag each was kept with (0 when
        not kept); sorted ``hashes`` search the runs in order."""
        found = np.zeros(len(hashes), dtype=bool)
        tags = np.zeros(len(hashes), dtype=np.uint32)
        for run, run_tags in self._runs:
            if len(hashes) == 0:
                break
            at = np.minimum(np.searchsorted(run, hashes), len(run) - 1)
            hit = run[at] == hashes
            found |= hit
            tags[hit] = run_tags[at[hit]]
        return found, tags

    def seen(self, hashes: np.ndarray) -> np.ndarray:
        """Mask of ``hashes`` kept before (sorted ``hashes`` search the runs in order)."""
        found = np.zeros(len(hashes), dtype=bool)
        for run, _ in self._runs:
            found |= in_sorted(run, hashes)
        return found

    def duplicated(self, request_ids: pd.Series) -> np.ndarray:
        """Mask of rows whose id was kept before (in an earlier chunk or earlier here),
        whoever's rows they are."""
        dup, _ = self.classify(request_ids, None)
        return dup

    def classify(
        self, request_ids: pd.Series, accounts: pd.Series | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the rows whose id was kept before (in an earlier chunk or earlier
        here): for the same account (a duplicate), and for another one (a conflict).

        An id's *keeper* is the account of its first kept row: an earlier chunk's, else
        this chunk's first row with it. Vectorised, and as cheap as finding repeats
        alone: the chunk's first occurrences are sorted and looked up in the runs; the
        few repeats within the chunk find their keeper by a binary search of those.
        """
        # the ids are valid rows' (never blank), hashed from their Arrow bytes as pandas
        # hashes them, with no Python str per id
        h = hash_each(as_arrow(request_ids))
        self.last_hashes = h
        tags = account_tags(accounts, len(h))
        again = pd.Series(h).duplicated(keep="first").to_numpy()
        # the chunk's first occurrences, sorted: looked up in the sorted runs in order
        # (cache-friendly), and the new ones kept as the newest run
        first = np.flatnonzero(~again)
        first = first[np.argsort(h[first])]
        distinct = h[first]
        found, kept_tags = self.lookup(distinct)
        keeper = np.where(found, kept_tags, tags[first])
        same = np.ones(len(h), dtype=bool)
        same[first[found]] = tags[first[found]] == kept_tags[found]
        repeats = np.flatnonzero(again)
        if len(repeats):
            same[repeats] = tags[repeats] == keeper[np.searchsorted(distinct, h[repeats])]
        before = np.zeros(len(h), dtype=bool)
        before[first[found]] = True
        seen = again | before
        self.last_fresh = (distinct[~found], keeper[~found])
        self._add(*self.last_fresh)
        return seen & same, seen & ~same

    def _add(self, fresh: np.ndarray, tags: np.ndarray) -> None:
        """Keep sorted, unseen hashes (with their account tags) as the newest run, then
        merge runs until each is at least :data:`RUN_GROWTH` times the next newer one."""
        if len(fresh) == 0:
            return
        self._runs.append((fresh, tags))
        while len(self._runs) > 1 and len(self._runs[-2][0]) < RUN_GROWTH * len(self._runs[-1][0]):
            newer = self._runs.pop()
            self._runs[-1] = _merge(self._runs[-1], newer)

    def remember(self, hashes: np.ndarray, tags: np.ndarray) -> bool:
        """Remember sorted, distinct ``hashes`` (with their account ``tags``) as kept,
        unless one of them was kept before: then remember nothing and return False."""
        if self.seen(hashes).any():
            return False
        self._add(hashes, tags)
        return True

    def keep(
        self, ids: pd.Series, valid: np.ndarray, accounts: pd.Series | None = None
    ) -> np.ndarray:
        """Mask of the rows to keep: ``valid`` ones whose id was not kept before.

        Deduplicates on the valid rows' ids alone (an invalid row is quarantined, never
        kept, so its id does not count) and remembers the kept ones. With ``accounts``,
        a valid row whose id another account kept is not kept either, and is marked in
        :attr:`last_conflicts` (the caller quarantines it).
        """
        subset = slice(None) if valid.all() else valid
        dup, conflict = self.classify(ids[subset], None if accounts is None else accounts[subset])
        keep = valid.copy()
        at = np.flatnonzero(valid)
        keep[at[dup | conflict]] = False
        self.last_conflicts = np.zeros(len(valid), dtype=bool)
        self.last_conflicts[at[conflict]] = True
        return keep
