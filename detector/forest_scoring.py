"""Isolation-forest scores of many rows, identical to scikit-learn's, in less time.

``IsolationForest.score_samples`` walks every tree over the whole input in turn, so a
million accounts stream the whole matrix (240 MB in float32) from memory once per tree,
and each forest runs on one thread. :func:`forest_raws` computes the same numbers for
several forests at once: rows are cut into chunks that stay in cache, every chunk goes
through every tree of every forest, and the chunks are spread over ``DEFAULT.workers``
threads (tree traversal releases the GIL). A family's subspace often has many rows
at exactly 0 in every column (one-sided clipping puts everything on the harmless side
of the median there); their path lengths are the same, so one such row is walked.

The result is bit-for-bit the same as ``-forest.score_samples(X[:, cols])``: each
row's path lengths are added in the same tree order with the same operations
(``depth + c(n_leaf) - 1`` per leaf, precomputed per tree), and the final
``2 ** (-depths / (n_trees * c(max_samples)))`` is scikit-learn's expression.
Rows are independent, so the chunking changes no value.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length

from detector.config import DEFAULT

__all__ = ["CHUNK_ROWS", "forest_raws"]

CHUNK_ROWS: Final = 16_384
"""Rows per chunk: a few MB of float32 features, so the trees walk a chunk in cache."""
MIN_ZERO_SHARE: Final = 8
"""Rows at 0 in all of a forest's columns (at or on the harmless side of the median in
every feature of a family: unlinked, light accounts) are walked once per chunk when at
least one row in this many is one."""


def _leaf_values(forest: IsolationForest) -> list[np.ndarray]:
    """Per tree, the path length an account ending in each node adds (scikit-learn's)."""
    return [
        depths + average - 1.0
        for depths, average in zip(
            forest._decision_path_lengths, forest._average_path_length_per_tree, strict=True
        )
    ]


def _has_internals(forest: IsolationForest) -> bool:
    """Whether the forest carries the per-tree tables this module reads (sklearn ≥ 1.3)."""
    return hasattr(forest, "_decision_path_lengths") and hasattr(
        forest, "_average_path_length_per_tree"
    )


def _path_lengths(
    rows: np.ndarray, trees: list[tuple[object, np.ndarray | None, np.ndarray]]
) -> np.ndarray:
    """Summed path lengths of ``rows`` over ``trees``, added in tree order."""
    acc = np.zeros(len(rows), dtype=np.float64)
    for tree, features, leaf in trees:
        x = rows if features is None else rows[:, features]
        acc += leaf[tree.apply(x, check_input=False)]
    return acc


def forest_raws(
    matrix: np.ndarray,
    forests: Sequence[tuple[IsolationForest, np.ndarray | slice]],
    *,
    chunk_rows: int = CHUNK_ROWS,
    workers: int = DEFAULT.workers,
) -> list[np.ndarray]:
    """``-forest.score_samples(matrix[:, cols])`` for each ``(forest, cols)``, bit for bit.

    Parameters
    ----------
    matrix : float32 array (n_rows, n_features), the preprocessed matrix.
    forests : each fitted forest with the columns of ``matrix`` it was fitted on.
    chunk_rows : rows per chunk (speed only, never the result).
    workers : threads the chunks are spread over.

    Returns
    -------
    One float64 array of shape (n_rows,) per forest: ``2 ** (-E[h(x)] / c(ψ))``.
    """
    X = np.ascontiguousarray(matrix, dtype=np.float32)
    n = X.shape[0]
    if n == 0 or not all(_has_internals(f) for f, _ in forests):
        return [-f.score_samples(X[:, cols]) for f, cols in forests]
    plans = []
    for forest, cols in forests:
        n_cols = X[:1, cols].shape[1]
        subsample = forest._max_features != n_cols
        trees = [
            (tree, features if subsample else None, leaf)
            for tree, features, leaf in zip(
                forest.estimators_, forest.estimators_features_, _leaf_values(forest), strict=True
            )
        ]
        plans.append((cols, trees))
    depths = [np.zeros(n, dtype=np.float64) for _ in forests]

    def run(start: int) -> None:
        block = X[start : start + chunk_rows]
        for (cols, trees), depth in zip(plans, depths, strict=True):
            sub = block if isinstance(cols, slice) and cols == slice(None) else block[:, cols]
            out = depth[start : start + chunk_rows]
            zero = ~sub.any(axis=1)
            if zero.sum() * MIN_ZERO_SHARE < len(sub):
                out[:] = _path_lengths(sub, trees)
            else:  # rows at 0 in every column: one path per tree serves them all
                out[zero] = _path_lengths(np.zeros((1, sub.shape[1]), dtype=sub.dtype), trees)
                out[~zero] = _path_lengths(sub[~zero], trees)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(run, range(0, n, chunk_rows)))
    out = []
    for (forest, _), depth in zip(forests, depths, strict=True):
        denominator = len(forest.estimators_) * _average_path_length([forest._max_samples])
        out.append(
            2 ** (-np.divide(depth, denominator, out=np.ones_like(depth), where=denominator != 0))
        )
    return out
