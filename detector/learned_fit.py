"""Fitting the learned layer: cross-fitted boosted trees on the analysts' verdicts.

The design (what the layer adds to the forest's score, how lifts fade, why verdicts
never score their own account) is in :mod:`detector.learned`; this module turns a
population, its model and its labels into a fitted :class:`~detector.learned.LearnedLayer`,
or into ``None`` when the labels are too few to learn from (:func:`why_not_learn`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from detector import schema as S
from detector.config import DEFAULT, Config
from detector.learned import LearnedLayer, account_ids, hash_folds
from detector.model import AnomalyModel
from detector.proximity import grid, neighbourhood_radius
from detector.ranking import SCORE_DECIMALS, default_threshold, top_ranked
from detector.substream_scores import worst_per_parent
from detector.substreams import SubStreams

__all__ = [
    "WEIGHT_STEPS",
    "calming_accounts",
    "fit_learned",
    "rows_that_scored",
    "verdict_weight",
    "weight_note",
    "why_not_learn",
]

WEIGHT_STEPS = (0.0, 0.25, 0.5, 1.0)
"""Shares of ``learned_weight`` tried on the verdicts (:func:`verdict_weight`)."""


def why_not_learn(labels: pd.DataFrame, config: Config = DEFAULT) -> str | None:
    """Why these labels are too few to learn from, or ``None`` when they suffice.

    Fewer than ``learned_min_labels`` labelled accounts, or fewer than
    ``learned_min_per_class`` of either class, teach a classifier noise: then there is
    no layer and the score is exactly the unsupervised one.
    """
    n_ext = int((labels[S.LABEL] == S.LABEL_EXTRACTION).sum())
    n_ben = int((labels[S.LABEL] == S.LABEL_BENIGN).sum())
    if n_ext + n_ben < config.learned_min_labels:
        return f"{n_ext + n_ben} labelled account(s), fewer than {config.learned_min_labels}"
    if min(n_ext, n_ben) < config.learned_min_per_class:
        return (
            f"{n_ext} extraction and {n_ben} benign label(s): each class needs at least "
            f"{config.learned_min_per_class}"
        )
    return None


def _stratified_folds(ids: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Folds for the labelled accounts: each class dealt round-robin in hash order."""
    folds = np.empty(len(ids), dtype=np.int64)
    keys = pd.util.hash_array(np.asarray(ids, dtype=object))
    for cls in (False, True):
        at = np.flatnonzero(y == cls)
        order = at[np.lexsort((ids[at].astype(str), keys[at]))]
        folds[order] = np.arange(len(order)) % k
    return folds


def _classifier(config: Config, seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=config.learned_iterations,
        learning_rate=config.learned_learning_rate,
        max_depth=config.learned_max_depth,
        max_leaf_nodes=config.learned_leaf_nodes,
        min_samples_leaf=config.learned_min_leaf,
        l2_regularization=1.0,
        early_stopping=False,  # a validation split would often hold no extraction at all
        random_state=seed,
    )


