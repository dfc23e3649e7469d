"""Grouped primitives over integer account codes (0..n-1), all vectorised with numpy.

Every family reduces an annotated bucket to one value per account with these, so
no feature loops over accounts or requests in Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def count(codes: np.ndarray, n: int) -> np.ndarray:
    """Rows per account."""
    return np.bincount(codes, minlength=n).astype(np.float64)


def total(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` per account (NaN counts as 0)."""
    return np.bincount(codes, weights=np.nan_to_num(values.astype(np.float64)), minlength=n)


def mean(codes: np.ndarray, values: np.ndarray, n: int, neutral: float = 0.0) -> np.ndarray:
    """Mean of the non-NaN ``values`` per account; ``neutral`` where an account has none."""
    v = values.astype(np.float64)
    ok = ~np.isnan(v)
    num = np.bincount(codes[ok], weights=v[ok], minlength=n)
    den = np.bincount(codes[ok], minlength=n)
    return np.where(den > 0, num / np.maximum(den, 1), neutral)


def std(codes: np.ndarray, values: np.ndarray, n: int, neutral: float = 0.0) -> np.ndarray:
    """Population standard deviation of non-NaN ``values`` per account."""
    v = values.astype(np.float64)
    ok = ~np.isnan(v)
    c, v = codes[ok], v[ok]
    den = np.bincount(c, minlength=n)
    m = np.bincount(c, weights=v, minlength=n) / np.maximum(den, 1)
    var = np.bincount(c, weights=(v - m[c]) ** 2, minlength=n) / np.maximum(den, 1)
    return np.where(den > 0, np.sqrt(var), neutral)


def share(codes: np.ndarray, mask: np.ndarray, n: int, neutral: float = 0.0) -> np.ndarray:
    """Share of an account's rows where ``mask`` is true (NaN rows are excluded)."""
    return mean(codes, np.asarray(mask, dtype=np.float64), n, neutral)


def distinct_share(codes: np.ndarray, mask: np.ndarray, key: np.ndarray, n: int) -> np.ndarray:
    """Distinct ``key`` values among an account's ``mask`` rows, over its rows.

    The share of an account's requests that are flagged, counting a repeated key (an
    exact prompt re-sent on another day or to another model) once. Rows with key 0
    (no prompt text) count one each. Order-free, so invariant to row order.
    """
    mask = np.nan_to_num(np.asarray(mask, dtype=np.float64)) > 0
    distinct = nunique(codes[mask], key[mask], n)
    blank = total(codes[mask], (key[mask] == 0).astype(np.float64), n)
    return (distinct + blank) / np.maximum(count(codes, n), 1)


