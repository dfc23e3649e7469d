"""The score table of a population: the model's scores with their reasons.

Scoring and explaining are separate stages: :class:`~detector.model.AnomalyModel` turns
a feature table into 0–100 scores, :mod:`detector.explain` says why. The contract's
score table (CONTRACT.md 3.1) needs both — rank, flag and band from the rounded
scores, and reasons chosen by them (forest attribution for the flagged and the top
ranked, cheap percentiles for the rest) — so it is composed here, above both, and the
model does not import its own explainer.

Its steps are public so that every scorer composes the same table:
:func:`published_scores` (per account, Spark runs it in tasks) and :func:`alert_rows`
(population-wide: cut, rank, forest rows) serve :func:`score_frame`, the Spark
engine's ``score_frame_spark`` and the learned layer's ``score_frame``;
:func:`score_frame` takes the same cut and forest rows from :func:`explained_rows` and
ranks beside the attribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd

from detector import explain
from detector.config import DEFAULT
from detector.model import AnomalyModel
from detector.ranking import (
    SCORE_DECIMALS,
    alert_cut,
    check_alert_rule,
    forest_explained,
    rank_accounts,
    score_table,
    top_ranked,
)

__all__ = ["Alerts", "alert_rows", "explained_rows", "published_scores", "score_frame"]


class Alerts(NamedTuple):
    """What the published scores decide, aligned with them: rank, flag, and which
    accounts get forest-attributed reasons (the rest get cheap percentile reasons)."""

    ranks: np.ndarray
    flagged: np.ndarray
    forest_rows: np.ndarray


def published_scores(model: AnomalyModel, values: np.ndarray) -> np.ndarray:
    """The model's 0–100 scores of a feature matrix (``model.feature_values``), rounded
    to :data:`~detector.ranking.SCORE_DECIMALS` as published, so that rank, flag and
    band agree with the number a reader sees. Pure per row: an engine may compute it in
    parallel tasks on slices of the matrix."""
    return np.round(model.calibrate(model.raw_scores_from_values(values)), SCORE_DECIMALS)


def alert_rows(
    scores: np.ndarray,
    ids: Sequence[str] | np.ndarray,
    *,
    threshold: float | None,
    budget: str | int | None,
    default: float,
    explain_top: int | None,
) -> Alerts:
    """Rank and flag published ``scores`` and choose the rows to explain with the forest.

    Flags at :func:`~detector.ranking.alert_cut` (``budget``, else ``threshold``, else
    ``default``: the scorer's fitted threshold); the forest explains every flagged
    account and the top ``explain_top`` ranked (``None``: ``DEFAULT_EXPLAIN_TOP``).
    Population-wide, so an engine runs it once on the driver. Callers refuse a
    threshold with a budget first (:func:`~detector.ranking.check_alert_rule`).
    """
    flagged = _flagged(scores, threshold=threshold, budget=budget, default=default)
    ranks = rank_accounts(scores, ids)
    return Alerts(
        ranks=ranks,
        flagged=flagged,
        forest_rows=forest_explained(flagged, ranks, _top(explain_top)),
    )


def explained_rows(
    scores: np.ndarray,
    ids: Sequence[str] | np.ndarray,
    *,
    threshold: float | None,
    budget: str | int | None,
    default: float,
    explain_top: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`alert_rows`' ``flagged`` and ``forest_rows`` without ranking everyone.

    The top ``explain_top`` come from :func:`~detector.ranking.top_ranked` (the same
    accounts as ``rank <= explain_top``), so the attributed reasons can start while
    the full ranking, needed only for the table, runs elsewhere.
    """
    flagged = _flagged(scores, threshold=threshold, budget=budget, default=default)
    return flagged, flagged | top_ranked(scores, ids, _top(explain_top))


def _flagged(
    scores: np.ndarray, *, threshold: float | None, budget: str | int | None, default: float
) -> np.ndarray:
    """Which published ``scores`` are at or above the alert cut."""
    return scores >= alert_cut(scores, threshold=threshold, budget=budget, default=default)


def _top(explain_top: int | None) -> int:
    """How many top-ranked accounts the forest explains (``None``: the default)."""
    return explain.DEFAULT_EXPLAIN_TOP if explain_top is None else explain_top


def score_frame(
    model: AnomalyModel,
    features: pd.DataFrame,
    *,
    threshold: float | None = None,
    budget: str | int | None = None,
    explain_top: int | None = None,
    n_reasons: int = DEFAULT.n_reasons,
) -> pd.DataFrame:
    """Score a population into the contract's score table (section 3.1).

    Parameters
    ----------
    model : a fitted :class:`~detector.model.AnomalyModel`.
    features : DataFrame with the fitted features, one row per account.
    threshold : explicit alert threshold on the 0–100 score.
    budget : alert budget for *this* population (``"2%"`` or ``"50"``), see
        :func:`~detector.ranking.threshold_for_budget`. At most one of ``threshold`` and ``budget``;
        with neither, the fitted ``threshold_`` is used (the score at which the
        training population meets ``alert_budget``), so flags are comparable
        across runs.
    explain_top : the top-``explain_top`` ranked accounts get forest-attributed
        reasons in addition to every flagged account (default
        ``detector.explain.DEFAULT_EXPLAIN_TOP``); the others get cheap
        percentile-based reasons.
    n_reasons : reasons per account.

    Returns
    -------
    DataFrame with columns ``account_id, score, rank, flagged, cluster_id, reasons,
    band``, sorted by rank. ``score`` is rounded to 2 decimals and rank, flag and
    band are computed on the rounded score, so they agree with what is published.
    ``cluster_id`` is empty (clusters are filled in by the coordination stage).
    """
    check_alert_rule(threshold, budget)
    ids, values = model.feature_values(features)
    # percentile reasons need no score: every account's are written on a side thread
    # while the forests score (tree walks release the GIL, the reasons' string work
    # mostly holds it, so the two fill both cores), then replaced by attributed ones
    # where flags and ranks ask for them (computed while the side thread may still
    # run); each row's reasons depend on that row alone. The full ranking is only
    # needed for the table: it runs beside the attribution (Arrow's sort releases
    # the GIL), which needs just the top ranked
    with ThreadPoolExecutor(max_workers=2) as side:
        cheap = side.submit(
            explain.reason_strings_for_values,
            model,
            values,
            forest_rows=np.zeros(len(values), dtype=bool),
            n_reasons=n_reasons,
        )
        scores = published_scores(model, values)
        ranks = side.submit(rank_accounts, scores, ids)
        flagged, forest_rows = explained_rows(
            scores,
            ids,
            threshold=threshold,
            budget=budget,
            default=model.threshold_,
            explain_top=explain_top,
        )
        attributed = explain.reason_strings_for_values(
            model,
            values[forest_rows],
            forest_rows=np.ones(int(forest_rows.sum()), dtype=bool),
            n_reasons=n_reasons,
        )
        reasons = cheap.result()
    reasons[forest_rows] = attributed
    return score_table(ids, scores, ranks.result(), flagged, reasons)