def rows_that_scored(
    model: AnomalyModel,
    features: pd.DataFrame,
    labels: pd.DataFrame,
    substreams: SubStreams | None,
) -> pd.DataFrame:
    """The feature rows the verdicts answer: ``features`` with each labelled account whose
    worst sub-stream outscores its own row given that sub-stream's row instead.

    Such an account was scored, alerted and judged by that sub-stream
    (:func:`detector.substream_scores.lift_scores`): a mixed-cover account's whole traffic is
    a chat product's, its extraction is the stream without the product's system prompt.
    Learned from the whole row, a verdict on it taught the layer that chat products are
    extraction: with three such verdicts in a 10% draw (realistic seed 1357), global and
    consumer chat products rose from ranks as low as 1,900 into the top k and PR-AUC on
    the other accounts fell 0.026 (docs/operations.md). A benign verdict on an account
    alerted by a sub-stream likewise clears that sub-stream's behaviour, not the product's.
    """
    frame = features.set_index(S.ACCOUNT_ID) if S.ACCOUNT_ID in features.columns else features
    if substreams is None or not len(substreams):
        return frame
    parents = substreams.meta[S.ACCOUNT_ID].astype(str).to_numpy(dtype=object)
    labelled = pd.Index(labels[S.ACCOUNT_ID].astype(str)).intersection(frame.index.astype(str))
    mine = pd.Index(parents).isin(labelled)
    if not mine.any():
        return frame
    columns = [str(f) for f in model.feature_names_in_]
    subs = substreams.features.loc[mine, columns]
    raw, owner = model.raw_scores(subs), parents[mine]
    worst = worst_per_parent(owner, raw)
    at = pd.Index(frame.index.astype(str)).get_indexer(owner[worst])
    own = model.raw_scores(frame.iloc[at][columns])
    take = raw[worst] > own
    if not take.any():
        return frame
    values = frame[columns].to_numpy(dtype=np.float64, copy=True)
    values[at[take]] = subs.iloc[worst[take]].to_numpy(dtype=np.float64)
    return frame.assign(**dict(zip(columns, values.T, strict=True)))


