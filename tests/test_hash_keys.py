"""The 64-bit keys annotate gives strings (prompts, templates, networks, request ids).

Features count distinct keys, so a key must group rows exactly as the text does: two
strings share a key only when they are equal, nulls and '' get 0, and the output keeps
the input's row order. A faster hash is welcome only if it passes these tests: DuckDB's
``hash()`` does not (see docs/performance.md) -- it gives the two benchmark prompts
below one value, which merged them into one "distinct" prompt on a 1M-request log.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from detector import annotate as A
from detector.ingest import Deduper
from detector.ingest.dedupe import RUN_GROWTH

HOSTILE = [
    "",
    None,
    "a",
    "A",
    "a ",
    " a",
    "a\x00b",
    "a\x00c",
    "\x00",
    "é",
    "e\u0301",  # the same letter, decomposed: different text, different key
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🙂",
    "\u202eevil",
    "line\r\nbreak",
    "x" * 200_000,
    "x" * 200_001,
    "=cmd|' /C calc'!A0",
    "'; DROP TABLE t; --",
]

# near-identical prompts that a weak hash (xor-multiply over 8-byte words) collides on
NEAR_TWINS = [
    "Problem 31. How many ways can 16 people be seated in a row of 16 chairs?\nFinal answer:",
    "Problem 31. How many ways can 15 people be seated in a row of 15 chairs?\nFinal answer:",
]


def same_partition(keys: np.ndarray, values: list[str | None]) -> bool:
    """Whether ``keys`` group rows exactly as the values do (null and '' together).

    The reference groups with a Python dict: ``pd.factorize`` of object strings cuts
    them at a NUL ("a\\x00b" == "a"), so it cannot be the reference here.
    """
    first: dict[str, int] = {}
    codes = np.array([first.setdefault(v or "", len(first)) for v in values])
    return bool(np.array_equal(pd.factorize(keys)[0], codes))


def test_keys_group_rows_exactly_as_the_text_on_hostile_input():
    rng = np.random.default_rng(0)
    values = [HOSTILE[i] for i in rng.integers(0, len(HOSTILE), 5000)]
    keys = A.hash_strings(pa.array(values, pa.string()))
    assert keys.dtype == np.uint64 and len(keys) == len(values)
    assert same_partition(keys, values)
    blank = np.array([v in ("", None) for v in values])
    assert (keys[blank] == 0).all() and (keys[~blank] != 0).all()


def test_near_identical_prompts_get_different_keys():
    keys = A.hash_strings(pa.array(NEAR_TWINS * 3, pa.string()))
    assert keys[0] != keys[1]
    assert same_partition(keys, NEAR_TWINS * 3)


def test_keys_keep_row_order_across_chunks():
    values = [f"prompt {i % 997} ✓" for i in range(50_000)]
    chunked = pa.chunked_array([values[:20_000], values[20_000:]], pa.string())
    keys = A.hash_strings(chunked)
    # row i and row i + 997 hold the same text; nothing else does within 997 rows
    assert (keys[:-997] == keys[997:]).all()
    assert len(np.unique(keys[:997])) == 997


@pytest.mark.parametrize("arrow_backed", [True, False])
def test_deduper_finds_repeats_across_chunks_with_hostile_ids(arrow_backed):
    ids = [v for v in HOSTILE if v] + ["a", "a\x00b", "é", "x" * 200_000, *NEAR_TWINS]
    dtype = pd.ArrowDtype(pa.string()) if arrow_backed else object
    dedupe = Deduper()
    first = dedupe.duplicated(pd.Series(ids[:10], dtype=dtype))
    second = dedupe.duplicated(pd.Series(ids[10:], dtype=dtype))
    expected = pd.Series(ids).duplicated(keep="first").to_numpy()
    assert np.array_equal(np.concatenate([first, second]), expected)


class DeduperByUnique:
    """The previous definition of :class:`Deduper` (membership by a search of every row)."""

    def __init__(self) -> None:
        self._seen = np.empty(0, dtype=np.uint64)

    def duplicated(self, request_ids: pd.Series) -> np.ndarray:
        h = pd.util.hash_array(request_ids.astype(object).to_numpy(), categorize=False)
        within = pd.Series(h).duplicated(keep="first").to_numpy()
        if len(self._seen):
            pos = np.searchsorted(self._seen, h)
            pos[pos >= len(self._seen)] = 0
            before = self._seen[pos] == h
        else:
            before = np.zeros(len(h), dtype=bool)
        dup = within | before
        self._seen = np.sort(np.concatenate([self._seen, np.unique(h[~dup])]), kind="stable")
        return dup


def test_deduper_equals_the_previous_definition_over_many_chunks():
    rng = np.random.default_rng(11)
    pool = np.array([f"req-{i}" for i in range(3000)] + [*NEAR_TWINS, "a\x00b", "é"], dtype=object)
    new, old = Deduper(), DeduperByUnique()
    for size in (0, 1, 5, 500, 1200, 0, 800, 2000):
        ids = pd.Series(pool[rng.integers(0, len(pool), size)], dtype=pd.ArrowDtype(pa.string()))
        np.testing.assert_array_equal(new.duplicated(ids), old.duplicated(ids))


def test_deduper_keeps_few_sorted_runs_and_finds_repeats_in_every_one():
    """Hundreds of chunks: the hashes sit in a logarithmic number of sorted runs (each
    at least RUN_GROWTH times the next newer one), every id kept once, and an id from
    any earlier chunk, whichever run holds it now, is found as a repeat."""
    new, old = Deduper(), DeduperByUnique()
    chunks = [pd.Series([f"r{c}-{i}" for i in range(50)]) for c in range(300)]
    for ids in chunks:
        np.testing.assert_array_equal(new.duplicated(ids), old.duplicated(ids))
    assert len(new) == 300 * 50
    sizes = new.run_sizes
    assert 1 < len(sizes) <= 1 + math.ceil(math.log(300, RUN_GROWTH))
    assert all(a >= RUN_GROWTH * b for a, b in itertools.pairwise(sizes))
    # one id from every chunk, oldest to newest, again: all repeats, nothing new kept
    again = pd.Series([f"r{c}-{c % 50}" for c in range(300)] + ["fresh"])
    assert new.duplicated(again).tolist() == [True] * 300 + [False]
    assert len(new) == 300 * 50 + 1


def test_deduper_tells_redeliveries_from_another_accounts_reuse_over_many_chunks():
    """Red team A5: against a plain dictionary of id -> keeper account, row by row, over
    chunks of random ids and accounts: a repeat for the keeper is a duplicate, for any
    other account a conflict, and the keeper is the first kept row's account."""
    rng = np.random.default_rng(5)
    new = Deduper()
    keeper: dict[str, str] = {}
    for size in (0, 1, 7, 300, 1200, 50, 900):
        ids = [f"req-{i}" for i in rng.integers(0, 400, size)]
        accounts = [f"acct-{i}" for i in rng.integers(0, 3, size)]
        expected_dup, expected_conflict = [], []
        for rid, acct in zip(ids, accounts, strict=True):
            was = keeper.get(rid)
            if was is None:
                keeper[rid] = acct
            expected_dup.append(was is not None and was == acct)
            expected_conflict.append(was is not None and was != acct)
        arrow = pd.ArrowDtype(pa.string())
        dup, conflict = new.classify(pd.Series(ids, dtype=arrow), pd.Series(accounts, dtype=arrow))
        np.testing.assert_array_equal(dup, expected_dup)
        np.testing.assert_array_equal(conflict, expected_conflict)
    assert len(new) == len(keeper)
