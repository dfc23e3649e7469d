"""How unusual an account's *behaviour* is: the family forests of what it does, alone.

The blend (:mod:`detector.forest_blend`) scores everything the model knows about an
account: what it does (volume, timing, content, diversity, conversation shape, model
adoption and tier) and what it is linked to or comes from (its coordination cluster,
its account record, its networks and clients). A cluster of accounts must be scored on
what it does as one actor, not on being a cluster (issue 16): a classroom of 36 free
accounts created together on one school network looks, by its links alone, just like
a hydra. What separates them is behaviour, and the **behaviour score** measures it: the
weighted mean of the normalised, floored scores of the behaviour families only (the
same normalisation, floor and family weights as the blend), so 0 is a typical account
in every such family and 1 is an account at the training population's 99th percentile
in each of them.

Measured on five populations (four realistic, from real prompts and not, two of them
in a week without a release; one default), the median member's behaviour score of every
extraction campaign was 0.46-1.06 and of every benign cluster (classroom cohorts,
research organisations, a document pipeline's accounts, linked hobbyists) 0.03-0.32,
with the median account at 0.16-0.18. The
training median is kept with the model (``blend_["behaviour_median"]``, see
:func:`behaviour_median`) so the cut a score is compared with
(:data:`detector.config.Config.cluster_behaviour_multiple` × that median) is fixed at
training, like the alert threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
from sklearn.ensemble import IsolationForest

from detector import forest_blend
from detector.forest_scoring import forest_raws

__all__ = [
    "LINK_FAMILIES",
    "MEDIAN_KEY",
    "behaviour_from_raws",
    "behaviour_median",
    "behaviour_scores",
    "keep_median",
]

LINK_FAMILIES: Final = frozenset({"coordination", "account", "infra"})
"""Families that say what an account is linked to or comes from, not what it does:
left out of the behaviour score (a cluster's own features would otherwise vouch for it)."""

MEDIAN_KEY: Final = "behaviour_median"
"""Key of the training median in the blend's anchors (absent in older bundles)."""


def _behaviour_index(family_names: Sequence[str], anchors: Mapping[str, Any]) -> list[int]:
    """Positions of the behaviour families that carry weight in the blend."""
    shares = anchors.get("family_shares")
    return [
        i
        for i, name in enumerate(family_names)
        if name not in LINK_FAMILIES and (shares is None or shares[i] > 0)
    ]


def behaviour_from_raws(
    family_raws: Sequence[np.ndarray],
    family_names: Sequence[str],
    anchors: Mapping[str, Any],
) -> np.ndarray:
    """The behaviour score from every family forest's raw score (in the blend's order).

    Families with no weight in the blend (constant in training) are left out; with no
    behaviour family at all, every score is 0.
    """
    idx = _behaviour_index(family_names, anchors)
    n = len(family_raws[0]) if len(family_raws) else 0
    if not idx:
        return np.zeros(n)
    shares = anchors.get("family_shares")
    weights = np.array([1.0 if shares is None else float(shares[i]) for i in idx])
    scores = forest_blend.family_scores(family_raws, anchors)
    return np.sum([w * scores[i] for w, i in zip(weights, idx, strict=True)], axis=0) / (
        weights.sum()
    )


def behaviour_scores(
    matrix: np.ndarray,
    family_forests: Sequence[tuple[str, np.ndarray, IsolationForest]],
    anchors: Mapping[str, Any],
) -> np.ndarray:
    """The behaviour score of each row of a preprocessed matrix (only the behaviour
    families' forests are walked)."""
    names = [name for name, _, _ in family_forests]
    idx = _behaviour_index(names, anchors)
    raws: list[np.ndarray] = [np.zeros(len(matrix))] * len(names)  # unwalked: weight 0
    walked = forest_raws(matrix, [(family_forests[i][2], family_forests[i][1]) for i in idx])
    for i, r in zip(idx, walked, strict=True):
        raws[i] = r
    return behaviour_from_raws(raws, names, anchors)


def keep_median(
    anchors: dict[str, Any],
    family_forests: Sequence[tuple[str, np.ndarray, IsolationForest]],
    family_raws: Sequence[np.ndarray],
) -> None:
    """Record the training rows' median behaviour score in the blend's ``anchors``, from
    the family forests' raw scores the fit already computed (nothing without families)."""
    if family_forests:
        names = [name for name, _, _ in family_forests]
        anchors[MEDIAN_KEY] = float(np.median(behaviour_from_raws(family_raws, names, anchors)))


def behaviour_median(anchors: Mapping[str, Any]) -> float | None:
    """The training population's median behaviour score, or None for a bundle fitted
    before it was kept (such a model scores clusters as before)."""
    value = anchors.get(MEDIAN_KEY)
    return None if value is None else float(value)
