"""Evaluation that tells the truth about learning from verdicts.

A layer trained on labels must be measured on accounts whose labels it did not see.
:func:`feedback_evaluation` plays the analysts' part: it draws a share of the labelled
accounts as "verdicts" (stratified by label, seeded), fits the learned layer on the
population with them, and measures **only the other labelled accounts**, once with the
unsupervised score and once with the learned one, in the same run, so the difference
is the layer's alone (same model, same accounts, same metrics).

Both sides are scored as ``detector score`` scores them when the protocol is given the
run's features (:func:`composed_scorer`): an account's score is the higher of its own,
its worst sub-stream's and its campaign's, with quiet clusters unlinked. Scored on the
account's own features alone, a mixed account's extraction sub-stream and a campaign's
members lose the lift production gives them, and the unsupervised side looked weaker
than it is (mixed cover 0.11 within the top k against 0.88 in ``scores.csv``, realistic
seed 6262): the learned layer's gain was measured against a baseline nobody runs.

Which labelled accounts become verdicts, and which are measured, is the protocol
(:mod:`detector.verdict_draws`: a random draw, a time split, or the top of the queue).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd

from detector import schema as S
from detector.artifacts import Bundle
from detector.config import DEFAULT, Config
from detector.evaluate import evaluate
from detector.learned import LearnedLayer
from detector.learned_fit import fit_learned, why_not_learn
from detector.model import AnomalyModel
from detector.pipeline import FeatureResult
from detector.quiet_clusters import unlink_quiet_clusters
from detector.ranking import SCORE_DECIMALS, rank_accounts
from detector.scoring import score_features
from detector.substreams import SubStreams
from detector.training_threshold import learned_case_threshold
from detector.verdict_draws import draw_verdicts, queue_verdicts, time_split
from detector.verdicts import provenance

__all__ = [
    "FLAGGED_BENIGN",
    "HEADLINE",
    "Compose",
    "Composed",
    "composed_scorer",
    "feedback_evaluation",
    "summarise_draws",
]

Compose = Callable[[LearnedLayer | None], pd.DataFrame]
"""The population's score table (``account_id, score, rank, flagged``, one row per
account) without a learned layer (``None``) or with one."""

HEADLINE: Final = ("roc_auc", "pr_auc", "precision_at_k", "recall_at_k", "recall_at_1pct_fpr")
"""The metrics whose change :func:`feedback_evaluation` reports in ``delta``."""

FLAGGED_BENIGN: Final = "n_flagged_benign"
"""How many more benign held-out accounts the learned score flags than the unsupervised
one (in :func:`summarise_draws`' ``delta`` beside the headline metrics)."""


def _table(ids: np.ndarray, scores: np.ndarray, threshold: float) -> pd.DataFrame:
    scores = np.round(scores, SCORE_DECIMALS)
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: ids,
            S.SCORE: scores,
            S.RANK: rank_accounts(scores, ids),
            S.FLAGGED: scores >= threshold,
        }
    )


class Composed(NamedTuple):
    """What :func:`feedback_evaluation` needs to score as ``detector score`` does."""

    features: pd.DataFrame
    """The feature table a learned layer learns from (quiet clusters unlinked)."""
    substreams: SubStreams
    """The population's sub-streams, as scored."""
    compose: Compose
    """The whole score table (sub-streams, cases) with or without a layer."""


def composed_scorer(
    result: FeatureResult,
    bundle: Bundle,
    config: Config = DEFAULT,
    log: Path | Sequence[Path] = (),
) -> Composed:
    """What the protocol needs to score as ``detector score`` does: the feature table a
    learned layer learns from (quiet clusters unlinked, as training fits it), the
    sub-streams, and the scorer that composes the whole score table (sub-streams,
    cases) with or without a layer.

    The unsupervised table is scored here, once (which also checks that ``result``, the
    features of ``log``, has every feature the bundle needs); a layer given to the scorer
    gets the threshold training would fix for it.
    """
    path = bundle.path or "bundle"
    plain = replace(bundle, learned=None)
    unsupervised = score_features(result, plain, model_path=path, log=log, config=config).scores
    scored = unlink_quiet_clusters(result, bundle.model, config)
    frame = scored.features

    def compose(layer: LearnedLayer | None) -> pd.DataFrame:
        if layer is None:
            return unsupervised
        layer.threshold_ = learned_case_threshold(result, bundle.model, layer, frame, config)
        chosen = replace(bundle, learned=layer)
        return score_features(result, chosen, model_path=path, log=log, config=config).scores

    return Composed(frame, scored.substreams, compose)


