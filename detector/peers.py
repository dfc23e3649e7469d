"""Peer groups: compare an account with the accounts it resembles in size.

On a real provider's population most accounts are small, so every heavy legitimate
product is *unusual* next to the whole population: active in most hours, thousands of
output tokens a day, templated traffic. Being big is not a reason. The model therefore
scales every feature against the account's **peers** -- accounts of a similar request
rate -- and explanations cite percentiles among those peers ("99th percentile among
accounts of 120–900 requests/day").

**Tiers** are cut at population quantiles of ``requests_per_day`` (by default the 50th,
80th and 95th), not at fixed rates: the edges adapt to the population (a simulator's
scaled-down products and a real gateway's both split the same way) and each tier holds
a known share of the population, so its statistics are stable.

**Shrinkage.** A tier's centre and spread are pulled towards the population's by the
weight ``n / (n + prior)`` (a tier of 3 accounts is mostly described by the whole
population, a tier of 200 by itself), and a tier's spread is floored at a share of the
population's: pulling a tight tier's centre towards the population while keeping its
tiny spread would make its ordinary members look extreme. Without the peer feature (a log without
timestamps), or with ``quantiles=()``, there is one tier: the population.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PEER_FEATURE", "PeerTiers", "fit_peer_tiers"]

PEER_FEATURE = "requests_per_day"
"""The feature whose value places an account in a peer tier."""


@dataclass(frozen=True)
class PeerTiers:
    """Fitted tier edges on :data:`PEER_FEATURE` (raw units, ascending).

    ``edges`` of length ``T - 1`` split the population into ``T`` tiers; tier ``t``
    holds values in ``[edges[t-1], edges[t])``.
    """

    column: int | None
    """Index of the peer feature in the model's columns (``None``: a single tier)."""
    edges: tuple[float, ...]
    centers: tuple[float, ...] = ()
    """Median ``log1p(requests_per_day)`` of each tier, ascending (for interpolation)."""

    @property
    def n_tiers(self) -> int:
        """Number of tiers (1 when there is no peer feature)."""
        return len(self.edges) + 1

    def assign(self, values: np.ndarray) -> np.ndarray:
        """Tier of each row of a raw feature matrix (int array, 0 = smallest accounts)."""
        if self.column is None or not self.edges:
            return np.zeros(len(values), dtype=np.intp)
        return np.searchsorted(np.asarray(self.edges), values[:, self.column], side="right")

    def label(self, tier: int) -> str:
        """Who the peers of ``tier`` are, for reasons: ``"accounts of 12–85 requests/day"``."""
        if self.column is None or not self.edges:
            return "all accounts"
        lo = self.edges[tier - 1] if tier > 0 else None
        hi = self.edges[tier] if tier < len(self.edges) else None
        if lo is None:
            return f"accounts under {_rate(hi)} requests/day"  # type: ignore[arg-type]
        if hi is None:
            return f"accounts of {_rate(lo)}+ requests/day"
        return f"accounts of {_rate(lo)}–{_rate(hi)} requests/day"

    def shrunk(
        self,
        values: np.ndarray,
        tiers: np.ndarray,
        statistic: Callable[[np.ndarray], np.ndarray],
        prior: float,
    ) -> np.ndarray:
        """``statistic`` per tier, shrunk towards the population's, shape (T, ...).

        ``statistic`` maps a (rows, features) matrix to an array of per-feature values
        (any trailing shape); a tier's result is ``w * tier + (1 - w) * population``
        with ``w = n / (n + prior)``.
        """
        overall = statistic(values)
        out = np.repeat(overall[np.newaxis], self.n_tiers, axis=0)
        for t in range(self.n_tiers):
            rows = tiers == t
            n = int(rows.sum())
            if n >= 2:
                w = n / (n + prior)
                out[t] = w * statistic(values[rows]) + (1.0 - w) * overall
        return out

    def interpolate(
        self, values: np.ndarray, table: np.ndarray, *, extrapolate: bool = True
    ) -> np.ndarray:
        """Per-row statistics interpolated between tiers along log request rate.

        ``table`` has one row per tier (T, F). A row's statistics are the linear
        interpolation, in ``log1p(requests_per_day)``, between the two tiers whose
        centres bracket it, extrapolated along the outermost two tiers' trend beyond
        them: behaviour drifts with size (bigger products cover more hours), so the
        biggest account is compared with where its peers' trend points, not with the
        median of a tier it tops (being the biggest is not by itself a reason). With
        ``extrapolate=False`` (spreads, which must stay positive) rows beyond the
        outermost centres take the outermost tier's values.
        """
        if self.column is None or len(self.centers) < 2:
            return np.repeat(table[:1], len(values), axis=0)
        c = np.asarray(self.centers)
        x = np.log1p(np.maximum(values[:, self.column], 0.0))
        i = np.clip(np.searchsorted(c, x) - 1, 0, len(c) - 2)
        w = ((x - c[i]) / np.maximum(c[i + 1] - c[i], 1e-12))[:, np.newaxis]
        if not extrapolate:
            w = np.clip(w, 0.0, 1.0)
        # (1 - w) * table[i] + w * table[i + 1], in the gathered rows' own memory
        out = table[i]
        out *= 1.0 - w
        upper = table[i + 1]
        upper *= w
        out += upper
        return out


def fit_peer_tiers(
    values: np.ndarray, names: Sequence[str], quantiles: Sequence[float]
) -> PeerTiers:
    """Tier edges at population ``quantiles`` of the peer feature (distinct, positive)."""
    if PEER_FEATURE not in names or not len(quantiles) or len(values) == 0:
        return PeerTiers(column=None, edges=())
    column = list(names).index(PEER_FEATURE)
    cuts = np.quantile(values[:, column], np.asarray(quantiles, dtype=float))
    edges = tuple(float(e) for e in np.unique(_nice(cuts)) if e > 0)
    tiers = PeerTiers(column=column, edges=edges)
    assigned = tiers.assign(values)
    logs = np.log1p(np.maximum(values[:, column], 0.0))
    centers = [float(np.median(logs[assigned == t])) for t in np.unique(assigned)]
    if len(centers) != tiers.n_tiers or np.any(np.diff(centers) <= 0):
        return PeerTiers(column=column, edges=edges)  # an empty tier: no interpolation
    return PeerTiers(column=column, edges=edges, centers=tuple(centers))


def _nice(x: np.ndarray) -> np.ndarray:
    """Round edges to two significant digits, so labels read as round numbers."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(x > 0, np.floor(np.log10(np.abs(np.where(x > 0, x, 1.0)))), 0.0)
    scale = 10.0 ** (1 - mag)
    return np.round(x * scale) / scale


def _rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"
