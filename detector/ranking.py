"""What a published score means: its band, the alert threshold, the rank, the table.

These are the rules every scorer applies to a 0–100 score once it is computed (the
anomaly model, the learned layer, the Spark engine, the sub-streams), kept apart from
the model that produces the score so that they have one definition:

* **bands** — ``low`` < 25 ≤ ``medium`` < 50 ≤ ``high`` < 75 ≤ ``critical``;
* **alert thresholds** — an explicit score, a budget of accounts
  (:func:`threshold_for_budget`, with a tie rule that never exceeds the budget), or by
  default a distance above the population's bulk (:func:`default_threshold`);
* **rank** — rank 1 is the most suspicious account, ties broken by ``account_id``;
* **the score table** — the contract's table (section 3.1), one assembly for all.

Every caller imports these names from here (:mod:`detector.model` uses them, it no
longer re-exports them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import schema

__all__ = [
    "BAND_EDGES",
    "BAND_LABELS",
    "SCORE_DECIMALS",
    "alert_cut",
    "band",
    "check_alert_rule",
    "default_threshold",
    "depth_spreads",
    "describe_alert_rule",
    "forest_explained",
    "parse_budget",
    "rank_accounts",
    "score_table",
    "spread_threshold",
    "threshold_for_budget",
    "top_ranked",
]

BAND_EDGES: Final[tuple[float, float, float]] = (25.0, 50.0, 75.0)
"""Lower edges (inclusive) of the ``medium``, ``high`` and ``critical`` bands."""
BAND_LABELS: Final[tuple[str, str, str, str]] = ("low", "medium", "high", "critical")

SCORE_DECIMALS: Final = 2
"""Published scores are rounded to this many decimals (flags agree with the number shown)."""


def band(score: float | np.ndarray | pd.Series) -> str | np.ndarray:
    """Band of a score: ``low`` < 25 ≤ ``medium`` < 50 ≤ ``high`` < 75 ≤ ``critical``.

    Parameters
    ----------
    score : a score or an array of scores on the 0–100 scale.

    Returns
    -------
    The band label (a ``str`` for a scalar, an object array otherwise).
    """
    labels = np.asarray(BAND_LABELS, dtype=object)
    idx = np.searchsorted(np.asarray(BAND_EDGES), np.asarray(score, dtype=float), side="right")
    if np.ndim(idx) == 0:
        return str(labels[int(idx)])
    return labels[idx]


def parse_budget(budget: str | int, n_accounts: int) -> int:
    """Number of accounts an alert budget allows.

    Parameters
    ----------
    budget : a count (``50`` or ``"50"``) or a percentage of the accounts (``"2%"``).
        A percentage is rounded *down* (2 % of 149 accounts is 2), because a budget is
        a maximum.
    n_accounts : number of accounts being scored.

    Returns
    -------
    The count, between 0 and ``n_accounts``.
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, str)):
        raise TypeError(f"alert budget must be a count or a percentage string, got {budget!r}")
    text = str(budget).strip()
    try:
        if text.endswith("%"):
            pct = Decimal(text[:-1].strip())
            if not pct.is_finite() or pct < 0 or pct > 100:
                raise ValueError
            count = math.floor(pct * n_accounts / 100)
        else:
            value = Decimal(text)
            if not value.is_finite() or value < 0 or value != value.to_integral_value():
                raise ValueError
            count = int(value)
    except (InvalidOperation, ValueError):
        raise ValueError(
            f"alert budget {budget!r} is neither a whole number of accounts (e.g. '50') "
            "nor a percentage between 0 and 100 (e.g. '2%')"
        ) from None
    return min(count, n_accounts)


def check_alert_rule(threshold: float | None, budget: str | int | None) -> None:
    """Refuse an explicit alert threshold and an alert budget together.

    Each alone decides the cut (:func:`alert_cut` would take the budget and silently
    drop the threshold). Every scorer — the model's, the learned layer's, the Spark
    engine's — calls this before it scores, so the error and its wording are one.
    """
    if threshold is not None and budget is not None:
        raise ValueError("give either an alert threshold or an alert budget, not both")


def alert_cut(
    scores: np.ndarray, *, threshold: float | None, budget: str | int | None, default: float
) -> float:
    """The score at which accounts are flagged: ``budget`` over ``scores`` when given,
    else ``threshold``, else the model's ``default`` (fixed at training)."""
    if budget is not None:
        return threshold_for_budget(scores, budget)
    if threshold is not None:
        return float(threshold)
    return default


def forest_explained(flagged: np.ndarray, ranks: np.ndarray, top: int) -> np.ndarray:
    """Which accounts get forest-attributed reasons: every flagged one and the top ``top``
    ranked (attribution costs two to three times the scoring, so the rest get their most
    extreme percentiles). The one rule for the score table and for sub-stream lifts."""
    return np.asarray(flagged, dtype=bool) | (np.asarray(ranks) <= top)