def reruns(codes: np.ndarray, key: np.ndarray, day: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Per row: whether its account sent the same ``key`` on another day or to another model.

    A benchmark or safety suite re-runs its fixed set (nightly, or on every new model);
    extraction wants new answers and never asks twice. Rows with key 0 (no prompt text)
    are never re-runs. Grouped in C (pandas), no Python loop per row.
    """
    frame = pd.DataFrame({"c": codes, "k": key, "d": day, "m": model})
    frame = frame[frame["k"] != 0]
    out = np.zeros(len(codes), dtype=bool)
    if frame.empty:
        return out
    grouped = frame.groupby(["c", "k"], sort=False)
    again = (grouped["d"].transform("nunique") > 1) | (grouped["m"].transform("nunique") > 1)
    out[frame.index.to_numpy()[again.to_numpy()]] = True
    return out


def first_days(
    codes: np.ndarray, key: np.ndarray, day: np.ndarray, n: int, at_least: int = 1
) -> np.ndarray:
    """Per account: the days on which at least ``at_least`` of its ``key`` values first
    appeared.

    A key's first day is the earliest day its account sent it, so the count is
    invariant to row order. Rows with key 0 (no prompt text) are skipped.
    """
    keep = key != 0
    frame = pd.DataFrame({"c": codes[keep], "k": key[keep], "d": day[keep]})
    first = frame.groupby(["c", "k"], sort=False)["d"].min()
    owner = first.index.get_level_values("c").to_numpy()
    # (account, first day) pairs, and how many keys each day first saw
    acct, _, keys = pair_counts(owner, first.to_numpy(), ignore_zero=False)
    return np.bincount(acct[keys >= at_least], minlength=n).astype(np.float64)


def median(codes: np.ndarray, values: np.ndarray, n: int, neutral: float = 0.0) -> np.ndarray:
    """Median of non-NaN values per account (pandas group-by, C speed)."""
    v = pd.Series(values.astype(np.float64))
    med = v.groupby(codes).median()
    out = np.full(n, neutral)
    out[med.index.to_numpy()] = med.to_numpy()
    return np.where(np.isnan(out), neutral, out)


def nunique(codes: np.ndarray, key: np.ndarray, n: int, ignore_zero: bool = True) -> np.ndarray:
    """Distinct values of ``key`` per account (key 0 means unknown and is skipped)."""
    pairs = pair_codes_and_counts(codes, key, ignore_zero)
    return np.bincount(pairs[0], minlength=n).astype(np.float64)


def pair_counts(
    codes: np.ndarray, key: np.ndarray, ignore_zero: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (account, key) pairs and the number of rows of each: (codes, keys, counts)."""
    c, k = codes, key
    if ignore_zero:
        keep = key != 0
        c, k = codes[keep], key[keep]
    if len(c) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.astype(key.dtype), np.empty(0, dtype=np.float64)
    p_codes, pairs, k_uniques, width = pair_index(c, k)
    return (
        pairs // width,
        k_uniques[pairs % width],
        np.bincount(p_codes, minlength=len(pairs)).astype(np.float64),
    )


def pair_index(
    codes: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.int64]:
    """Each row's (account, key) pair as a code: (row pair codes, the pairs as
    ``account * width + key code``, the distinct keys, width).

    Two hash factorisations: the pairs come out in order of first appearance, as a
    ``groupby(sort=False)`` gives them, without building its index."""
    k_codes, k_uniques = pd.factorize(key)
    width = np.int64(max(len(k_uniques), 1))
    p_codes, pairs = pd.factorize(codes.astype(np.int64) * width + k_codes)
    return p_codes, pairs, np.asarray(k_uniques), width


def group_sizes(codes: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Per row: how many rows share its (account, ``key``) pair; 1 for key 0 (unknown:
    each such row stands alone)."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    p_codes = pair_index(codes, key)[0]
    sizes = np.bincount(p_codes)[p_codes]
    return np.where(key == 0, 1, sizes)


def pair_codes_and_counts(
    codes: np.ndarray, key: np.ndarray, ignore_zero: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (account, key) pairs' account codes and row counts."""
    c, _, cnt = pair_counts(codes, key, ignore_zero)
    return c, cnt


def top_share_and_entropy(
    codes: np.ndarray, key: np.ndarray, n: int, ignore_zero: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Per account: share of its most frequent key, and entropy (bits) of its key distribution.

    Accounts with no (non-zero) key get share 0 and entropy 0.
    """
    pc, cnt = pair_codes_and_counts(codes, key, ignore_zero)
    tot = np.bincount(pc, weights=cnt, minlength=n)
    top = np.zeros(n)
    if len(pc):
        np.maximum.at(top, pc, cnt)
    p = cnt / np.maximum(tot[pc], 1)
    ent = np.bincount(pc, weights=-p * np.log2(np.maximum(p, 1e-300)), minlength=n)
    return np.where(tot > 0, top / np.maximum(tot, 1), 0.0), ent


def entropy_of_bins(counts: np.ndarray) -> np.ndarray:
    """Entropy (bits) of each row of a (accounts × bins) count matrix."""
    tot = counts.sum(axis=1, keepdims=True)
    p = counts / np.maximum(tot, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -(np.where(p > 0, p * np.log2(p), 0.0)).sum(axis=1)
    return ent


def bin_matrix(codes: np.ndarray, bins: np.ndarray, n: int, n_bins: int) -> np.ndarray:
    """Counts per (account, bin) as a dense matrix; ``bins`` in [0, n_bins)."""
    flat = np.bincount(
        codes.astype(np.int64) * n_bins + bins.astype(np.int64), minlength=n * n_bins
    )
    return flat.reshape(n, n_bins).astype(np.float64)
