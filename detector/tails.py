"""Tail probabilities: moderate signals in many directions add up.

An isolation forest isolates by extremes: an account far out in one or two features
is cut off in a few splits, but an account that is *moderately* unusual in many
features at once -- the quiet extraction operator, never the most extreme at
anything -- sits among the crowd on every single axis a split looks at. A tail
probability detector in the style of ECOD (Li et al., 2022) scores exactly that
conjunction: each feature's empirical tail probability on its suspicious side is
computed from the training population, and the account's score is the sum of their
negative logs. Ten features each at their 90th percentile add up to ``10 * ln 10``,
as much as one feature beyond the 99.99th.

It works on the model's preprocessed matrix (peer-relative and one-sided clipped, see
:class:`~detector.model.AnomalyModel`), so the tails are those of the account's peers
and the harmless side of a feature contributes nothing. Each feature's term is its
contribution, so the score explains itself.

**Weights.** Unweighted, the sum counts every feature alike, and most features say how
*unusual* an account is (its size, its hours, its breadth), so a heavy honest product
that is moderately unusual in many of them outscored quiet extraction that is far out
in the few features that are direct evidence. Each term is therefore multiplied by its
feature's family weight in the blend (conversation 4, adoption 3, tier 3, probing 2, the rest 1; see
:data:`detector.config.Config.family_weights`). Measured in session 13
(docs/realistic-baseline.md): PR-AUC 0.951 -> 0.961 and 0.956 -> 0.974 on two realistic
populations the weights were not chosen on, low-and-slow within the top k 0.12-0.38 ->
0.50-0.56.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np

from detector.bucket_search import BucketSearch, search_left
from detector.config import DEFAULT

__all__ = ["TailScorer"]

N_TAIL_QUANTILES = 2049
"""Training quantiles kept per feature; the smallest tail probability is about 1/4000.
At 513 (about 1/1000) the top 20 of 20,000 accounts tied in every feature, and the
ranking that matters at 1% prevalence is decided up there (as with the family forests'
depth, :data:`detector.config.Config.family_max_samples`). Measured (session 27) on seven
realistic populations: PR-AUC equal or higher on each (+0.0002 on average), mixed cover
within the top k 0.70 -> 0.80 at 1357. Bundles keep the quantiles they were fitted with."""
CHUNK_ROWS: Final = 16_384
"""Rows scored together: their columns stay in cache through the per-column searches."""
MIN_ZERO_SHARE: Final = 8
"""A column's entries at exactly 0 (the harmless side, clipped to the median: about half
of them in a scored population) share one term, searched for once, when at least one
entry in this many is 0; the searches are most of the scorer's time."""