def threshold_for_budget(scores: np.ndarray | pd.Series, budget: str | int) -> float:
    """Lowest score threshold that flags at most ``budget`` accounts.

    Accounts are flagged when ``score >= threshold``. **Tie rule:** when accounts with
    equal scores straddle the budget boundary, the threshold moves up past the whole
    tied group, so none of them is flagged. The budget is therefore never exceeded and
    no arbitrary choice is made between accounts that scored the same (fewer than
    ``budget`` accounts may be flagged).

    Parameters
    ----------
    scores : the scores of the population (use the published, rounded scores so that
        the flag agrees with the number a reader sees).
    budget : see :func:`parse_budget`.

    Returns
    -------
    The threshold; ``math.inf`` when nothing may be flagged.
    """
    values = np.sort(np.asarray(scores, dtype=float))[::-1]
    k = parse_budget(budget, len(values))
    if k == 0:
        return math.inf
    threshold = float(values[k - 1])
    if k < len(values) and values[k] == threshold:
        above = values[:k][values[:k] > threshold]
        return float(above[-1]) if len(above) else math.inf
    return threshold


SPREAD_QUANTILE: Final = 0.75
"""The bulk spread of :func:`spread_threshold` is the distance from the median to this
quantile: safe from the tail while up to a quarter of the population is anomalous."""


def spread_threshold(scores: np.ndarray | pd.Series, spreads: float) -> float:
    """The score ``spreads`` bulk spreads above the population's median.

    The detector's scores are calibrated so that the headroom to 100 shrinks
    geometrically with the raw anomaly score above the training median
    (:func:`detector.calibration.calibrate`), so ``log((100 - median) / (100 - s))`` is
    proportional to the raw distance of ``s`` above the median. The *bulk spread* is that
    distance at the 75th percentile, and the threshold is the score at ``spreads`` times
    it. Unlike a budget, this does not assume how many accounts are anomalous: the
    median and the 75th percentile describe the ordinary accounts whether 1% or 15% of
    the population extracts, so a population with more extraction gets more alerts and
    a quiet one fewer.

    Parameters
    ----------
    scores : the population's published scores (0-100), e.g. the training accounts'.
    spreads : how many bulk spreads above the median the threshold sits.

    Returns
    -------
    The threshold, rounded up to the published decimals; ``math.inf`` when the scores
    have no spread above their median (nothing stands out from an empty bulk) or the
    population is empty.
    """
    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        return math.inf
    median, upper = np.quantile(values, [0.5, SPREAD_QUANTILE])
    if not upper > median or median >= 100.0:
        return math.inf
    headroom = (100.0 - median) * ((100.0 - upper) / (100.0 - median)) ** spreads
    scale = 10**SCORE_DECIMALS
    return math.ceil((100.0 - headroom) * scale) / scale


def depth_spreads(spreads: float, per_doubling: float, tree_samples: int, base: int) -> float:
    """The bulk spreads of the default rule for family trees grown on ``tree_samples``
    accounts: ``spreads`` at ``base`` (the full forest's trees), plus ``per_doubling``
    for each doubling beyond it.

    The line is counted in the blend's own spreads, and deeper family trees change
    their shape: they stretch the tail and draw the bulk's 75th percentile towards the
    median (on realistic populations the spread ratio went from 0.826 to 0.835 at
    2,048 accounts per tree), so the same count of spreads fell about a point lower on
    the 0-100 scale and flagged more benign accounts
    (:data:`detector.config.Config.alert_spreads_per_doubling`).
    """
    doublings = max(0.0, math.log2(max(tree_samples, 1) / max(base, 1)))
    return float(spreads + per_doubling * doublings)


def default_threshold(
    scores: np.ndarray | pd.Series,
    *,
    budget: str | int | None,
    spreads: float,
    ceiling: str | int,
    bulk: np.ndarray | pd.Series | None = None,
) -> float:
    """The alert threshold a model fixes on its training population.

    With a ``budget``, the score that spends it (:func:`threshold_for_budget`). Without,
    :func:`spread_threshold` over ``bulk`` (the accounts' scores; ``scores`` when not
    given), raised if needed so that at most ``ceiling`` of ``scores`` are flagged: a
    population whose bulk is unusually tight cannot flood the queue.
    """
    if budget is not None:
        return threshold_for_budget(scores, budget)
    spread = spread_threshold(scores if bulk is None else bulk, spreads)
    return max(spread, threshold_for_budget(scores, ceiling))


def describe_alert_rule(
    budget: str | int | None, spreads: float | None, ceiling: str | int | None
) -> str:
    """How a model's default threshold was fixed, in words (CLI and report)."""
    if budget is not None or spreads is None:
        return f"flags {budget if budget is not None else '?'} of the training cases"
    return (
        f"{round(spreads, 2):g} bulk spreads above the training median, "
        f"flagging at most {ceiling} of the training cases"
    )


