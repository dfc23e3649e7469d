"""The anomaly model's forests and their blend into one raw score.

**Subspace blend.** With ~60 features and trees about 8 levels deep, a forest over
all features rarely splits on the few that make an account odd (a safety prober is
extreme in 3 content features out of 60), so accounts extreme in *several* features
of one family are under-isolated. Beside the full forest, one forest per feature
family scores each family's subspace (feature bagging, Lazarevic & Kumar 2005), its
trees grown on more accounts than the full forest's
(:data:`detector.config.Config.family_max_samples`) so that they order the top
half-percent of a family instead of isolating all of it at their depth limit, but
on at most an eighth of the population (:func:`family_sample_size`). Each
forest's raw score is normalised by its training median and 99th percentile; the
raw score is ``w · full + (1 − w) · (weighted mean of the families)``, with ``w`` the
full forest's weight (:data:`detector.config.Config.full_forest_weight`, 0.25: the full
forest mostly isolates what is big) and each family's normalised score floored at
``family_floor`` (0, the training median: a family in which the account is typical says
nothing rather than cancelling another family's evidence). Families weigh 1 unless
``family_weights`` says otherwise (:data:`detector.config.Config.family_weights`: the
conversation family, direct evidence of harvesting, weighs 4, adoption and tier 3,
probing 2), and a family that is constant over the training population weighs 0.
Bundles keep the blend they were fitted with: those fitted before these settings existed
keep ``w = ½``, no floor and (older still) the plain mean of the families. Measured on
two simulated populations (one drawn from real public prompts), the blend raised PR-AUC
and made it far less sensitive to the forest's seed than the full forest alone. The tail-probability
score (:mod:`detector.tails`) takes ``tail_weight`` of the blend when it is fitted.

The blended raw score is mapped to 0–100 by :mod:`detector.calibration`.

This module holds the arithmetic; :class:`~detector.model.AnomalyModel` holds the
fitted forests and anchors (``forest_``, ``family_forests_``, ``blend_``) and calls it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
from sklearn.ensemble import IsolationForest

from detector.calibration import EPS, UPPER_QUANTILE
from detector.features.registry import FAMILIES, FeatureSpec
from detector.forest_scoring import forest_raws
from detector.tails import TailScorer

__all__ = [
    "LEGACY_FULL_WEIGHT",
    "active_families",
    "blend",
    "blend_settings",
    "check_blend_settings",
    "combine",
    "family_sample_size",
    "family_scores",
    "family_shares",
    "fit_family_forests",
    "fit_forests",
    "forest_weights",
    "norm_anchors",
    "normalise",
    "silence_constant_families",
]

LEGACY_FULL_WEIGHT: Final = 0.5
"""The full-space forest's weight in bundles fitted before ``full_forest_weight``."""


def blend_settings(anchors: Mapping[str, Any]) -> tuple[float, float | None]:
    """The full forest's weight and the family floor a bundle's blend was fitted with."""
    return float(anchors.get("full_weight", LEGACY_FULL_WEIGHT)), anchors.get("family_floor")


def check_blend_settings(full_weight: float, family_floor: float | None) -> None:
    """Refuse a full-forest weight outside [0, 1] or a non-finite family floor."""
    if not (math.isfinite(full_weight) and 0.0 <= full_weight <= 1.0):
        raise ValueError(f"full_forest_weight must be within [0, 1], not {full_weight}")
    if family_floor is not None and not math.isfinite(family_floor):
        raise ValueError(f"family_floor must be a finite number or None, not {family_floor}")


def norm_anchors(raw: np.ndarray) -> dict[str, float]:
    """Training median and spread (99th percentile − median) of one forest's raw score."""
    med = float(np.median(raw))
    return {"median": med, "scale": max(float(np.quantile(raw, UPPER_QUANTILE)) - med, EPS)}


def normalise(raw: np.ndarray, anchors: dict[str, float]) -> np.ndarray:
    """A raw score on the scale of :func:`norm_anchors` (0 at the median, 1 at the 99th)."""
    return (raw - anchors["median"]) / anchors["scale"]


