"""Isolation-forest scores of many rows, identical to scikit-learn's, in less time.

``IsolationForest.score_samples`` walks every tree over the whole input in turn, so a
million accounts stream the whole matrix (240 MB in float32) from memory once per tree,
and each forest runs on one thread. :func:`forest_raws` computes the same numbers for
several forests at once: rows are cut into chunks that stay in cache, every chunk goes
through every tree of a forest, and the chunks are spread over ``DEFAULT.workers``
threads (tree traversal releases the GIL).

**Cells.** A family forest sees a few columns, and which way a row goes at a split
depends only on which side of the split's threshold its value lies. Between two
consecutive thresholds of a column (over all the forest's trees) every value goes the
same way at every split on that column, so rows whose values fall between the same
thresholds in every column -- the same *cell* -- end in the same leaf of every tree
and have the same path lengths. When a sample of the rows shows that they fall in
few distinct cells (a mass at 0 from one-sided clipping, unlinked accounts with the
coordination family's neutral values, one- and two-column families), one row per
occupied cell is walked and its path length copied to the others: a million rows of
a one-column family walk fewer than two thousand. Forests over many columns (the
full-space forest) have as many cells as rows and are walked row by row; there,
rows at exactly 0 in every column still walk once per chunk.

The result is bit-for-bit the same as ``-forest.score_samples(X[:, cols])``: each
row's path lengths are added in the same tree order with the same operations
(``depth + c(n_leaf) - 1`` per leaf, precomputed per tree), and the final
``2 ** (-depths / (n_trees * c(max_samples)))`` is scikit-learn's expression.
Rows are independent, so neither the chunking nor the cells change a value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from detector.bucket_search import BucketSearch, search_left
from detector.config import DEFAULT

__all__ = ["CHUNK_ROWS", "average_path_length", "forest_raws"]

CHUNK_ROWS: Final = 16_384
"""Rows per chunk: a few MB of float32 features, so the trees walk a chunk in cache."""
MIN_ZERO_SHARE: Final = 8
"""Rows at 0 in all of a forest's columns (at or on the harmless side of the median in
every feature of a family: unlinked, light accounts) are walked once per chunk when at
least one row in this many is one."""
CELL_SAMPLE_ROWS: Final = 65_536
"""Rows (evenly spaced) whose cells decide whether a forest is walked by cell."""
MAX_CELL_SHARE: Final = 0.6
"""A forest is walked by cell when the sampled rows fall in at most this share of
distinct cells: finding the cells costs about a binary search per column and a hash
per row, so it pays when it saves at least ~40 % of the walks (measured: 5 of the 10
family forests on the synthetic benchmark population, from 0.7 % to 57 % cells per
row in the sample; the 4 to 16 column families with no shared values stay row by row)."""


class _Tree(NamedTuple):
    """One tree as the walk uses it."""

    structure: Any
    """The fitted ``tree_`` (public): ``apply`` gives each row's leaf."""
    features: np.ndarray | None
    """The forest's columns the tree was fitted on (``None``: all of them)."""
    leaf: np.ndarray
    """Per node, the path length an account ending there adds."""


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


def _trees(forest: IsolationForest, n_cols: int) -> list[_Tree]:
    """The forest's trees with their columns and per-node path lengths.

    ``depth + c(n_node_samples) - 1``, from the trees' public structure, the per-node
    table scikit-learn builds at fit (and keeps in private attributes).
    """
    return [
        _Tree(
            tree.tree_,
            features if len(features) != n_cols else None,
            tree.tree_.compute_node_depths() + average_path_length(tree.tree_.n_node_samples) - 1.0,
        )
        for tree, features in zip(forest.estimators_, forest.estimators_features_, strict=True)
    ]


def _walkable(forest: IsolationForest) -> bool:
    """Whether the trees expose what this module reads (scikit-learn ≥ 1.3)."""
    return all(hasattr(tree.tree_, "compute_node_depths") for tree in forest.estimators_[:1])


def _path_lengths(rows: np.ndarray, trees: list[_Tree]) -> np.ndarray:
    """Summed path lengths of ``rows`` (float32, C-contiguous) over ``trees``, in tree order."""
    acc = np.zeros(len(rows), dtype=np.float64)
    for tree in trees:
        x = rows if tree.features is None else np.ascontiguousarray(rows[:, tree.features])
        acc += tree.leaf[tree.structure.apply(x)]
    return acc