def score_table(
    ids: np.ndarray,
    scores: np.ndarray,
    ranks: np.ndarray,
    flagged: np.ndarray,
    reasons: np.ndarray,
    **extra: np.ndarray,
) -> pd.DataFrame:
    """The contract's score table (section 3.1) plus ``band``, sorted by rank.

    One assembly for every scorer (the model, the learned layer, the Spark engine):
    ``cluster_id`` is empty (the coordination stage fills it in) and ``extra`` columns
    (e.g. ``unsupervised_score``) follow ``band`` in the order given.
    """
    # the arrays are put in rank order before the frame is built: one gather each,
    # where sorting the frame and then picking its columns copied every column twice;
    # band is read off the ordered scores and the empty cluster ids need no gather
    order = _rank_order(np.asarray(ranks))
    ordered = np.asarray(scores)[order]
    columns = {
        schema.ACCOUNT_ID: np.asarray(ids)[order],
        schema.SCORE: ordered,
        schema.RANK: np.asarray(ranks)[order],
        schema.FLAGGED: np.asarray(flagged)[order],
        schema.CLUSTER_ID: np.full(len(order), "", dtype=object),
        schema.REASONS: np.asarray(reasons)[order],
        schema.BAND: band(np.asarray(ordered, dtype=float)),
        **{name: np.asarray(values)[order] for name, values in extra.items()},
    }
    # concatenated as they are: a frame built from a dict stacks the four object
    # columns (and the numbers) into 2-D blocks, a second copy of every column
    index = pd.RangeIndex(len(order))
    return pd.concat(
        [pd.Series(values, index=index, name=name, copy=False) for name, values in columns.items()],
        axis=1,
        copy=False,
    )


def _rank_order(ranks: np.ndarray) -> np.ndarray:
    """``np.argsort(ranks, kind="stable")``, without sorting when ranks are ``1..n``.

    :func:`rank_accounts` gives every account its own rank, so the order is a scatter.
    """
    n = len(ranks)
    if n and ranks.dtype.kind in "iu" and ranks.min() >= 1 and ranks.max() <= n:
        order = np.full(n, -1, dtype=np.intp)
        order[ranks - 1] = np.arange(n)
        if (order >= 0).all():  # n ranks filled n places: each rank once
            return order
    return np.argsort(ranks, kind="stable")


def rank_accounts(
    scores: np.ndarray | pd.Series, account_ids: Sequence[str] | np.ndarray
) -> np.ndarray:
    """Ranks: 1 = highest score; equal scores are ordered by ``account_id`` ascending.

    Parameters
    ----------
    scores : one score per account (rank on the published, rounded scores).
    account_ids : the accounts, aligned with ``scores``.

    Returns
    -------
    Integer ranks ``1..n`` aligned with the inputs.
    """
    values = np.asarray(scores, dtype=float)
    order = _arrow_order(-values, account_ids)
    if order is None:
        order = np.lexsort((np.asarray(account_ids, dtype=str), -values))
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def top_ranked(
    scores: np.ndarray | pd.Series, account_ids: Sequence[str] | np.ndarray, top: int
) -> np.ndarray:
    """Which accounts :func:`rank_accounts` ranks ``1..top``, without ranking the rest.

    The reasons only need to know who is in the top (they get forest attribution,
    :func:`forest_explained`), and a partition finds the ``top``-th highest score in
    linear time where the full ranking sorts a million ids. Every account above that
    score is in; the ones tied at it are ordered by ``account_id`` as the ranking
    orders them, and the first fill the remaining places.

    Returns
    -------
    A boolean mask aligned with ``scores``: the same as ``rank_accounts(...) <= top``.
    """
    values = np.asarray(scores, dtype=float)
    n = len(values)
    if top >= n:
        return np.ones(n, dtype=bool)
    if top <= 0:
        return np.zeros(n, dtype=bool)
    if np.isnan(values).any():  # NaN ranks last, a partition would put it first
        return rank_accounts(values, account_ids) <= top
    kth = np.partition(values, n - top)[n - top]  # the top-th highest score
    mask = values > kth  # fewer than ``top`` accounts score above it
    tied = np.flatnonzero(values == kth)
    ids = np.asarray(np.asarray(account_ids, dtype=object)[tied], dtype=str)
    by_id = tied[np.argsort(ids, kind="stable")]  # lexsort's order in rank_accounts
    mask[by_id[: top - int(mask.sum())]] = True
    return mask


def _arrow_order(key: np.ndarray, account_ids: Sequence[str] | np.ndarray) -> np.ndarray | None:
    """``np.lexsort((ids, key))`` by Arrow's sort, or ``None`` when it may differ.

    Arrow sorts strings in C++ by their UTF-8 bytes, which is code point order, as numpy
    compares them, at less than half the cost of numpy's string sort of a million ids;
    its sort is stable, as lexsort is. ``None`` for ids that are not all strings or end
    with a NUL (numpy drops trailing NULs, Arrow keeps them). ``-0.0`` becomes ``0.0``
    first (numpy's sort holds them equal).
    """
    try:
        ids = pa.array(np.asarray(account_ids, dtype=object), type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return None
    if ids.null_count or pc.any(pc.ends_with(ids, pattern="\x00")).as_py():
        return None
    table = pa.table({"key": key + 0.0, "id": ids})
    order = pc.sort_indices(table, sort_keys=[("key", "ascending"), ("id", "ascending")])
    return order.to_numpy().astype(np.intp, copy=False)