def fit_learned(
    model: AnomalyModel,
    features: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    provenance: dict[str, Any] | None = None,
    config: Config = DEFAULT,
    substreams: SubStreams | None = None,
) -> LearnedLayer | None:
    """Fit the learned layer on a population and its labels; ``None`` when too few.

    Parameters
    ----------
    model : the fitted unsupervised model (unchanged).
    features : the training population's feature table (index ``account_id``).
    labels : ``account_id, label`` (``benign``/``extraction``); labels of accounts not
        in ``features`` are ignored.
    provenance : what to record about the labels (:func:`detector.verdicts.provenance`).
    config : ``learned_*`` parameters.
    substreams : the population's sub-streams (model features): an account a sub-stream
        scored is learned from that sub-stream's row (:func:`rows_that_scored`).

    Returns
    -------
    The fitted layer, or ``None`` when :func:`why_not_learn` objects to the labels of
    accounts in the population (then the unsupervised score is the score).
    """
    ids = account_ids(features)
    lab = labels.drop_duplicates(S.ACCOUNT_ID, keep="last")
    lab = lab[lab[S.ACCOUNT_ID].astype(str).isin(ids)]
    if why_not_learn(lab, config) is not None:
        return None
    features = rows_that_scored(model, features, lab, substreams)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    matrix = model.transform(features)
    raw = model.raw_scores_from_matrix(matrix)[order]  # the same matrix: preprocessed once
    matrix = matrix[order]

    by_id = lab.set_index(lab[S.ACCOUNT_ID].astype(str))[S.LABEL]
    labelled_ids = np.sort(by_id.index.to_numpy(dtype=object))
    labelled_y = (by_id.reindex(labelled_ids) == S.LABEL_EXTRACTION).to_numpy()
    n_pos, n_neg = int(labelled_y.sum()), int((~labelled_y).sum())
    k = max(2, min(config.learned_folds, n_pos, n_neg))
    layer = LearnedLayer()
    layer.features_ = [str(f) for f in model.feature_names_in_]
    layer.labelled_ids_ = labelled_ids.astype(str)
    layer.labelled_folds_ = _stratified_folds(labelled_ids, labelled_y, k)
    layer.labelled_y_ = labelled_y
    layer.weight_, layer.clip_ = float(config.learned_weight), float(config.learned_clip)
    layer.dead_zone_ = float(config.learned_dead_zone)
    layer.provenance_ = dict(provenance or {})

    # training rows: every labelled account plus a seeded sample of the unlabelled ones
    at = pd.Index(labelled_ids).get_indexer(ids)
    is_lab = at >= 0
    y = np.zeros(len(ids), dtype=bool)
    y[is_lab] = labelled_y[at[is_lab]]
    seed = int(model.random_state or 0)
    unlab = np.flatnonzero(~is_lab)
    n_bg = min(len(unlab), config.learned_background_max)
    background = np.sort(np.random.default_rng(seed).choice(unlab, n_bg, replace=False))
    rows = np.concatenate([np.flatnonzero(is_lab), background])
    weight = np.ones(len(ids))
    weight[~is_lab] = config.learned_background_weight * len(unlab) / max(n_bg, 1)
    weight[y] = config.learned_positive_share * weight[rows][~y[rows]].sum() / n_pos
    folds = hash_folds(ids, k)
    folds[is_lab] = layer.labelled_folds_[at[is_lab]]
    layer.classifiers_ = []
    inputs = grid(matrix)
    with threadpool_limits(limits=1, user_api="openmp"), warnings.catch_warnings():
        # scikit-learn's binning warns about joblib config propagation it does not need
        warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed.*")
        for fold in range(k):
            train = rows[folds[rows] != fold]
            clf = _classifier(config, seed)
            layer.classifiers_.append(clf.fit(inputs[train], y[train], sample_weight=weight[train]))

    layer.case_ids_ = labelled_ids[labelled_y].astype(str)
    layer.case_matrix_ = np.ascontiguousarray(matrix[y])  # sorted ids: same order as case_ids_
    layer.case_radius_ = neighbourhood_radius(
        layer.case_matrix_, matrix, is_lab, config.learned_case_neighbours
    )
    layer.case_spacing_ = float(np.median(layer.case_radius_))
    log_odds = layer.log_odds(matrix, ids)
    layer.logit_center_ = float(np.median(log_odds))
    cal = model.calibration_
    layer.anchors_ = {
        "z_min": float(cal["raw_min"]),
        "z_median": float(cal["raw_median"]),
        "z_upper": float(cal["raw_upper"]),
    }
    evidence = layer.near_a_case(matrix, ids, layer.centred(log_odds))
    layer.weight_ = verdict_weight(layer, raw[is_lab], evidence[is_lab], y[is_lab], config)
    calmers = calming_accounts(model, raw, ids, is_lab & ~y, config)
    layer.cleared_ids_ = ids[calmers].astype(str)
    layer.cleared_matrix_ = np.ascontiguousarray(matrix[calmers])
    layer.cleared_radius_ = neighbourhood_radius(
        layer.cleared_matrix_, matrix, is_lab, config.learned_case_neighbours
    )
    # the strength is the config's, not chosen on the verdicts as the weight is: only
    # the few verdicts near the queue speak to it, their average precision swung it
    # between 0 and the most from one fit to the next, and a cleared kind's look-alikes
    # then rose as often as they fell (docs/operations.md, "Session 30")
    layer.calm_ = float(config.learned_calm) if len(calmers) else 0.0
    calm = layer.calm_factor(matrix, ids, evidence, raw)
    mixed = layer.mixed(raw, evidence, calm)
    layer.anchors_["min"] = float(mixed.min())
    layer.anchors_["median"] = float(np.median(mixed))
    layer.anchors_["upper"] = float(np.quantile(mixed, float(cal["upper_quantile"])))
    train_scores = np.round(model.calibrate(layer.to_raw(mixed)), SCORE_DECIMALS)
    budget = model.alert_budget
    if budget is None:  # as many as the model flags: verdicts re-rank, they do not add alerts
        unsupervised = np.round(model.calibrate(raw), SCORE_DECIMALS)
        budget = str(int((unsupervised >= model.threshold_).sum()))
    layer.threshold_ = default_threshold(
        train_scores,
        budget=budget,
        spreads=config.alert_spreads,
        ceiling=config.alert_ceiling,
    )
    return layer


