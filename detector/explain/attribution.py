"""Forest attribution: how much each feature shortened an account's isolation paths.

**Forest attribution** (:func:`forest_contributions`). Every node of an isolation tree
has an expected total path length for an account that reaches it,
``v(node) = depth(node) + c(n(node))``, where ``n`` is the number of training samples
in the node and ``c`` the average path length of an unsuccessful BST search (the
isolation forest's normaliser). A split that sends the account from ``parent`` to
``child`` changes that expectation by ``v(parent) - v(child) = c(n_parent) - 1 -
c(n_child)`` and that amount is credited to the split's feature: a split that cuts the
account off from almost all samples early (512 → 3 at the root: +9.4 levels) gets a
large credit, a split that leaves it with the majority (512 → 509: −1) a negative one.
Along a path the credits telescope to ``c(max_samples) - h(x)``, so averaged over the
trees **the contributions of all features sum exactly to c(ψ) − E[h(x)]**, the
quantity the raw anomaly score ``2 ** (-E[h(x)] / c(ψ))`` is monotone in (a
Saabas-style path decomposition, in the spirit of DIFFI, with no Python loop per
account). Contributions are in *tree levels saved*.

**Cost.** Attribution walks every tree for each account (``apply`` for its leaf, then
the credits along the leaf's path from a per-tree table), roughly 3 s per 100k accounts
× 60 features × 300 trees on one core, two to three times the cost of scoring.
:func:`~detector.scored.score_frame` therefore attributes the flagged accounts and the top
:data:`~detector.explain.reasons.DEFAULT_EXPLAIN_TOP` ranked ones, and gives every other
account a cheap reason: its most extreme eligible percentiles.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from detector import schema
from detector.config import DEFAULT
from detector.forest_scoring import average_path_length

if TYPE_CHECKING:
    from detector.model import AnomalyModel

__all__ = [
    "CHUNK_ROWS",
    "average_path_length",
    "contributions",
    "forest_contributions",
]

CHUNK_ROWS: Final = 4096
"""Accounts per attribution chunk: keeps the per-chunk accumulator in cache."""


def _tree_paths(tree) -> tuple[np.ndarray, np.ndarray]:
    """Per step from the root, each leaf's credited feature and credit (step-major tables).

    Column ``leaf`` of each table lists the path's nodes from the root (whose "edge" credits
    0.0 to feature 0, as a walk over ``decision_path`` does) down to ``leaf``; shorter
    paths are padded with 0.0 credited to a spare column (index ``n_features``), so every
    account's path has the same number of steps and adds nothing to a real feature there.
    """
    t = tree.tree_
    value = t.compute_node_depths() + average_path_length(t.n_node_samples)
    parent = np.full(t.node_count, -1, dtype=np.intp)
    internal = np.flatnonzero(t.children_left >= 0)
    parent[t.children_left[internal]] = internal
    parent[t.children_right[internal]] = internal
    has_parent = parent >= 0
    credit = np.zeros(t.node_count, dtype=np.float64)
    feature = np.zeros(t.node_count, dtype=np.intp)
    credit[has_parent] = value[parent[has_parent]] - value[has_parent]
    feature[has_parent] = t.feature[parent[has_parent]]
    # ancestors[node, k]: the node's ancestor at depth k (itself at its own depth)
    depth = t.compute_node_depths().astype(np.intp) - 1
    ancestors = np.full((t.node_count, int(depth.max()) + 1), -1, dtype=np.intp)
    ancestors[0, 0] = 0
    for level in range(1, ancestors.shape[1]):  # a level copies its parents' rows
        nodes = np.flatnonzero(depth == level)
        ancestors[nodes] = ancestors[parent[nodes]]
        ancestors[nodes, level] = nodes
    on_path = ancestors >= 0
    path_feature = np.where(on_path, feature[ancestors], t.n_features)
    path_credit = np.where(on_path, credit[ancestors], 0.0)
    return np.ascontiguousarray(path_feature.T), np.ascontiguousarray(path_credit.T)


def contributions(
    model: AnomalyModel, values: np.ndarray, chunk_rows: int = CHUNK_ROWS
) -> np.ndarray:
    """Forest attribution for raw feature values (model column order); see the module
    docstring. Returns an array of shape ``values.shape``.

    With family (subspace) forests, each forest's per-feature credits are weighted by
    that forest's weight in the blended raw score, so contributions from the full
    forest and from the family forests are on one scale; a family floored for a row
    (:meth:`AnomalyModel.active_families`) adds nothing to its score and gets no credit.
    """
    n, n_features = values.shape
    out = np.zeros((n, n_features), dtype=np.float64)
    if n == 0:
        return out
    X = model.preprocess_values(values)
    forests = model.forest_weights()
    # one forest per worker thread (tree traversal releases the GIL); summed in a fixed
    # order, so the result does not depend on thread timing
    with ThreadPoolExecutor(max_workers=DEFAULT.workers) as pool:
        credits = list(
            pool.map(lambda fw: _forest_credits(fw[0], X[:, fw[1]], chunk_rows), forests)
        )
    active = model.active_families(X)  # None when no family forest is floored
    for i, ((_, cols, weight), credit) in enumerate(zip(forests, credits, strict=True)):
        if active is not None and i > 0:  # forests[0] is the full forest, never floored
            credit = credit * active[i - 1][:, None]
        out[:, cols] += weight * credit
    return out


def _forest_credits(forest, X: np.ndarray, chunk_rows: int) -> np.ndarray:
    """Mean per-feature path-length credit over one forest's trees (columns of ``X``).

    Each tree's leaf comes from ``apply``, and the credits along its path are added
    step by step from the root, one step of every row at a time (a row appears once
    per step, so the adds are plain gathers and scatters): each entry receives the same
    additions in the same order as walking ``decision_path`` tree after tree, hence
    the same bits.
    """
    n, n_features = X.shape
    out = np.zeros((n, n_features), dtype=np.float64)
    if any(len(f) != n_features for f in forest.estimators_features_):  # pragma: no cover
        raise NotImplementedError("attribution assumes every tree sees every feature")
    trees = [(est.tree_, *_tree_paths(est)) for est in forest.estimators_]
    X = np.ascontiguousarray(X, dtype=np.float32)
    width = n_features + 1  # the spare column takes the padding steps
    for start in range(0, n, chunk_rows):
        block = X[start : start + chunk_rows]
        m = block.shape[0]
        acc = np.zeros(m * width, dtype=np.float64)
        row_base = np.arange(m, dtype=np.intp) * width
        for structure, path_feature, path_credit in trees:
            leaf = structure.apply(block)
            for step_feature, step_credit in zip(path_feature, path_credit, strict=True):
                at = step_feature.take(leaf)
                at += row_base
                acc[at] += step_credit.take(leaf)
        out[start : start + m] = acc.reshape(m, width)[:, :n_features]
    return out / len(trees)


def forest_contributions(
    model: AnomalyModel, features: pd.DataFrame, *, chunk_rows: int = CHUNK_ROWS
) -> pd.DataFrame:
    """Per-account, per-feature forest attribution (tree levels saved).

    Parameters
    ----------
    model : a fitted AnomalyModel.
    features : feature table with the model's features.
    chunk_rows : accounts per chunk (memory/speed trade-off only).

    Returns
    -------
    DataFrame (index ``account_id``, one column per feature). Each row sums to
    ``c(max_samples) - E[h(x)]``: positive when the account is isolated faster than a
    typical account, and each feature's share of that is its contribution.
    """
    ids, values = model.feature_values(features)
    contrib = contributions(model, values, chunk_rows)
    return pd.DataFrame(
        contrib,
        index=pd.Index(ids, name=schema.ACCOUNT_ID),
        columns=[str(n) for n in model.feature_names_in_],
    )
