"""The anomaly model's per-feature preprocessing, read from the feature catalogue.

Every column's :class:`~detector.features.registry.FeatureSpec` says how to scale it
(``scale``) and which side of it is suspicious (``direction``):

* ``log``: ``log1p(max(x, 0))``, then robust scaling;
* ``share``: clipped to [0, 1], then robust scaling;
* ``linear``: robust scaling.

Robust scaling is ``(v - median) / IQR`` with the IQR floored (a constant or
mostly-constant feature falls back to the 1–99 % range, then the full range, then
a tiny constant) so it never divides by zero. The forest itself is unchanged by a
per-feature affine map (split points are drawn uniformly within each node's range);
scaling keeps values O(1), which matters because the forest works in float32.
The ``log`` transform *does* change the forest: heavy-tailed counts are isolated on
orders of magnitude rather than raw differences.

Every feature of a peer family is scaled against the account's peer tier (accounts of
a similar request rate, :mod:`detector.peers`), so a heavy product is compared with
heavy products and being big is not by itself a reason.

Then **one-sided clipping by direction**: ``high`` features are clipped from below
at the training median (scaled value 0), ``low`` features from above, ``both`` are
untouched. The median is the densest region, so values moved there are never
isolated early: a benign account that is extreme in a harmless direction (a very
*diverse* chat product, a very *slow* human) lands in the dense middle of that feature
and is not isolated by it. Only the suspicious side can make an account an outlier.

This module holds the arithmetic; :class:`~detector.model.AnomalyModel` holds the
fitted state (``center_``, ``spread_``, ``quantiles_``, ...) and calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np

from detector.config import DEFAULT
from detector.features.registry import FeatureSpec
from detector.peers import PeerTiers

__all__ = [
    "MIN_SHARE_SPREAD",
    "MIN_SPREAD",
    "N_QUANTILES",
    "by_row_chunks",
    "clip_one_sided",
    "fit_scaling",
    "preprocess_matrix",
    "resolve_specs",
    "robust_center_spread",
    "scale_transform",
    "spec_masks",
]

N_QUANTILES: Final = 1001
"""Training quantiles stored per feature (0.0, 0.1, …, 100.0 %) for percentiles."""
CHUNK_ROWS: Final = 4096
"""Rows preprocessed together by :func:`by_row_chunks`: a chunk's float64 temporaries
(about 2 MB each with 60 features) stay in a core's cache through the dozen passes of
scaling, centring and clipping; with 65,536-row chunks they spilled to memory and
preprocessing a million rows took twice the CPU."""
MIN_SPREAD: Final = 1e-6
"""Smallest spread of a feature (relative to its centre when that is larger than 1)."""
MIN_SHARE_SPREAD: Final = 0.01
"""Smallest spread of a ``share`` feature."""


def resolve_specs(
    specs: Mapping[str, FeatureSpec] | None, names: list[str]
) -> dict[str, FeatureSpec]:
    """The spec of every feature in ``names``, checked (the catalogue when ``None``).

    Raises ``ValueError`` naming the features without a spec, or with an unknown
    ``scale`` or ``direction``.
    """
    if specs is None:
        # importing the package registers every feature family into the catalogue
        from detector.features import SPECS

        specs = SPECS
    missing = [n for n in names if n not in specs]
    if missing:
        raise ValueError(
            f"no FeatureSpec for {len(missing)} feature(s): {', '.join(missing)}; "
            "register them in the feature catalogue or pass specs="
        )
    resolved = {n: specs[n] for n in names}
    for name, spec in resolved.items():
        if spec.scale not in ("log", "share", "linear"):
            raise ValueError(f"feature {name!r}: unknown scale {spec.scale!r}")
        if spec.direction not in ("high", "low", "both"):
            raise ValueError(f"feature {name!r}: unknown direction {spec.direction!r}")
    return resolved


def robust_center_spread(values: np.ndarray, floor: float) -> tuple[float, float]:
    """Median and a robust spread (IQR, falling back to wider ranges when it is 0)."""
    q = np.quantile(values, [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0])
    center = float(q[3])
    for spread in (q[4] - q[2], q[5] - q[1], q[6] - q[0]):
        if spread > floor:
            return center, float(spread)
    return center, max(floor, MIN_SPREAD * max(1.0, abs(center)))


def scale_transform(values: np.ndarray, log_mask: np.ndarray, share_mask: np.ndarray) -> np.ndarray:
    """The nonlinear part of preprocessing: log1p for ``log``, clip for ``share``.

    The copy is row-major whatever ``values`` is: a row chunk of a column-major table
    is strided in every column, and the dozen passes of centring, scaling and clipping
    that follow (against the peers' row-major centres and spreads) ran about 2.5 times
    slower on it; the float32 matrix the forests walk is row-major too.
    """
    out = np.array(values, dtype=np.float64, order="C", copy=True)
    if log_mask.any():
        out[:, log_mask] = np.log1p(np.maximum(out[:, log_mask], 0.0))
    if share_mask.any():
        out[:, share_mask] = np.clip(out[:, share_mask], 0.0, 1.0)
    return out


def clip_one_sided(z: np.ndarray, high_mask: np.ndarray, low_mask: np.ndarray) -> np.ndarray:
    """Clip scaled values at the median (0) on each feature's harmless side, in place.

    Returns the matrix the forest sees (float32, C-contiguous).
    """
    # one pass per side over the whole matrix, bounded at 0 where clipped and at the
    # infinity that changes nothing elsewhere (NaN stays NaN either way)
    if high_mask.any():
        np.maximum(z, np.where(high_mask, 0.0, -np.inf), out=z)
    if low_mask.any():
        np.minimum(z, np.where(low_mask, 0.0, np.inf), out=z)
    return np.ascontiguousarray(z, dtype=np.float32)


def fit_scaling(
    values: np.ndarray,
    transformed: np.ndarray,
    names: list[str],
    specs: Mapping[str, FeatureSpec],
    peers: PeerTiers,
    *,
    peer_prior: float,
    peer_families: Sequence[str],
    peer_spread_floor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit the robust scaling and the stored quantiles, per peer tier.

    Parameters
    ----------
    values : raw feature values of the training population (model column order).
    transformed : ``values`` after :func:`scale_transform`.
    names, specs : the features and their specs.
    peers : the fitted peer tiers.
    peer_prior, peer_families, peer_spread_floor : as on
        :class:`~detector.model.AnomalyModel`.

    Returns
    -------
    ``peer_relative, center, spread, quantiles, peer_quantiles``: which features are
    compared with peers; centre and spread per tier, shape (n_tiers, n_features); the
    raw values' quantiles (N_QUANTILES, n_features) and the same per tier.
    """
    floors = np.array(
        [MIN_SHARE_SPREAD if specs[n].scale == "share" else MIN_SPREAD for n in names]
    )

    def center_spread(m: np.ndarray) -> np.ndarray:
        return np.array([robust_center_spread(m[:, j], floors[j]) for j in range(m.shape[1])]).T

    def quantiles(m: np.ndarray) -> np.ndarray:
        return np.quantile(m, np.linspace(0.0, 1.0, N_QUANTILES), axis=0)

    tiers = peers.assign(values)
    stats = peers.shrunk(transformed, tiers, center_spread, peer_prior)
    overall = center_spread(transformed)
    peer_relative = np.array([specs[n].family in set(peer_families) for n in names])
    stats[:, :, ~peer_relative] = overall[:, ~peer_relative]
    center = stats[:, 0, :]
    spread = np.maximum(stats[:, 1, :], np.maximum(floors, peer_spread_floor * overall[1]))
    overall_quantiles = quantiles(values)
    peer_quantiles = peers.shrunk(values, tiers, quantiles, peer_prior)
    peer_quantiles[:, :, ~peer_relative] = overall_quantiles[:, ~peer_relative]
    return peer_relative, center, spread, overall_quantiles, peer_quantiles


def spec_masks(
    names: list[str], specs: Mapping[str, FeatureSpec]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks over ``names``: ``log`` scale, ``share`` scale, ``high`` and ``low``
    direction (the arguments of :func:`scale_transform` and :func:`clip_one_sided`)."""
    scales = [specs[n].scale for n in names]
    directions = [specs[n].direction for n in names]
    return (
        np.array([s == "log" for s in scales]),
        np.array([s == "share" for s in scales]),
        np.array([d == "high" for d in directions]),
        np.array([d == "low" for d in directions]),
    )


def preprocess_matrix(
    values: np.ndarray,
    peers: PeerTiers,
    center: np.ndarray,
    spread: np.ndarray,
    masks: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """The fitted preprocessing of a raw feature matrix: :func:`scale_transform`, centred
    and scaled by each row's peer statistics, then :func:`clip_one_sided`; the float32
    matrix the forests see.

    ``center`` and ``spread`` are :func:`fit_scaling`'s tables (one row per peer tier,
    interpolated between tiers for each row by ``peers``), ``masks`` :func:`spec_masks`'.
    Row by row arithmetic, so it runs in row chunks on threads (same values).
    """
    log_mask, share_mask, high_mask, low_mask = masks

    def rows(chunk: np.ndarray) -> np.ndarray:
        chunk_center = peers.interpolate(chunk, center)
        chunk_spread = peers.interpolate(chunk, spread, extrapolate=False)
        z = scale_transform(chunk, log_mask, share_mask)
        z -= chunk_center
        z /= chunk_spread
        return clip_one_sided(z, high_mask, low_mask)

    return by_row_chunks(rows, values)


def by_row_chunks(
    transform: Callable[[np.ndarray], np.ndarray],
    values: np.ndarray,
    *,
    chunk_rows: int = CHUNK_ROWS,
    workers: int = DEFAULT.workers,
) -> np.ndarray:
    """``transform(values)`` for a row-wise ``transform``, in row chunks on threads.

    Each chunk's result is what the whole call gives for those rows, so the result is
    the same; the chunks' temporaries stay small and numpy releases the GIL in the
    arithmetic, so two cores share the work.
    """
    n = len(values)
    if n <= chunk_rows:
        return transform(values)
    first = transform(values[:chunk_rows])
    out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
    out[:chunk_rows] = first

    def run(start: int) -> None:
        out[start : start + chunk_rows] = transform(values[start : start + chunk_rows])

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(run, range(chunk_rows, n, chunk_rows)))
    return out