def feedback_evaluation(
    model: AnomalyModel,
    features: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    share: float,
    seed: int = 0,
    first_seen: pd.Series | None = None,
    queue: int | None = None,
    config: Config = DEFAULT,
    compose: Compose | None = None,
    substreams: SubStreams | None = None,
) -> dict[str, Any]:
    """Learned vs unsupervised score on the labelled accounts that gave no verdict.

    Parameters
    ----------
    model : the fitted unsupervised model (the bundle's; unchanged).
    features : the scored population (index ``account_id``), with the model's features.
    labels : ``account_id, label[, scenario]`` for (some of) the population.
    share : share of the labelled accounts drawn as verdicts.
    seed : seed of the draw.
    first_seen : each account's first day
        (:func:`detector.verdict_draws.first_seen_days`): draws the
        verdicts only from accounts seen before the cut and measures only those first
        seen on or after it (``protocol: "time"``).
    queue : the verdicts are the ``queue`` labelled accounts the unsupervised score ranks
        highest (:func:`detector.verdict_draws.queue_verdicts`), ``share`` and ``seed``
        unused (``protocol: "queue"``); not with ``first_seen``.
    config : the ``learned_*`` parameters of the layer.
    compose : score both sides as ``detector score`` does (:func:`composed_scorer`, with
        ``features`` its frame); ``None``: each account on its own features alone
        (``scores: "accounts"`` in the result).
    substreams : the population's sub-streams (:func:`composed_scorer` gives them), so
        that a verdict teaches what production scored the account by
        (:func:`detector.learned_fit.rows_that_scored`).

    Returns
    -------
    ``protocol``, ``share``, ``seed``, ``verdicts`` (counts, and for the time split
    ``cut_day``), ``evaluated_accounts``, ``learned_layer`` (fitted or why not),
    ``learned_weight`` (the weight the verdicts chose, see
    :func:`detector.learned_fit.verdict_weight`; None without a layer),
    ``unsupervised`` and ``learned`` (each a :func:`detector.evaluate.evaluate` result
    over the same held-out accounts; flags at each score's own default threshold) and
    ``delta`` (learned − unsupervised for the headline metrics).
    """
    frame = features.set_index(S.ACCOUNT_ID) if S.ACCOUNT_ID in features.columns else features
    ids = frame.index.astype(str).to_numpy(dtype=object)
    lab = labels.copy()
    lab[S.ACCOUNT_ID] = lab[S.ACCOUNT_ID].astype(str)
    lab = lab[lab[S.ACCOUNT_ID].isin(set(ids))].drop_duplicates(S.ACCOUNT_ID)
    if queue is not None and first_seen is not None:
        raise ValueError("the queue and the time split are separate protocols")
    out: dict[str, Any] = {"protocol": "random", "share": share, "seed": seed}
    pool, measured = lab, lab
    if first_seen is not None:
        split = time_split(first_seen, lab)
        if isinstance(split, str):
            return {**out, "protocol": "time", "available": False, "note": split}
        cut, early, late = split
        out.update(protocol="time", cut_day=cut.isoformat())
        pool = lab[lab[S.ACCOUNT_ID].isin(early)]
        measured = lab[lab[S.ACCOUNT_ID].isin(late)]
        share = min(1.0, share * len(lab) / max(len(pool), 1))  # the same number of verdicts
    if compose is None:
        unsup = model.score(frame)
        tables = {"unsupervised": _table(ids, unsup, model.threshold_)}
    else:
        tables = {"unsupervised": compose(None)}
    if queue is not None:
        out = {"protocol": "queue", "queue": queue}
        verdicts = queue_verdicts(lab, tables["unsupervised"], queue)
    else:
        verdicts = draw_verdicts(pool, share, seed)
    held_out = measured[~measured[S.ACCOUNT_ID].isin(set(verdicts[S.ACCOUNT_ID]))]
    layer = fit_learned(
        model,
        frame,
        verdicts,
        provenance=provenance(verdicts, "feedback draw"),
        config=config,
        substreams=substreams,
    )
    if layer is None:
        tables["learned"] = tables["unsupervised"]
    elif compose is None:
        tables["learned"] = _table(ids, layer.score(model, frame), layer.threshold_)
    else:
        tables["learned"] = compose(layer)
    held = set(held_out[S.ACCOUNT_ID])
    results = {
        name: evaluate(table[table[S.ACCOUNT_ID].astype(str).isin(held)], held_out)
        for name, table in tables.items()
    }
    delta = {
        m: None
        if results["learned"][m] is None or results["unsupervised"][m] is None
        else results["learned"][m] - results["unsupervised"][m]
        for m in HEADLINE
    }
    return {
        **out,
        "available": True,
        "scores": "accounts" if compose is None else "production",
        "verdicts": {
            "n": len(verdicts),
            "n_extraction": int((verdicts[S.LABEL] == S.LABEL_EXTRACTION).sum()),
            "n_benign": int((verdicts[S.LABEL] == S.LABEL_BENIGN).sum()),
        },
        "evaluated_accounts": int(pd.Index(ids).isin(held).sum()),
        "learned_layer": "fitted" if layer is not None else why_not_learn(verdicts, config),
        "learned_weight": None if layer is None else layer.weight_,
        "learned_calm": None if layer is None else layer.calm_,
        "calming_accounts": None if layer is None else len(layer.cleared_ids_),
        **results,
        "delta": delta,
    }


