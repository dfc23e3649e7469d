"""The anomaly score's 0–100 scale.

Raw scores are mapped to 0–100 with anchors fitted on the training population
(:func:`calibrate`), so a score means the same thing on every run of the same model.

The blend's per-forest normalisation (:func:`detector.forest_blend.norm_anchors`) uses
the same training quantile (:data:`UPPER_QUANTILE`) and denominator floor (:data:`EPS`).
:class:`~detector.model.AnomalyModel` holds the fitted anchors (``calibration_``) and
calls this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import numpy as np

__all__ = [
    "EPS",
    "SCORE_AT_MEDIAN",
    "SCORE_AT_UPPER",
    "UPPER_QUANTILE",
    "calibrate",
    "calibration_anchors",
]

SCORE_AT_MEDIAN: Final = 15.0
"""Score given to the training population's median raw score."""
SCORE_AT_UPPER: Final = 75.0
"""Score given to the training population's :data:`UPPER_QUANTILE` raw score."""
UPPER_QUANTILE: Final = 0.99
EPS: Final = 1e-12
"""Smallest denominator of a normalisation."""


def calibration_anchors(raw: np.ndarray) -> dict[str, float]:
    """The anchors of :func:`calibrate`, from the training population's raw scores."""
    return {
        "raw_min": float(raw.min()),
        "raw_median": float(np.median(raw)),
        "raw_upper": float(np.quantile(raw, UPPER_QUANTILE)),
        "upper_quantile": UPPER_QUANTILE,
        "score_at_median": SCORE_AT_MEDIAN,
        "score_at_upper": SCORE_AT_UPPER,
    }


def calibrate(raw: np.ndarray, cal: Mapping[str, float]) -> np.ndarray:
    """Map raw scores to 0–100 with anchors fitted on the training population.

    With ``m`` the training median raw score, ``u`` its 99th percentile and ``lo``
    its minimum::

        raw >  m:  score = 100 - (100 - 15) * exp(-k * (raw - m) / (u - m)),
                   k = ln((100 - 15) / (100 - 75))
        raw <= m:  score = 15 * (raw - lo) / (m - lo), floored at 0

    so the median account scores 15, the 99th percentile 75, scores saturate
    towards 100 for the most isolated accounts, and the least anomalous training
    account scores 0. The map is continuous and increasing in the raw score (flat
    only at the 0 floor), and fixed at fit time, so scores are comparable across
    runs of the same model.

    Parameters
    ----------
    raw : raw scores.
    cal : the anchors (:func:`calibration_anchors`).

    Returns
    -------
    float array in [0, 100].
    """
    raw = np.asarray(raw, dtype=float)
    m, u, lo = cal["raw_median"], cal["raw_upper"], cal["raw_min"]
    s_med, s_up = cal["score_at_median"], cal["score_at_upper"]
    k = math.log((100.0 - s_med) / (100.0 - s_up))
    z = (raw - m) / max(u - m, EPS)
    upper = 100.0 - (100.0 - s_med) * np.exp(-k * np.maximum(z, 0.0))
    lower = s_med * (raw - lo) / max(m - lo, EPS)
    return np.clip(np.where(raw > m, upper, lower), 0.0, 100.0)
