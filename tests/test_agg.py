"""The grouped primitives of detector/features/agg.py against their plain definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector.features import agg


def pair_counts_by_groupby(
    codes: np.ndarray, key: np.ndarray, ignore_zero: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The previous definition of ``agg.pair_counts`` (a pandas two-key group-by)."""
    c, k = codes, key
    if ignore_zero:
        keep = key != 0
        c, k = codes[keep], key[keep]
    if len(c) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.astype(key.dtype), np.empty(0, dtype=np.float64)
    counts = pd.DataFrame({"c": c, "k": k}).groupby(["c", "k"], sort=False).size()
    return (
        counts.index.get_level_values(0).to_numpy(),
        counts.index.get_level_values(1).to_numpy(),
        counts.to_numpy(dtype=np.float64),
    )


def hostile_keys(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Account codes and uint64 keys: zeros, the largest key, few and many distinct keys."""
    accounts = int(rng.integers(1, 60))
    pool = rng.integers(0, 2**64 - 1, int(rng.integers(1, 300)), dtype=np.uint64, endpoint=True)
    pool[0] = 0
    pool[-1] = np.uint64(2**64 - 1)
    return rng.integers(0, accounts, n).astype(np.int64), pool[rng.integers(0, len(pool), n)]


@pytest.mark.parametrize("ignore_zero", [True, False])
def test_pair_counts_equals_the_groupby_definition_in_values_and_order(ignore_zero):
    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 17, 1000, 20_000):
        codes, key = hostile_keys(rng, n)
        got = agg.pair_counts(codes, key, ignore_zero)
        want = pair_counts_by_groupby(codes, key, ignore_zero)
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)


def test_pair_counts_when_every_key_is_zero():
    codes = np.array([0, 1, 1], dtype=np.int64)
    key = np.zeros(3, dtype=np.uint64)
    pc, keys, counts = agg.pair_counts(codes, key)
    assert len(pc) == len(keys) == len(counts) == 0
    pc, keys, counts = agg.pair_counts(codes, key, ignore_zero=False)
    assert pc.tolist() == [0, 1] and keys.tolist() == [0, 0] and counts.tolist() == [1.0, 2.0]


def test_top_share_and_entropy_on_a_known_distribution():
    codes = np.array([0, 0, 0, 0, 1, 1], dtype=np.int64)
    key = np.array([5, 5, 9, 9, 3, 0], dtype=np.uint64)  # account 1: one key, one unknown
    top, ent = agg.top_share_and_entropy(codes, key, 3)
    np.testing.assert_allclose(top, [0.5, 1.0, 0.0])
    np.testing.assert_allclose(ent, [1.0, 0.0, 0.0])


def test_group_sizes_count_each_rows_account_and_key_pair() -> None:
    """Per row, the rows sharing its (account, key) pair, as a group-by transform; rows
    with key 0 (no conversation id) stand alone, and the same key in two accounts is two
    groups."""
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 30, 2_000)
    key = rng.integers(0, 40, 2_000).astype(np.uint64)
    sizes = agg.group_sizes(codes, key)
    frame = pd.DataFrame({"c": codes, "k": key})
    expected = frame.groupby(["c", "k"])["c"].transform("size").to_numpy()
    np.testing.assert_array_equal(sizes, np.where(key == 0, 1, expected))
    assert (sizes[key == 0] == 1).all() and (key == 0).any()
    assert agg.group_sizes(np.array([0, 1]), np.array([7, 7], dtype=np.uint64)).tolist() == [1, 1]
    assert len(agg.group_sizes(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64))) == 0
