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

from detector.config import DEFAULT

__all__ = ["CHUNK_ROWS", "average_path_length", "forest_raws"]

CHUNK_ROWS: Final = 16_384
"""Rows per chunk: a few MB of float32 features, so the trees walk a chunk in cache."""
MIN_ZERO_SHARE: Final = 8
"""Rows at 0 in all of a forest's columns (at or on the harmless side of the median in
every feature of a family: unlinked, light accounts) are walked once per chunk when at
least one row in this many is one."""


def average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """``c(n)``: average path length of an unsuccessful BST search among ``n`` samples.

    The isolation forest's normaliser (Liu et al. 2008), with scikit-learn's arithmetic:
    ``c(1) = 0``, ``c(2) = 1``, ``c(n) = 2 (ln(n - 1) + γ) - 2 (n - 1) / n``.
    """
    n = np.asarray(n_samples, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _leaf_values(forest: IsolationForest) -> list[np.ndarray]:
    """Per tree, the path length an account ending in each node adds.

    ``depth + c(n_node_samples) - 1``, from the trees' public structure, the per-node
    table scikit-learn builds at fit (and keeps in private attributes).
    """
    return [
        tree.tree_.compute_node_depths() + average_path_length(tree.tree_.n_node_samples) - 1.0
        for tree in forest.estimators_
    ]


def _walkable(forest: IsolationForest) -> bool:
    """Whether the trees expose what this module reads (scikit-learn ≥ 1.3)."""
    return all(hasattr(tree.tree_, "compute_node_depths") for tree in forest.estimators_[:1])


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
    if n == 0 or not all(_walkable(f) for f, _ in forests):
        return [-f.score_samples(X[:, cols]) for f, cols in forests]
    plans = []
    for forest, cols in forests:
        n_cols = X[:1, cols].shape[1]
        trees = [
            (tree, features if len(features) != n_cols else None, leaf)
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
        denominator = len(forest.estimators_) * average_path_length([forest.max_samples_])
        out.append(
            2 ** (-np.divide(depth, denominator, out=np.ones_like(depth), where=denominator != 0))
        )
    return out