def fit_family_forests(
    matrix: np.ndarray,
    names: list[str],
    specs: Mapping[str, FeatureSpec],
    *,
    n_estimators: int,
    max_samples: int | float | str,
    random_state: int | None,
) -> list[tuple[str, np.ndarray, IsolationForest]]:
    """One forest per feature family over that family's columns of ``matrix``.

    Returns ``(family, column indices, forest)`` in the order families first appear.
    """
    out = []
    families: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        families.setdefault(specs[name].family, []).append(j)
    for family, cols in families.items():
        forest = IsolationForest(
            n_estimators=n_estimators,
            max_samples=max_samples,
            random_state=random_state,
            n_jobs=1,
        ).fit(matrix[:, cols])
        out.append((family, np.asarray(cols), forest))
    return out


def family_shares(families: Sequence[str], weights: Mapping[str, float]) -> list[float]:
    """Each family forest's share of the families' part of the blend (they sum to 1).

    ``weights`` maps a family to its relative weight; a family it does not name weighs 1.
    A weight must be finite and at least 0, and not every family may weigh 0.
    """
    unknown = sorted(set(weights) - set(FAMILIES) - set(families))
    if unknown:
        raise ValueError(f"family weights name no feature family: {unknown}")
    if not families:  # no family forests (``family_estimators`` 0): nothing to share
        return []
    values = np.array([float(weights.get(f, 1.0)) for f in families], dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
        raise ValueError(f"family weights must be finite, >= 0 and not all 0: {dict(weights)}")
    return [float(v) for v in values / values.sum()]


def silence_constant_families(
    matrix: np.ndarray,
    family_forests: list[tuple[str, np.ndarray, IsolationForest]],
    weights: Mapping[str, float],
) -> dict[str, float]:
    """``weights`` with weight 0 for each family whose columns are constant in ``matrix``.

    A family that does not vary over the training population isolates nobody: every
    account gets its median, now and at scoring. Its share would only shrink the other
    families against the full forest and the tail score, and shift the blend towards
    what the full forest sees (size). The adoption family is such a family in every
    window without a model release. When every family is constant the weights stay
    as given (nothing to rebalance).
    """
    out = {family: float(weights.get(family, 1.0)) for family, _, _ in family_forests}
    constant = [
        family
        for family, cols, _ in family_forests
        if len(matrix) == 0 or bool(np.all(np.ptp(matrix[:, cols], axis=0) == 0))
    ]
    if any(v > 0 for f, v in out.items() if f not in constant):
        out.update(dict.fromkeys(constant, 0.0))
    return {**weights, **out}  # names no family has are kept, for family_shares to refuse


def blend(
    matrix: np.ndarray,
    forest: IsolationForest,
    family_forests: list[tuple[str, np.ndarray, IsolationForest]],
    anchors: Mapping[str, Any],
    tail: TailScorer | None,
    tail_weight: float,
) -> np.ndarray:
    """The blended raw score: normalised full-space forest and mean family forest.

    The forests are scored together by :func:`detector.forest_scoring.forest_raws`
    (row chunks on ``DEFAULT.workers`` threads, bit for bit ``score_samples``), so
    scores are reproducible whatever the thread timing. ``tail`` is only used when
    ``tail_weight`` is set and ``anchors`` has ``"tail"``.
    """
    raws = forest_raws(matrix, _scored(forest, family_forests))
    use_tail = bool(family_forests) and bool(tail_weight) and "tail" in anchors
    tail_raw = tail.score(matrix) if use_tail and tail is not None else None
    return combine(raws, tail_raw, anchors, tail_weight)


def _scored(
    forest: IsolationForest, family_forests: list[tuple[str, np.ndarray, IsolationForest]]
) -> list[tuple[IsolationForest, np.ndarray | slice]]:
    """Every forest of the blend with its columns, the full-space forest first."""
    return [(forest, slice(None))] + [(f, cols) for _, cols, f in family_forests]


def combine(
    raws: list[np.ndarray],
    tail_raw: np.ndarray | None,
    anchors: Mapping[str, Any],
    tail_weight: float,
) -> np.ndarray:
    """The blend's arithmetic over the forests' raw scores (full forest first).

    ``tail_raw`` is the tail scorer's raw score, or ``None`` when it takes no part.
    """
    if len(raws) == 1:
        return raws[0]  # the plain isolation-forest score, 2 ** (-E[h(x)] / c(ψ))
    full_weight, _ = blend_settings(anchors)
    full = normalise(raws[0], anchors["full"])
    normed = family_scores(raws[1:], anchors)
    shares = anchors.get("family_shares")
    if shares is None:  # a bundle fitted before family weights: the plain mean
        fams = np.mean(normed, axis=0)
    else:
        fams = np.sum([w * v for w, v in zip(shares, normed, strict=True)], axis=0)
    forests_raw = full_weight * full + (1.0 - full_weight) * fams
    if tail_raw is None or not tail_weight or "tail" not in anchors:
        return forests_raw
    tail_score = normalise(tail_raw, anchors["tail"])
    return (1.0 - tail_weight) * forests_raw + tail_weight * tail_score


def family_scores(
    family_raws: Sequence[np.ndarray], anchors: Mapping[str, Any]
) -> list[np.ndarray]:
    """Each family forest's raw score normalised (:func:`normalise`) and floored at the
    blend's ``family_floor``: what the blend weighs (:func:`combine`, and
    :mod:`detector.behaviour` over the behaviour families alone)."""
    _, floor = blend_settings(anchors)
    normed = [normalise(r, a) for r, a in zip(family_raws, anchors["families"], strict=True)]
    return normed if floor is None else [np.maximum(v, floor) for v in normed]


def family_sample_size(n_accounts: int, *, floor: int, cap: int, share: float) -> int:
    """Accounts drawn to grow each family tree: ``share`` of the ``n_accounts``, at
    least ``floor`` (the full forest's trees) and at most ``cap``, never more than exist.

    Deeper trees order a family's top half-percent
    (:data:`detector.config.Config.family_max_samples`), but a tree that sees every
    account sees every member of a campaign, and alike accounts isolate together, deep
    in the tree: the *masking* that isolation forests subsample against. On the default
    population (1,405 accounts) trees grown on all of them put a 41-account hydra's
    case at 65.3 against a line of 68.95; at an eighth
    (:data:`detector.config.Config.family_sample_share`) each tree holds about five of
    its members, and the case clears the line again (session 28).
    """
    if cap < 1:
        raise ValueError(f"family_max_samples must be at least 1, got {cap}")
    if not 0.0 < share <= 1.0:
        raise ValueError(f"family_sample_share must be in (0, 1], got {share}")
    return int(min(n_accounts, max(floor, min(cap, math.floor(n_accounts * share)))))


def fit_forests(
    matrix: np.ndarray,
    names: list[str],
    specs: Mapping[str, FeatureSpec],
    *,
    n_estimators: int,
    family_estimators: int,
    max_samples: int | float | str,
    family_max_samples: int,
    random_state: int | None,
    tail_weight: float,
    family_weights: Mapping[str, float],
    full_weight: float,
    family_floor: float | None,
) -> tuple[
    IsolationForest,
    list[tuple[str, np.ndarray, IsolationForest]],
    dict[str, Any],
    TailScorer,
    np.ndarray,
    list[np.ndarray],
]:
    """Fit every scorer of the blend on the preprocessed training ``matrix``.

    Returns
    -------
    ``forest, family_forests, anchors, tail, raw, family_raws``: the full-space forest, the family
    forests (none when ``family_estimators`` is 0, see :func:`fit_family_forests`),
    the normalisation anchors of each (``{"full", "families", "tail"}``, see
    :func:`norm_anchors`) and the family forests' shares of the blend
    (``"family_shares"``, :func:`family_shares` of ``family_weights``) with the full
    forest's weight and the family floor (``"full_weight"``, ``"family_floor"``), the
    tail-probability scorer, and the blended raw score of the training rows (what
    :func:`blend` gives for ``matrix``; each scorer scores the training rows once, for
    its anchors and for this), and each family forest's raw score of the training rows
    (for :func:`detector.behaviour.behaviour_from_raws`).
    """
    check_blend_settings(full_weight, family_floor)
    forest = IsolationForest(
        n_estimators=n_estimators,
        max_samples=max_samples,
        random_state=random_state,
        n_jobs=1,
    ).fit(matrix)
    family_forests: list[tuple[str, np.ndarray, IsolationForest]] = []
    if family_estimators > 0:
        family_forests = fit_family_forests(
            matrix,
            names,
            specs,
            n_estimators=family_estimators,
            max_samples=family_max_samples,
            random_state=random_state,
        )
    raws = forest_raws(matrix, _scored(forest, family_forests))
    anchors: dict[str, Any] = {"full": norm_anchors(raws[0])}
    anchors["families"] = [norm_anchors(r) for r in raws[1:]]
    weights = silence_constant_families(matrix, family_forests, family_weights)
    anchors["family_shares"] = family_shares([f for f, _, _ in family_forests], weights)
    anchors["full_weight"] = float(full_weight)
    if family_floor is not None:
        anchors["family_floor"] = float(family_floor)
    tail = TailScorer(
        [specs[n].direction for n in names],
        weights=tuple(float(weights.get(specs[n].family, 1.0)) for n in names),
    ).fit(matrix)
    tail_raw = tail.score(matrix)
    anchors["tail"] = norm_anchors(tail_raw)
    raw = combine(raws, tail_raw if family_forests else None, anchors, tail_weight)
    return forest, family_forests, anchors, tail, raw, raws[1:]


def forest_weights(
    forest: IsolationForest,
    family_forests: list[tuple[str, np.ndarray, IsolationForest]],
    anchors: Mapping[str, Any],
    tail_weight: float,
    n_features: int,
) -> list[tuple[IsolationForest, np.ndarray, float]]:
    """Each forest with its feature columns and its weight in the blended raw score.

    Without family forests the weight is 1, so attributions are in path-length
    units and sum to ``c(ψ) − E[h(x)]``; with them, each forest's credits are
    scaled by its weight in the blended raw score (per unit of its own raw score).
    """
    cols_all = np.arange(n_features)
    if not family_forests:
        return [(forest, cols_all, 1.0)]
    n_fam = len(family_forests)
    shares = anchors.get("family_shares")
    full_weight, _ = blend_settings(anchors)
    share = 1.0 - tail_weight
    out = [(forest, cols_all, share * full_weight / anchors["full"]["scale"])]
    for i, ((_, cols, family_forest), family_anchors) in enumerate(
        zip(family_forests, anchors["families"], strict=True)
    ):
        if shares is None:  # a bundle fitted before family weights: equal shares
            weight = share * (1.0 - full_weight) / n_fam / family_anchors["scale"]
        else:
            weight = share * (1.0 - full_weight) * shares[i] / family_anchors["scale"]
        out.append((family_forest, cols, weight))
    return out


def active_families(
    matrix: np.ndarray,
    family_forests: list[tuple[str, np.ndarray, IsolationForest]],
    anchors: Mapping[str, Any],
) -> np.ndarray | None:
    """Per family forest and row: whether the family's score counts (above the floor).

    A family floored for a row adds nothing to that row's score, so attribution must not
    credit its features either (:func:`detector.explain.attribution.contributions`).
    Shape ``(len(family_forests), len(matrix))``; ``None`` when the blend has no floor
    (every family counts for every row).
    """
    _, floor = blend_settings(anchors)
    if floor is None or not family_forests:
        return None
    raws = forest_raws(matrix, [(f, cols) for _, cols, f in family_forests])
    return np.array(
        [normalise(r, a) > floor for r, a in zip(raws, anchors["families"], strict=True)],
        dtype=bool,
    ).reshape(len(family_forests), len(matrix))
