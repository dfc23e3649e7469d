"""Drift: how far tonight's population moved from the model's training population (PSI).

At training, each feature's training population is cut into ``Config.psi_bins``
quantile bins plus a bin for missing values, and the shares are saved next to the
bundle (``<version>.psi.json``, see :func:`write_psi_reference`). Each night, for every
feature, ``PSI = sum((p - q) * ln(p / q))`` over those bins; the job retrains when the
largest exceeds ``--psi-threshold``. Rule of thumb: below 0.1 stable, 0.1-0.25
moderate, above 0.25 a shifted population.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from detector.config import DEFAULT
from detector.safe import atomic_write_text

__all__ = [
    "drift_figures",
    "population_stability",
    "psi_path",
    "psi_reference",
    "write_psi_reference",
]

PSI_SUFFIX: Final = ".psi.json"
PSI_EPSILON: Final = 1e-4
"""Share given to an empty bin so the PSI's log ratio stays finite."""
PSI_TOP: Final = 5
"""Features named in the drift figures (the largest PSIs)."""


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` per bin: ``len(edges) + 1`` value bins, then one for NaN."""
    finite = np.isfinite(values)
    idx = np.searchsorted(edges, values[finite], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, float((~finite).sum()))
    return counts / max(1, len(values))


def psi_reference(features: pd.DataFrame, bins: int = DEFAULT.psi_bins) -> dict[str, Any]:
    """Per-feature quantile bin edges and shares of a (training) population.

    The cuts are the interior ``bins``-quantiles (observed values, de-duplicated, so a
    mostly-zero feature gets fewer bins); each edge sits halfway between its cut and
    the next observed value above it. Many features have point masses (a neutral
    value, a share of exactly 1); an edge *at* such a value would swing the whole mass
    between two bins on a rounding-level change and report drift that is not there.
    Missing values get their own bin. One vectorised pass per feature, never per
    account.
    """
    quantiles = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    out: dict[str, Any] = {}
    for name in features.columns:  # one iteration per feature
        values = features[name].to_numpy(dtype=float)
        distinct = np.unique(values[np.isfinite(values)])
        edges = np.array([], dtype=float)
        if distinct.size > 1:
            cuts = np.unique(np.quantile(values[np.isfinite(values)], quantiles, method="lower"))
            above = np.searchsorted(distinct, cuts, side="right")
            inner = above < distinct.size
            edges = (cuts[inner] + distinct[above[inner]]) / 2.0
        out[str(name)] = {
            "edges": edges.tolist(),
            "shares": _bin_shares(values, edges).tolist(),
        }
    return {"bins": bins, "epsilon": PSI_EPSILON, "accounts": len(features), "features": out}


def population_stability(reference: dict[str, Any], features: pd.DataFrame) -> pd.Series:
    """PSI of each feature of ``features`` against ``reference``, largest first.

    ``PSI = sum((p - q) * ln(p / q))`` over the reference's bins, with ``p`` the
    current and ``q`` the reference shares, both floored at ``epsilon``. Rule of
    thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 a shifted population. Features
    absent from either side are skipped.
    """
    eps = float(reference.get("epsilon", PSI_EPSILON))
    values: dict[str, float] = {}
    for name, ref in reference.get("features", {}).items():
        if name not in features.columns:
            continue
        edges = np.asarray(ref["edges"], dtype=float)
        q = np.maximum(np.asarray(ref["shares"], dtype=float), eps)
        p = np.maximum(_bin_shares(features[name].to_numpy(dtype=float), edges), eps)
        values[name] = float(np.sum((p - q) * np.log(p / q)))
    return pd.Series(values, dtype=float).sort_values(ascending=False, kind="stable")


def psi_path(bundle: Path) -> Path:
    """The drift reference saved next to a bundle: ``<version>.psi.json``."""
    return bundle.with_name(bundle.name.removesuffix(".bundle") + PSI_SUFFIX)


def _read_psi(bundle: Path) -> dict[str, Any] | None:
    try:
        return json.loads(psi_path(bundle).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def drift_figures(model_path: Path, version: str, features: pd.DataFrame) -> dict[str, Any]:
    """Drift figures of ``features`` against the model's training population."""
    reference = _read_psi(model_path)
    if reference is None:
        return {"model_version": version, "max_psi": None, "top": [], "note": "no reference"}
    psi = population_stability(reference, features)
    top = [{"feature": str(k), "psi": round(float(v), 4)} for k, v in psi.head(PSI_TOP).items()]
    return {
        "model_version": version,
        "max_psi": round(float(psi.iloc[0]), 4) if len(psi) else 0.0,
        "top": top,
        "features": len(psi),
    }


def write_psi_reference(bundle: Path, features: pd.DataFrame, version: str, bins: int) -> Path:
    """Save the training population's bins next to ``bundle``; return the file."""
    reference = psi_reference(features, bins=bins)
    reference["version"] = version
    return atomic_write_text(psi_path(bundle), json.dumps(reference, sort_keys=True) + "\n")
