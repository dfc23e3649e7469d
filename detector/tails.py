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
"""

from __future__ import annotations

import numpy as np

__all__ = ["TailScorer"]

N_TAIL_QUANTILES = 513
"""Training quantiles kept per feature; the smallest tail probability is about 1/1000."""


class TailScorer:
    """Sum of negative log tail probabilities per account (ECOD-style).

    Parameters
    ----------
    directions : sequence of ``"high"``, ``"low"`` or ``"both"``, one per column.

    Attributes
    ----------
    quantiles_ : ndarray of shape (N_TAIL_QUANTILES, n_features)
        Training quantiles of each preprocessed column.
    """

    def __init__(self, directions: list[str] | tuple[str, ...]) -> None:
        self.directions = tuple(directions)

    def fit(self, matrix: np.ndarray) -> TailScorer:
        """Store the training quantiles of each column of ``matrix``."""
        m = np.asarray(matrix, dtype=np.float64)
        self.quantiles_ = np.quantile(m, np.linspace(0.0, 1.0, N_TAIL_QUANTILES), axis=0)
        return self

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """``-ln(tail probability)`` of every entry on its column's suspicious side.

        Probabilities are mid-rank fractions of the stored quantiles, floored at half
        a quantile step so the largest term is finite (about ``ln 1026``). A value at
        or below the training median of a ``high`` column (all of its clipped side)
        has a tail probability of at least one half and contributes at most ``ln 2``;
        terms are shifted by ``ln 2`` and floored at 0, so only the suspicious half
        of a feature adds to the score.
        """
        m = np.asarray(matrix, dtype=np.float64)
        q = self.quantiles_
        n_q = q.shape[0]
        floor = 0.5 / n_q
        out = np.empty(m.shape, dtype=np.float64)
        for j, direction in enumerate(self.directions):
            below = np.searchsorted(q[:, j], m[:, j], side="left") / n_q
            at_or_below = np.searchsorted(q[:, j], m[:, j], side="right") / n_q
            upper = 1.0 - (below + at_or_below) / 2.0
            lower = (below + at_or_below) / 2.0
            if direction == "high":
                tail = upper
            elif direction == "low":
                tail = lower
            else:
                tail = np.minimum(1.0, 2.0 * np.minimum(upper, lower))
            out[:, j] = -np.log(np.maximum(tail, floor))
        return np.maximum(out - np.log(2.0), 0.0)

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """Sum of the contributions per row: higher is more anomalous."""
        return self.contributions(matrix).sum(axis=1)
