"""``np.searchsorted(q, v, side="left")`` for many values over one small sorted array.

A binary search costs about ten unpredictable branches per value, and the scorers run
tens of millions of them (each value's place among a column's tail quantiles, among a
peer tier's quantiles, among a family forest's split thresholds). Equal-width buckets
over the array's distinct values replace it: ``bucket(x) = clip(floor((x - origin) *
scale), 0, n_buckets - 1)`` is monotone in ``x`` (each step is), so a distinct value of
``q`` in a lower bucket than ``v`` is below ``v``, one in a higher bucket is not, and
the count of distinct values below ``v`` is the count in lower buckets plus ``v``'s
comparisons with the few in its own bucket. That count gives the position of the first
element of ``q`` not below ``v``: the very index ``searchsorted`` returns.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np

__all__ = ["MAX_BUCKET_VALUES", "MIN_BUCKETS", "BucketSearch", "search_left"]

MIN_BUCKETS: Final = 4096
"""Buckets over the distinct values (at least; four per distinct value for longer arrays)."""
MAX_BUCKET_VALUES: Final = 6
"""Buckets are used when none holds more distinct values than this (a comparison each);
otherwise :func:`search_left` falls back to the binary search."""


class BucketSearch(NamedTuple):
    """The buckets of one sorted array (see the module docstring); build with :meth:`of`."""

    origin: float
    scale: float
    n_buckets: int
    below: np.ndarray
    """Per bucket, how many distinct values lie in lower buckets."""
    distinct: np.ndarray
    """The distinct values, padded with ``inf`` (never below a value)."""
    first: np.ndarray
    """Position in the array of each distinct value's first element, then its length."""
    steps: int
    """Most distinct values in one bucket: the comparisons per value searched."""

    @classmethod
    def of(cls, q: np.ndarray) -> BucketSearch | None:
        """The buckets of a sorted float array, or ``None`` when they would not pay."""
        q = np.asarray(q, dtype=np.float64)
        distinct = np.unique(q)
        span = float(distinct[-1] - distinct[0]) if len(distinct) > 1 else 0.0
        if not (np.isfinite(distinct).all() and np.isfinite(span) and span > 0):
            return None
        n_buckets = max(MIN_BUCKETS, 4 * len(distinct))
        search = cls(float(distinct[0]), n_buckets / span, n_buckets, distinct, distinct, q, 0)
        bucket = search.bucket(distinct)
        steps = int(np.bincount(bucket).max())
        if steps > MAX_BUCKET_VALUES:
            return None
        return search._replace(
            below=np.searchsorted(bucket, np.arange(n_buckets), side="left"),
            distinct=np.append(distinct, np.full(steps, np.inf)),
            first=np.append(np.searchsorted(q, distinct, side="left"), len(q)),
            steps=steps,
        )

    def bucket(self, v: np.ndarray) -> np.ndarray:
        """Each float64 value's bucket (finite or infinite values; not NaN)."""
        with np.errstate(over="ignore"):  # beyond the float range: the last bucket
            b = np.floor((v - self.origin) * self.scale)
        return np.clip(b, 0, self.n_buckets - 1, out=b).astype(np.intp)

    def left(self, v: np.ndarray) -> np.ndarray:
        """``np.searchsorted(q, v, side="left")`` for float64 values that are not NaN."""
        at = self.below[self.bucket(v)]
        count = at.copy()
        for step in range(self.steps):
            count += self.distinct[at + step] < v
        return self.first[count]


def search_left(q: np.ndarray, v: np.ndarray, search: BucketSearch | None) -> np.ndarray:
    """``np.searchsorted(q, v, side="left")``, through ``search`` (``q``'s buckets) when
    there are some and ``v`` holds no NaN (which sorts after every number)."""
    v = np.asarray(v, dtype=np.float64)
    if search is None or np.isnan(v).any():
        return np.searchsorted(q, v, side="left")
    return search.left(v)
