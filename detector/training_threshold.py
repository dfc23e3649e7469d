"""The alert threshold a model is trained with, counted in cases.

A bundle fixes its alert threshold at training, so flags are comparable from one run to
the next. It is drawn on the training population's *cases* (a coordination cluster is
one case, an unlinked account its own), not on its accounts: see
:func:`training_case_threshold`. The learned layer's threshold spends the same number of
cases as the unsupervised one (:func:`unsupervised_case_count`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from detector.cases import case_scores, case_threshold
from detector.config import Config
from detector.coordination import Clusters
from detector.learned import LearnedLayer
from detector.model import AnomalyModel
from detector.pipeline import FeatureResult
from detector.ranking import SCORE_DECIMALS

__all__ = [
    "learned_case_threshold",
    "membership",
    "training_case_threshold",
    "unsupervised_case_count",
]


def training_case_threshold(
    result: FeatureResult,
    accounts: pd.Index,
    scores: np.ndarray,
    config: Config,
    budget: str | None = None,
    *,
    spreads: float | None = None,
) -> float:
    """The alert threshold fixed at training, counted in cases (``budget``, else
    ``config``'s ``alert_budget``, or the bulk-spread rule at ``spreads``, the model's
    ``alert_spreads_``, under ``config``'s ``alert_ceiling``; ``spreads`` is needed only
    for that rule, and a ``ValueError`` says so when it is missing).

    The forest calibrates its threshold on accounts; a cluster of 40 light hydra
    accounts would take 40 slots of a 2% budget, and its median member -- the case
    score -- could never reach the threshold (on the demo population the three hydra
    clusters' case scores sat at 69.8-72.3 under an account-counted 73.4). Counting
    each case once (:func:`detector.cases.case_threshold`) is what ``--alert-budget``
    promises.
    """
    budget = config.alert_budget if budget is None else budget
    if budget is None and spreads is None:
        raise ValueError("the bulk-spread rule needs the model's spreads (alert_spreads_)")
    rounded = np.round(np.asarray(scores, dtype=float), SCORE_DECIMALS)
    return case_threshold(
        rounded,
        membership(result, accounts),
        budget,
        spreads=math.nan if spreads is None else spreads,  # unused with a budget
        ceiling=config.alert_ceiling,
    )


def membership(result: FeatureResult, accounts: pd.Index) -> np.ndarray:
    """Each account's cluster id ("" when unlinked), in the order of ``accounts``."""
    clusters = result.clusters
    if not isinstance(clusters, Clusters):
        return np.full(len(accounts), "", dtype=object)
    return clusters.membership.reindex(accounts).fillna("").to_numpy(dtype=object)


def unsupervised_case_count(
    result: FeatureResult, scores: np.ndarray, threshold: float, config: Config
) -> str | None:
    """The learned layer's budget: as many training cases as the model's own
    ``threshold`` flags on its ``scores`` of ``result``'s accounts (``None`` with an
    explicit ``alert_budget``, which both spend alike).

    Verdicts re-rank accounts; they are not a reason to alert more. The bulk-spread rule
    cannot be re-derived on the learned score: a benign verdict lowers its look-alikes,
    which are much of the bulk, so the bulk tightens and five spreads over it fall lower
    (on a realistic population, 10% of the labels as verdicts: threshold 73.4 -> 66.4,
    25% more accounts flagged, permitted safety benchmarking 0% -> 14%).
    """
    if config.alert_budget is not None:
        return None
    rounded = np.round(np.asarray(scores, dtype=float), SCORE_DECIMALS)
    per_case = case_scores(rounded, membership(result, result.features.index))
    return str(int((per_case >= threshold).sum()))


def learned_case_threshold(
    result: FeatureResult,
    model: AnomalyModel,
    learned: LearnedLayer,
    frame: pd.DataFrame,
    config: Config,
) -> float:
    """The learned layer's alert threshold, as training fixes it: counted in cases, spending
    as many as the unsupervised ``model`` flags on ``frame`` (the population as
    ``score_features`` scores it, quiet clusters unlinked). A count, never the
    bulk-spread rule: so ``model`` can be a bundle fitted before its spreads were kept
    (``evaluate --feedback-share`` fits layers on the scored run's bundle)."""
    return training_case_threshold(
        result,
        result.features.index,
        learned.score(model, frame),
        config,
        budget=unsupervised_case_count(result, model.score(frame), model.threshold_, config),
    )