def summarise_draws(draws: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What learning from verdicts gains over several draws of the verdicts.

    One draw is one analyst queue's luck: on a realistic population (seed 4711, 10% of
    the labelled accounts as verdicts) the PR-AUC change on the other accounts ran from
    -0.003 to +0.003 over eight seeds, and a kind of extraction nobody confirmed lost
    17-40% of its accounts from the top k in seven of them (docs/operations.md). Judging
    the layer on one draw reads that luck as a property of the layer.

    Parameters
    ----------
    draws : :func:`feedback_evaluation` results of one population and protocol, one per
        seed (those without a fitted layer count: their change is 0).

    Returns
    -------
    ``draws`` (how many), ``seeds``, ``learned_weights`` and ``learned_calms`` (per draw,
    None without a layer),
    ``delta`` (per headline metric, and :data:`FLAGGED_BENIGN`: ``mean``, ``min``, ``max``
    and ``values`` of the change over the draws) and ``per_scenario`` (per scenario: its
    ``label``; ``share``, the share compared (``share_in_top_k`` for extraction,
    ``share_flagged`` for benign); the ``unsupervised`` and ``learned`` shares' mean; and
    ``worst_change``, the change most against the layer in any draw: a fall for
    extraction, a rise for benign).
    """
    usable = [d for d in draws if d.get("available", True)]
    if not usable:
        return {"draws": 0, "seeds": [], "note": "no draw could be evaluated"}
    out: dict[str, Any] = {
        "draws": len(usable),
        "seeds": [d["seed"] for d in usable],
        "learned_weights": [d.get("learned_weight") for d in usable],
        "learned_calms": [d.get("learned_calm") for d in usable],
        "delta": {},
        "per_scenario": {},
    }
    changes = {
        metric: [d["delta"][metric] for d in usable if d["delta"].get(metric) is not None]
        for metric in HEADLINE
    }
    changes[FLAGGED_BENIGN] = [
        d["learned"]["flagged"][FLAGGED_BENIGN] - d["unsupervised"]["flagged"][FLAGGED_BENIGN]
        for d in usable
        if d["learned"].get("flagged", {}).get("available")
        and d["unsupervised"].get("flagged", {}).get("available")
    ]
    for metric, values in changes.items():
        if values:
            out["delta"][metric] = {
                "mean": float(np.mean(values)),
                "min": float(np.min(values)),
                "max": float(np.max(values)),
                "values": [float(v) for v in values],
            }
    names = sorted({n for d in usable for n in d["unsupervised"]["per_scenario"]})
    for name in names:
        rows = [
            (d["unsupervised"]["per_scenario"][name], d["learned"]["per_scenario"][name])
            for d in usable
            if name in d["unsupervised"]["per_scenario"] and name in d["learned"]["per_scenario"]
        ]
        label = rows[0][0]["label"]
        key = "share_in_top_k" if label == S.LABEL_EXTRACTION else "share_flagged"
        pairs = np.array(
            [(u[key], lr[key]) for u, lr in rows if u[key] is not None and lr[key] is not None],
            dtype=np.float64,
        ).reshape(-1, 2)
        if not len(pairs):
            continue
        change = pairs[:, 1] - pairs[:, 0]
        out["per_scenario"][name] = {
            "label": label,
            "share": key,
            "unsupervised": float(pairs[:, 0].mean()),
            "learned": float(pairs[:, 1].mean()),
            "worst_change": float(change.min() if label == S.LABEL_EXTRACTION else change.max()),
        }
    return out
