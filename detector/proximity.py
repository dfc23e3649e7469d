"""Distances in the model's preprocessed space, and the classifier's view of it.

The learned layer (:mod:`detector.learned`) needs three things of the space the
isolation forest scores in: each account's nearest confirmed case (the case a lift
cites, and the distance the lift fades over), how crowded the population is around a
confirmed case (:func:`neighbourhood_radius`), and a coarse grid of the space for its
boosted trees (:func:`grid`). All of them work in blocks of rows: memory stays bounded
at any population size, and the work is one matrix product per block.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

__all__ = [
    "CASE_CHUNK",
    "GRID_LIMIT",
    "GRID_STEPS",
    "grid",
    "likeness",
    "nearest",
    "nearest_names",
    "neighbourhood_radius",
]

GRID_STEPS: Final = 12
"""Grid points per unit of ``log1p(|z|)`` in the classifier's input (see :func:`grid`)."""
GRID_LIMIT: Final = 8.0
"""``log1p(|z|)`` is capped here (z ≈ 3,000 spreads): at most 193 values per feature."""
CASE_CHUNK: Final = 4096
"""Rows per block when measuring distances to the confirmed cases (bounds memory)."""


def grid(matrix: np.ndarray) -> np.ndarray:
    """The classifier's input: the preprocessed matrix on a signed-log grid.

    ``round(GRID_STEPS · sign(z) · min(log1p(|z|), GRID_LIMIT)) / GRID_STEPS``: monotone,
    so a tree can split it exactly where it could split ``z`` (to within 9 % of the
    value), and with at most 193 distinct values per feature HistGradientBoosting bins
    it by its distinct values instead of weighted percentiles (scikit-learn 1.9 spends
    most of a weighted fit there: ~15 s on 1,400 accounts).
    """
    z = np.asarray(matrix, dtype=np.float32)
    level = np.minimum(np.log1p(np.abs(z)), GRID_LIMIT)
    return (np.round(GRID_STEPS * np.sign(z) * level) / GRID_STEPS).astype(np.float32)


def nearest(
    matrix: np.ndarray, ids: np.ndarray, refs: np.ndarray, ref_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest reference account other than itself: its position in ``refs``
    and the Euclidean distance to it (``-1`` and ``inf`` if none), in blocks of
    :data:`CASE_CHUNK` rows (bounded memory, one matrix product per block). The
    references' ids must be distinct."""
    at = np.full(len(ids), -1, dtype=np.int64)
    dist = np.full(len(ids), np.inf)
    if len(ref_ids) == 0:
        return at, dist
    refs = np.asarray(refs, dtype=np.float64)
    norms = (refs**2).sum(axis=1)
    # each row's own position among the references (-1 if it is none): found by hashing
    # once, not by comparing every row's id with every reference's in Python objects
    names = pd.Index(np.asarray(ref_ids, dtype=object))
    if not names.is_unique:
        raise ValueError("reference accounts must be distinct")
    itself = names.get_indexer(np.asarray(ids, dtype=object))
    for start in range(0, len(ids), CASE_CHUNK):
        rows = np.asarray(matrix[start : start + CASE_CHUNK], dtype=np.float64)
        d2 = (rows**2).sum(axis=1)[:, None] + norms[None, :] - 2.0 * rows @ refs.T
        own = itself[start : start + CASE_CHUNK]
        mine = np.flatnonzero(own >= 0)
        d2[mine, own[mine]] = np.inf
        best = np.argmin(d2, axis=1)
        near = d2[np.arange(len(rows)), best]
        ok = np.isfinite(near)
        block = slice(start, start + len(rows))
        at[block] = np.where(ok, best, -1)
        dist[block] = np.sqrt(np.maximum(near, 0.0))
    return at, dist


def nearest_names(
    matrix: np.ndarray, ids: np.ndarray, refs: np.ndarray, ref_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`nearest`, with the reference's id instead of its position (``""`` if none)."""
    at, dist = nearest(matrix, ids, refs, ref_ids)
    if len(ref_ids) == 0:
        return np.full(len(ids), "", dtype=object), dist
    names = np.where(at >= 0, np.asarray(ref_ids).astype(object)[np.maximum(at, 0)], "")
    return names.astype(object), dist


def likeness(
    matrix: np.ndarray, ids: np.ndarray, refs: np.ndarray, ref_ids: np.ndarray, radius: np.ndarray
) -> np.ndarray:
    """``exp(-½ (d / r)²)`` per row: ``d`` the distance to its nearest reference other than
    itself, ``r`` that reference's ``radius`` (1 on it, 0.61 one radius away, 0.14 two;
    0 where there is no reference)."""
    at, dist = nearest(matrix, ids, refs, ref_ids)
    if len(ref_ids) == 0:
        return np.zeros(len(ids), dtype=np.float64)
    scale = np.maximum(np.asarray(radius, dtype=np.float64)[np.maximum(at, 0)], 1e-12)
    return np.where(at >= 0, np.exp(-0.5 * (dist / scale) ** 2), 0.0)


def neighbourhood_radius(
    refs: np.ndarray, matrix: np.ndarray, exclude: np.ndarray, m: int
) -> np.ndarray:
    """For each reference row, the distance to its ``m``-th nearest row of ``matrix``
    outside ``exclude`` (a boolean mask): how crowded the population is around it.

    One block of rows at a time, keeping the ``m`` smallest squared distances per
    reference (bounded memory at any population size). ``inf`` when fewer than ``m``
    rows are outside ``exclude``.
    """
    refs = np.asarray(refs, dtype=np.float64)
    norms = (refs**2).sum(axis=1)
    best = np.full((len(refs), m), np.inf)  # references × m: partitions along rows
    for start in range(0, len(matrix), CASE_CHUNK):
        rows = np.asarray(matrix[start : start + CASE_CHUNK], dtype=np.float64)
        rows = rows[~exclude[start : start + CASE_CHUNK]]
        d2 = norms[:, None] + (rows**2).sum(axis=1)[None, :] - 2.0 * refs @ rows.T
        both = np.hstack([best, d2])
        best = np.partition(both, m - 1, axis=1)[:, :m] if both.shape[1] > m else both
    return np.sqrt(np.maximum(np.sort(best, axis=1)[:, m - 1], 0.0))