def _thresholds(trees: list[_Tree], n_cols: int) -> list[np.ndarray]:
    """Per column, the sorted distinct thresholds of every split on it in ``trees``."""
    columns, values = [], []
    for tree in trees:
        split = tree.structure.children_left >= 0
        feature = tree.structure.feature[split]
        columns.append(feature if tree.features is None else tree.features[feature])
        values.append(tree.structure.threshold[split])
    column, threshold = np.concatenate(columns), np.concatenate(values)
    return [np.unique(threshold[column == j]) for j in range(n_cols)]


def _cells(
    sub: np.ndarray, edges: list[np.ndarray], searches: list[BucketSearch | None] | None = None
) -> np.ndarray:
    """Each row's cell as one integer: per column, how many thresholds lie below its value.

    A tree sends a value left at a split when ``value <= threshold`` (scikit-learn
    compares the float32 value with the float64 threshold in double precision, as
    ``searchsorted`` does here), so two rows with the same count in every column make
    the same decision at every split. ``searches``: each column's
    :class:`~detector.bucket_search.BucketSearch` (the same counts, faster).
    """
    code = np.zeros(len(sub), dtype=np.int64)
    for j, e in enumerate(edges):
        code *= len(e) + 1
        search = searches[j] if searches is not None else None
        code += search_left(e, sub[:, j].astype(np.float64), search)
    return code


def _by_cell(
    X: np.ndarray, cols: np.ndarray | slice, trees: list[_Tree]
) -> tuple[np.ndarray, np.ndarray] | None:
    """One row per occupied cell and each row's cell, or ``None`` when cells do not pay.

    Returns ``(representatives, cell)``: the float32 rows (the forest's columns) to walk
    and, per row of ``X``, the index of its cell's representative.
    """
    edges = _thresholds(trees, X[:1, cols].shape[1])
    if math.prod(len(e) + 1 for e in edges) >= 2**63:
        return None  # too many cells to number them with one integer
    sample = _cells(X[:: max(1, len(X) // CELL_SAMPLE_ROWS)][:, cols], edges)
    if len(pd.unique(sample)) > MAX_CELL_SHARE * len(sample):
        return None
    sub = X[:, cols]
    if np.isnan(sub).any():
        return None  # a split sends NaN either way, whatever its threshold
    cell, _ = pd.factorize(_cells(sub, edges, [BucketSearch.of(e) for e in edges]))
    representative = np.empty(int(cell.max()) + 1, dtype=np.intp)
    representative[cell] = np.arange(len(cell))  # any row of a cell will do
    return np.ascontiguousarray(sub[representative]), cell


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
    for forest, cols in forests:
        if X[:1, cols].shape[1] != forest.n_features_in_:
            raise ValueError(f"a forest fitted on {forest.n_features_in_} columns got others")
    trees = [_trees(forest, forest.n_features_in_) for forest, _ in forests]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        cells = list(
            pool.map(
                lambda i: _by_cell(X, forests[i][1], trees[i]) if len(trees[i]) else None,
                range(len(forests)),
            )
        )
        # what each forest walks: the matrix (its columns picked per chunk) or its cells
        walks = [
            (X, cols) if by_cell is None else (by_cell[0], slice(None))
            for (_, cols), by_cell in zip(forests, cells, strict=True)
        ]
        depths = [np.zeros(len(rows), dtype=np.float64) for rows, _ in walks]

        def run(task: tuple[int, int]) -> None:
            start, i = task
            rows, cols = walks[i]
            block = rows[start : start + chunk_rows]
            full = isinstance(cols, slice) and cols == slice(None)
            sub = block if full else np.ascontiguousarray(block[:, cols])
            out = depths[i][start : start + chunk_rows]
            zero = ~sub.any(axis=1)
            if zero.sum() * MIN_ZERO_SHARE < len(sub):
                out[:] = _path_lengths(sub, trees[i])
            else:  # rows at 0 in every column: one path per tree serves them all
                out[zero] = _path_lengths(np.zeros((1, sub.shape[1]), dtype=sub.dtype), trees[i])
                out[~zero] = _path_lengths(sub[~zero], trees[i])

        tasks = [
            (start, i)
            for i in range(len(forests))
            if cells[i] is not None
            for start in range(0, len(walks[i][0]), chunk_rows)
        ]
        tasks += [
            (start, i)
            for start in range(0, n, chunk_rows)
            for i in range(len(forests))
            if cells[i] is None
        ]
        list(pool.map(run, tasks))
    out = []
    for (forest, _), depth, by_cell in zip(forests, depths, cells, strict=True):
        if by_cell is not None:
            depth = depth[by_cell[1]]
        denominator = len(forest.estimators_) * average_path_length([forest.max_samples_])
        out.append(
            2 ** (-np.divide(depth, denominator, out=np.ones_like(depth), where=denominator != 0))
        )
    return out
