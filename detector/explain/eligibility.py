"""Which features an explanation may cite: percentiles among peers, and eligibility.

Only features on the suspicious side of their ``direction`` and past
:data:`ELIGIBLE_PERCENTILE` there may be cited: above the 90th percentile (and above
the median) for ``high``, below the 10th for ``low``, either tail for ``both``. An
explanation never says "flagged because it is unusually *diverse*" for a feature where
only low diversity is suspicious.

Percentiles are among the account's peers (accounts of a similar request rate,
:mod:`detector.peers`), read from the model's stored training quantiles of the
account's peer tier.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import numpy as np

from detector.bucket_search import BucketSearch, search_left

if TYPE_CHECKING:
    from detector.model import AnomalyModel

__all__ = [
    "ELIGIBLE_PERCENTILE",
    "candidates",
    "feature_meta",
    "percentiles",
]

MIN_BUCKET_SEARCH: Final = 2048
"""Values of one column searched at once from which building buckets over its quantiles
(:class:`~detector.bucket_search.BucketSearch`) costs less than the binary searches."""
ELIGIBLE_PERCENTILE: Final = 90.0
"""A feature is citable when the account is at least this far out on its suspicious side."""


def _mid_rank(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(l + r) * 50 / len(q)``: ``l``/``r`` stored quantiles below / at or below ``v``.

    ``r == l`` unless ``v`` equals ``q[l]``, so the second binary search is only run for
    the values that tie a quantile (most values tie none).
    """
    search = BucketSearch.of(q) if len(v) >= MIN_BUCKET_SEARCH else None
    left = search_left(q, v, search)
    right = left.copy()
    if len(q):
        tied = np.flatnonzero(q[np.minimum(left, len(q) - 1)] == v)
        right[tied] = np.searchsorted(q, v[tied], side="right")
    return (left + right) * (50.0 / len(q))


def percentiles(model: AnomalyModel, values: np.ndarray) -> np.ndarray:
    """Percentile of each value among the account's peers (mid-rank, 0–100).

    Uses the model's stored training quantiles of the account's peer tier (accounts of
    a similar request rate, :mod:`detector.peers`): with ``l``/``r`` the number of
    stored quantiles strictly below / at-or-below ``x``, the percentile is
    ``100 * (l + r) / 2 / N_QUANTILES`` — 0 below every peer, 100 above every one, and
    a value shared by many accounts (a mass at 0) gets the middle of its tie rather
    than its top.

    Parameters
    ----------
    model : a fitted AnomalyModel.
    values : raw feature values, shape (n_accounts, n_features_in_), model column order.

    Returns
    -------
    float array of the same shape.
    """
    tiers = model.peer_tiers(values)
    out = np.empty(values.shape, dtype=np.float64)
    for t in np.unique(tiers):
        rows = tiers == t
        q = model.peer_quantiles_[t]
        for j in range(values.shape[1]):
            out[rows, j] = _mid_rank(q[:, j], values[rows, j])
    return out


def feature_meta(model: AnomalyModel) -> dict[str, np.ndarray]:
    """Masks over the model's features: ``high``/``low``/``both`` direction,
    ``log``/``share`` scale."""
    names = [str(n) for n in model.feature_names_in_]
    directions = np.array([model.specs_[n].direction for n in names])
    scales = np.array([model.specs_[n].scale for n in names])
    return {
        "high": directions == "high",
        "low": directions == "low",
        "both": directions == "both",
        "log": scales == "log",
        "share": scales == "share",
    }


def candidates(
    model: AnomalyModel, values: np.ndarray, tiers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Citable (row, feature) entries with their percentile among peers and extremeness.

    Computed per peer tier (a handful of vectorised passes, not a loop per account).
    Entries come back ordered by row.
    """
    parts = []
    for t in np.unique(tiers):
        at = np.flatnonzero(tiers == t)
        r, c, p, e = _tier_candidates(model, model.peer_quantiles_[t], values[at])
        parts.append((at[r], c, p, e))
    if not parts:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty, np.empty(0), np.empty(0)
    rows, cols, pct, extreme = (np.concatenate(x) for x in zip(*parts, strict=True))
    order = np.argsort(rows, kind="stable")
    return rows[order], cols[order], pct[order], extreme[order]


def _tier_candidates(
    model: AnomalyModel, q: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`candidates` against one set of stored quantiles ``q`` (N_QUANTILES, F).

    A value can only reach the 90th percentile if it is at least the stored 90 %
    quantile (10 % for the low side), so a cheap comparison against those two cuts
    finds the few candidate entries and exact percentiles are computed for those
    alone.
    """
    meta = feature_meta(model)
    n_q = q.shape[0]
    # p >= 90 needs l + r >= 1.8 n_q, impossible below q[ceil(0.9 n_q) - 1]; mirrored low
    lo_cut = q[math.floor(n_q * (100 - ELIGIBLE_PERCENTILE) / 100)]
    hi_cut = q[math.ceil(n_q * ELIGIBLE_PERCENTILE / 100) - 1]
    median = q[n_q // 2]
    if np.isfinite(q).all():
        # (v >= hi_cut) & (v > median) as one bound (hi_cut >= median: quantiles are
        # sorted), NaN where the side is not suspicious (no value passes it); mirrored low
        up_from = np.where(hi_cut > median, hi_cut, np.nextafter(median, np.inf))
        down_to = np.where(lo_cut < median, lo_cut, np.nextafter(median, -np.inf))
        up_from[~(meta["high"] | meta["both"])] = np.nan
        down_to[~(meta["low"] | meta["both"])] = np.nan
        citable = (values >= up_from) | (values <= down_to)
    else:
        up = (meta["high"] | meta["both"]) & (values >= hi_cut) & (values > median)
        down = (meta["low"] | meta["both"]) & (values <= lo_cut) & (values < median)
        citable = up | down
    cols, rows = np.nonzero(citable.T)
    vals = values[rows, cols]
    pct = np.empty(len(rows), dtype=np.float64)
    bounds = np.searchsorted(cols, np.arange(values.shape[1] + 1))
    for j in np.unique(cols):
        sl = slice(bounds[j], bounds[j + 1])
        pct[sl] = _mid_rank(q[:, j], vals[sl])
    is_up = vals > median[cols]
    extreme = np.where(is_up, pct, 100.0 - pct)
    keep = extreme >= ELIGIBLE_PERCENTILE
    return rows[keep], cols[keep], pct[keep], extreme[keep]