class TailScorer:
    """Weighted sum of negative log tail probabilities per account (ECOD-style).

    Parameters
    ----------
    directions : sequence of ``"high"``, ``"low"`` or ``"both"``, one per column.
    weights : one non-negative weight per column, or ``None`` (every column 1). The
        model gives each feature its family's weight in the blend
        (:data:`detector.config.Config.family_weights`), so the features that are direct
        evidence of extraction count as much in the conjunction as in the forests.
        Scorers saved before weights existed have none and sum their terms plainly.

    Attributes
    ----------
    quantiles_ : ndarray of shape (N_TAIL_QUANTILES, n_features)
        Training quantiles of each preprocessed column.
    """

    def __init__(
        self, directions: list[str] | tuple[str, ...], weights: tuple[float, ...] | None = None
    ) -> None:
        self.directions = tuple(directions)
        if weights is not None:
            weights = tuple(float(w) for w in weights)
            if len(weights) != len(self.directions):
                raise ValueError(f"{len(weights)} tail weights for {len(self.directions)} columns")
            if not all(np.isfinite(w) and w >= 0 for w in weights):
                raise ValueError(f"tail weights must be finite and >= 0: {weights}")
        self.weights = weights

    def fit(self, matrix: np.ndarray) -> TailScorer:
        """Store the training quantiles of each column of ``matrix``."""
        m = np.asarray(matrix, dtype=np.float64)
        self.quantiles_ = np.quantile(m, np.linspace(0.0, 1.0, N_TAIL_QUANTILES), axis=0)
        return self

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """``-ln(tail probability)`` of every entry on its column's suspicious side,
        times its column's weight.

        Probabilities are mid-rank fractions of the stored quantiles, floored at half
        a quantile step so the largest term is finite (about ``ln 4098``). A value at
        or below the training median of a ``high`` column (all of its clipped side)
        has a tail probability of at least one half and contributes at most ``ln 2``;
        terms are shifted by ``ln 2`` and floored at 0, so only the suspicious half
        of a feature adds to the score.

        A term depends only on where the value falls among the stored quantiles, so it
        is read from a per-column table (:meth:`_tables`) after one search;
        rows are scored in chunks on ``DEFAULT.workers`` threads.
        """
        m = np.asarray(matrix)
        out = np.empty(m.shape, dtype=np.float64)
        tables = self._tables()

        def run(start: int) -> None:
            out[start : start + CHUNK_ROWS] = self._block(m[start : start + CHUNK_ROWS], tables)

        _each_chunk(len(m), run)
        return out

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """Sum of the (weighted) contributions per row: higher is more anomalous."""
        m = np.asarray(matrix)
        out = np.empty(len(m), dtype=np.float64)
        tables = self._tables()

        def run(start: int) -> None:
            block = self._block(m[start : start + CHUNK_ROWS], tables)
            out[start : start + CHUNK_ROWS] = block.sum(axis=1)

        _each_chunk(len(m), run)
        return out

    def _tables(self) -> tuple[np.ndarray, np.ndarray, list[BucketSearch | None]]:
        """Per column, the quantiles padded with NaN and the term of every position.

        With ``l``/``r`` the number of stored quantiles strictly below / at or below a
        value, ``r == l`` unless the value equals ``q[l]``, and then ``r`` is the end
        of the run of quantiles equal to ``q[l]``. So a term is a function of ``l`` and
        of whether the value is tied: ``terms[j, 2 * l + tied]``, computed with the
        very operations the per-entry formula uses, hence the same bits. ``l`` is found
        through each column's :class:`~detector.bucket_search.BucketSearch`.
        """
        q = np.asarray(self.quantiles_, dtype=np.float64)
        n_q, n_features = q.shape
        padded = np.vstack([q, np.full((1, n_features), np.nan)]).T.copy()
        left = np.arange(n_q + 1)
        terms = np.empty((n_features, 2 * (n_q + 1)), dtype=np.float64)
        for j, direction in enumerate(self.directions):
            run_end = np.searchsorted(q[:, j], q[:, j], side="right")
            right = np.append(run_end, n_q)  # a value above every quantile ties none
            terms[j, 0::2] = _terms(left, left, n_q, direction)
            terms[j, 1::2] = _terms(left, right, n_q, direction)
        weights = getattr(self, "weights", None)  # absent from scorers saved before
        if weights is not None:
            terms *= np.asarray(weights, dtype=np.float64)[:, None]
        return padded, terms, [BucketSearch.of(q[:, j]) for j in range(n_features)]

    def _block(
        self, rows: np.ndarray, tables: tuple[np.ndarray, np.ndarray, list[BucketSearch | None]]
    ) -> np.ndarray:
        """The contributions of a block of rows, C-ordered (rows, features)."""
        padded, terms, guides = tables
        columns = np.array(rows.T, dtype=np.float64, order="C")
        out = np.empty(columns.shape, dtype=np.float64)
        for j in range(columns.shape[0]):
            v = columns[j]
            zero = v == 0.0
            if np.count_nonzero(zero) * MIN_ZERO_SHARE < len(v):
                out[j] = _lookup(padded[j], terms[j], v, guides[j])
            else:  # the clipped side: every 0 has the same term, searched for once
                out[j] = _lookup(padded[j], terms[j], np.zeros(1))[0]
                off = np.flatnonzero(~zero)
                out[j, off] = _lookup(padded[j], terms[j], v[off], guides[j])
        return np.ascontiguousarray(out.T)


def _lookup(
    padded: np.ndarray, terms: np.ndarray, v: np.ndarray, search: BucketSearch | None = None
) -> np.ndarray:
    """The terms of values ``v`` of one column (its row of :meth:`TailScorer._tables`)."""
    left = search_left(padded[:-1], v, search)
    tied = v == padded[left]
    return terms[2 * left + tied]


def _terms(left: np.ndarray, right: np.ndarray, n_q: int, direction: str) -> np.ndarray:
    """The contribution of a value with ``left``/``right`` quantiles below / at or below."""
    floor = 0.5 / n_q
    below = left / n_q
    at_or_below = right / n_q
    upper = 1.0 - (below + at_or_below) / 2.0
    lower = (below + at_or_below) / 2.0
    if direction == "high":
        tail = upper
    elif direction == "low":
        tail = lower
    else:
        tail = np.minimum(1.0, 2.0 * np.minimum(upper, lower))
    return np.maximum(-np.log(np.maximum(tail, floor)) - np.log(2.0), 0.0)


def _each_chunk(n_rows: int, run: Callable[[int], None]) -> None:
    """Call ``run(start)`` for every chunk of rows, on ``DEFAULT.workers`` threads."""
    with ThreadPoolExecutor(max_workers=DEFAULT.workers) as pool:
        list(pool.map(run, range(0, n_rows, CHUNK_ROWS)))