def verdict_weight(
    layer: LearnedLayer, raw: np.ndarray, evidence: np.ndarray, y: np.ndarray, config: Config
) -> float:
    """The learned evidence's weight, chosen on the verdicts themselves.

    Every labelled account's evidence is out-of-fold (cross-fitted: from a classifier
    that never saw it), so how well ``z + w · e`` ranks the confirmed extraction above
    the cleared accounts is an honest estimate of what the layer adds at weight ``w``.
    Of the positive weights in ``learned_weight`` × :data:`WEIGHT_STEPS`, the one with
    the best average precision over the verdicts wins (on a tie the smallest); weight 0
    (the layer then changes no ranking) only when the unsupervised score alone ranks the
    verdicts better than that by more than ``learned_weight_tolerance``: switching the
    layer off needs clear evidence, not a swap or two.
    The layer can hurt: with 20 confirmed cases over a dozen kinds of extraction,
    look-alikes of confirmed mixed-cover accounts (enterprise products) rose over kinds
    nobody had confirmed (realistic seed 9595: PR-AUC on the other accounts 0.991 ->
    0.963 at weight 1). Verdicts the unsupervised score already ranks perfectly tie at
    every weight, so they cannot tell how much the layer may be trusted, only that it
    does not mislead them: it then acts at the smallest weight, so a verdict still
    reaches its look-alikes. Until session 28 a tie took the largest weight. Over 8
    draws of 10% of the labels on each of six realistic populations, that changed
    PR-AUC on the other accounts by -0.0010 on average (worst draw -0.0092). The
    smallest positive weight changes it by +0.0011 (worst draw -0.0015). Weight 0 on
    a tie changes it by +0.0009, but leaves the layer idle in most draws
    (docs/operations.md). Weight 0 then still won by any margin (session 37): in 3 of
    24 draws the smallest weight ranked the verdicts 0.0006-0.0035 worse in average
    precision (a swap or two; 1.0 against 0.9965 at 9797), while on the other accounts it
    lifted a template-and-timing hydra from 86% to 100% within the top k.
    """
    from sklearn.metrics import average_precision_score

    steps = [config.learned_weight * s for s in WEIGHT_STEPS]
    z = layer.mixed(raw, np.zeros_like(evidence))
    scores = [average_precision_score(y, z + w * evidence) for w in steps]
    positive = [i for i, w in enumerate(steps) if w > 0]
    if not positive:  # learned_weight 0: the layer only calms
        return 0.0
    best = max(positive, key=lambda i: (scores[i], -i))  # on an exact tie the smallest
    # steps[0] is weight 0 (WEIGHT_STEPS starts at 0): the unsupervised score alone
    return 0.0 if scores[0] > scores[best] + config.learned_weight_tolerance else steps[best]


def calming_accounts(
    model: AnomalyModel, raw: np.ndarray, ids: np.ndarray, cleared: np.ndarray, config: Config
) -> np.ndarray:
    """Positions of the cleared accounts whose verdicts calm their look-alikes: those the
    forest ranked within ``learned_calm_queue`` times the training alerts.

    A benign verdict on an account near the alert queue says what the queue should stop
    showing. One on an account the forest already ranks as ordinary changes nothing a
    reviewer sees, and calming its neighbourhood could only hide what lives there: quiet
    extraction ranks among hobbyists, and a random tenth of the labels (the feedback
    protocol) clears thousands of them.
    """
    alerts = int((model.calibrate(raw) >= model.threshold_).sum())
    queue = int(np.ceil(config.learned_calm_queue * max(alerts, 1)))
    return np.flatnonzero(cleared & top_ranked(raw, ids, queue))


def weight_note(weight: float, calm: float = 0.0, calming: int = 0) -> str:
    """What the verdicts chose, in words (``detector train`` and ``evaluate`` say it):
    the evidence's weight, and how far ``calming`` cleared accounts calm their look-alikes."""
    calms = calm > 0 and calming > 0
    if weight == 0:
        then = "confirmed cases lift nobody" if calms else "the scores are the unsupervised ones"
        note = (
            "weight 0 chosen on the verdicts: every weight above 0 ranked them clearly worse "
            f"than the unsupervised score, so {then}"
        )
    else:
        note = f"weight {weight:g} chosen on the verdicts"
    if calms:
        note += (
            f"; {calming:,} cleared account(s) near the alert queue calm their look-alikes "
            f"by up to {calm:g}"
        )
    return note
