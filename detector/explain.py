"""Reasons: why an account scored as it did.

Each reason names one feature, its value in human units, the account's percentile in
the *training* population, and — for the accounts that matter most — how much that
feature's splits shortened the account's isolation paths in the forest.

**Which features may be cited.** Only features on the suspicious side of their
``direction`` and past :data:`ELIGIBLE_PERCENTILE` there: above the 90th percentile
(and above the median) for ``high``, below the 10th for ``low``, either tail for
``both``. An explanation never says "flagged because it is unusually *diverse*" for a
feature where only low diversity is suspicious.

**Forest attribution** (:func:`forest_contributions`). Every node of an isolation tree
has an expected total path length for an account that reaches it,
``v(node) = depth(node) + c(n(node))``, where ``n`` is the number of training samples
in the node and ``c`` the average path length of an unsuccessful BST search (the
isolation forest's normaliser). A split that sends the account from ``parent`` to
``child`` changes that expectation by ``v(parent) - v(child) = c(n_parent) - 1 -
c(n_child)`` and that amount is credited to the split's feature: a split that cuts the
account off from almost all samples early (512 → 3 at the root: +9.4 levels) gets a
large credit, a split that leaves it with the majority (512 → 509: −1) a negative one.
Along a path the credits telescope to ``c(max_samples) - h(x)``, so averaged over the
trees **the contributions of all features sum exactly to c(ψ) − E[h(x)]**, the
quantity the raw anomaly score ``2 ** (-E[h(x)] / c(ψ))`` is monotone in (a
Saabas-style path decomposition, in the spirit of DIFFI, with no Python loop per
account). Contributions are in *tree levels saved*.

**Cost.** Attribution walks every tree's ``decision_path`` for each account, roughly
3.3 s per 100k accounts × 60 features × 300 trees on one core (34–52 s per million),
two to three times the cost of scoring. :meth:`~detector.model.AnomalyModel.score_frame`
therefore attributes the flagged accounts and the top :data:`DEFAULT_EXPLAIN_TOP`
ranked ones, and gives every other account a cheap reason: its most extreme eligible
percentiles.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import pandas as pd

from detector import schema
from detector.config import DEFAULT

if TYPE_CHECKING:
    from detector.model import AnomalyModel

__all__ = [
    "BARE_IN_SENTENCE",
    "DEFAULT_EXPLAIN_TOP",
    "ELIGIBLE_PERCENTILE",
    "EXPLAIN_COLUMNS",
    "NO_REASON",
    "UNIT_FORMATTERS",
    "explain_frame",
    "forest_contributions",
    "format_percentile",
    "format_value",
    "percentiles",
    "reasons_strings",
]

DEFAULT_EXPLAIN_TOP: Final = 1000
"""Top-ranked accounts that get forest attribution in ``score_frame`` (plus flagged)."""
ELIGIBLE_PERCENTILE: Final = 90.0
"""A feature is citable when the account is at least this far out on its suspicious side."""
NO_REASON: Final = "nothing unusual: no feature is past the 90th percentile on its suspicious side"
CHUNK_ROWS: Final = 4096
"""Accounts per attribution chunk: keeps the per-chunk accumulator in cache."""
_REASON_CHUNK: Final = 100_000

REASON_RANK: Final = "rank_of_reason"
FEATURE: Final = "feature"
VALUE: Final = "value"
VALUE_TEXT: Final = "value_text"
PERCENTILE: Final = "percentile"
DIRECTION: Final = "direction"
CONTRIBUTION: Final = "contribution"
SENTENCE: Final = "sentence"
EXPLAIN_COLUMNS: Final = (
    schema.ACCOUNT_ID,
    REASON_RANK,
    FEATURE,
    VALUE,
    VALUE_TEXT,
    PERCENTILE,
    DIRECTION,
    CONTRIBUTION,
    SENTENCE,
)

# --- rendering values -------------------------------------------------------------------


def _number(x: float) -> str:
    """A number for people: 3 significant digits, thousands separators, no ``-0``."""
    if not math.isfinite(x):
        return str(x)
    ax = abs(x)
    if ax >= 1000:
        digits = math.floor(math.log10(ax)) + 1
        text = f"{round(x, 3 - digits):,.0f}"
    elif ax >= 100 or ax == 0 or float(x).is_integer():
        text = f"{x:,.0f}"
    elif ax >= 1:
        text = f"{x:.1f}"
    else:
        text = f"{x:.2g}"
    return "0" if text in ("-0", "-0.0", "-0.00") else text


def _share(x: float) -> str:
    pct = 100.0 * x
    if pct == 0 or pct >= 1 or pct <= -1:
        return f"{pct:.0f}%"
    return f"{pct:.1f}%"


def _seconds(x: float) -> str:
    if abs(x) >= 3600:
        return f"{x / 3600:.1f} h"
    if abs(x) >= 120:
        return f"{x / 60:.1f} min"
    return f"{_number(x)} s"


def _hours(x: float) -> str:
    if abs(x) >= 72:
        return f"{x / 24:.1f} days"
    return f"{_number(x)} h"


def _suffix(suffix: str) -> Callable[[float], str]:
    return lambda x: f"{_number(x)}{suffix}"


UNIT_FORMATTERS: Final[dict[str, Callable[[float], str]]] = {
    "share": _share,
    "per_day": _suffix("/day"),
    "per_hour": _suffix("/hour"),
    "per_minute": _suffix("/min"),
    "tokens": _suffix(" tokens"),
    "seconds": _seconds,
    "hours": _hours,
    "days": _suffix(" days"),
    "bits": _suffix(" bits"),
    "count": _number,
    "ratio": _suffix("×"),
}
"""Unit → formatter of ``value_text``. An unknown unit renders as ``"<number> <unit>"``."""
BARE_IN_SENTENCE: Final[frozenset[str]] = frozenset(
    {"per_day", "per_hour", "per_minute", "tokens", "count", "ratio"}
)
"""Units whose noun the reason templates spell out themselves ("{value} requests per
active day", "{value} output tokens per request"): in *sentences* these values render
as the bare number, so the unit is not said twice. ``value_text`` always has the unit."""


@functools.lru_cache(maxsize=65536)
def format_value(value: float, unit: str, *, in_sentence: bool = False) -> str:
    """Render a feature value in its human unit.

    Parameters
    ----------
    value : the raw feature value.
    unit : the spec's unit (see :data:`UNIT_FORMATTERS`).
    in_sentence : render for a reason template: units in :data:`BARE_IN_SENTENCE`
        become the bare number.

    Returns
    -------
    e.g. ``"91%"`` (share 0.91), ``"12,400/day"``, ``"1,850 tokens"``, ``"4.2 s"``.

    Examples
    --------
    >>> format_value(0.914, "share"), format_value(12431, "per_day")
    ('91%', '12,400/day')
    >>> format_value(12431, "per_day", in_sentence=True)
    '12,400'
    """
    if in_sentence and unit in BARE_IN_SENTENCE:
        return _number(float(value))
    formatter = UNIT_FORMATTERS.get(unit)
    if formatter is None:
        return f"{_number(value)} {unit}".rstrip()
    return formatter(float(value))


@functools.lru_cache(maxsize=4096)
def format_percentile(p: float) -> str:
    """``"99.6th percentile"``; one decimal only in the outer 1 %, where it matters.

    The outer 1 % is rounded *towards* the middle, so "100th" and "0th" are only said
    of values beyond every training account.
    """
    if 1.0 < p < 99.0:
        n = round(p)
        text = str(n)
    else:
        r = math.floor(p * 10 + 1e-9) / 10 if p >= 99.0 else math.ceil(p * 10 - 1e-9) / 10
        n = round(r)
        text = str(n) if r == n else f"{r:.1f}"
    if "." in text or 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{text}{suffix} percentile"


# --- percentiles and eligibility --------------------------------------------------------


def _mid_rank(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    left = np.searchsorted(q, v, side="left")
    right = np.searchsorted(q, v, side="right")
    return (left + right) * (50.0 / len(q))


def percentiles(model: AnomalyModel, values: np.ndarray) -> np.ndarray:
    """Percentile of each value among the account's peers (mid-rank, 0–100).

    Uses the model's stored training quantiles of the account's peer tier (accounts of
    a similar request rate, :mod:`detector.peers`): with ``l``/``r`` the number of
    stored quantiles strictly below / at-or-below ``x``, the percentile is
    ``100 * (l + r) / 2 / N_QUANTILES`` — 0 below every peer, 100 above every one, and
    a value shared by many accounts (a mass at 0) gets the middle of its tie rather
    than its top.

    Parameters
    ----------
    model : a fitted AnomalyModel.
    values : raw feature values, shape (n_accounts, n_features_in_), model column order.

    Returns
    -------
    float array of the same shape.
    """
    tiers = model.peer_tiers(values)
    out = np.empty(values.shape, dtype=np.float64)
    for t in np.unique(tiers):
        rows = tiers == t
        q = model.peer_quantiles_[t]
        for j in range(values.shape[1]):
            out[rows, j] = _mid_rank(q[:, j], values[rows, j])
    return out


def _feature_meta(model: AnomalyModel) -> dict[str, np.ndarray]:
    names = [str(n) for n in model.feature_names_in_]
    directions = np.array([model.specs_[n].direction for n in names])
    scales = np.array([model.specs_[n].scale for n in names])
    return {
        "high": directions == "high",
        "low": directions == "low",
        "both": directions == "both",
        "log": scales == "log",
        "share": scales == "share",
    }


def _candidates(
    model: AnomalyModel, values: np.ndarray, tiers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Citable (row, feature) entries with their percentile among peers and extremeness.

    Computed per peer tier (a handful of vectorised passes, not a loop per account).
    Entries come back ordered by row.
    """
    parts = []
    for t in np.unique(tiers):
        at = np.flatnonzero(tiers == t)
        r, c, p, e = _tier_candidates(model, model.peer_quantiles_[t], values[at])
        parts.append((at[r], c, p, e))
    if not parts:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty, np.empty(0), np.empty(0)
    rows, cols, pct, extreme = (np.concatenate(x) for x in zip(*parts, strict=True))
    order = np.argsort(rows, kind="stable")
    return rows[order], cols[order], pct[order], extreme[order]


def _tier_candidates(
    model: AnomalyModel, q: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_candidates` against one set of stored quantiles ``q`` (N_QUANTILES, F).

    A value can only reach the 90th percentile if it is at least the stored 90 %
    quantile (10 % for the low side), so a cheap comparison against those two cuts
    finds the few candidate entries and exact percentiles are computed for those
    alone.
    """
    meta = _feature_meta(model)
    n_q = q.shape[0]
    # p >= 90 needs l + r >= 1.8 n_q, impossible below q[ceil(0.9 n_q) - 1]; mirrored low
    lo_cut = q[math.floor(n_q * (100 - ELIGIBLE_PERCENTILE) / 100)]
    hi_cut = q[math.ceil(n_q * ELIGIBLE_PERCENTILE / 100) - 1]
    median = q[n_q // 2]
    up = (meta["high"] | meta["both"]) & (values >= hi_cut) & (values > median)
    down = (meta["low"] | meta["both"]) & (values <= lo_cut) & (values < median)
    cols, rows = np.nonzero((up | down).T)
    vals = values[rows, cols]
    pct = np.empty(len(rows), dtype=np.float64)
    bounds = np.searchsorted(cols, np.arange(values.shape[1] + 1))
    for j in np.unique(cols):
        sl = slice(bounds[j], bounds[j + 1])
        pct[sl] = _mid_rank(q[:, j], vals[sl])
    is_up = vals > median[cols]
    extreme = np.where(is_up, pct, 100.0 - pct)
    keep = extreme >= ELIGIBLE_PERCENTILE
    return rows[keep], cols[keep], pct[keep], extreme[keep]


# --- forest attribution -----------------------------------------------------------------


def _average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """``c(n)``: average path length of an unsuccessful BST search among ``n`` samples.

    The isolation forest's normaliser (Liu et al. 2008), identical to scikit-learn's:
    ``c(1) = 0``, ``c(2) = 1``, ``c(n) = 2 (ln(n - 1) + γ) - 2 (n - 1) / n``.
    """
    n = np.asarray(n_samples, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _tree_credits(tree) -> tuple[np.ndarray, np.ndarray]:
    """Per node: credit of the edge parent → node, and the parent's split feature."""
    t = tree.tree_
    value = t.compute_node_depths() + _average_path_length(t.n_node_samples)
    parent = np.full(t.node_count, -1, dtype=np.intp)
    internal = np.flatnonzero(t.children_left >= 0)
    parent[t.children_left[internal]] = internal
    parent[t.children_right[internal]] = internal
    has_parent = parent >= 0
    credit = np.zeros(t.node_count, dtype=np.float64)
    feature = np.zeros(t.node_count, dtype=np.intp)
    credit[has_parent] = value[parent[has_parent]] - value[has_parent]
    feature[has_parent] = t.feature[parent[has_parent]]
    return credit, feature


def _contributions(
    model: AnomalyModel, values: np.ndarray, chunk_rows: int = CHUNK_ROWS
) -> np.ndarray:
    """Forest attribution for raw feature values; see the module docstring.

    With family (subspace) forests, each forest's per-feature credits are weighted by
    that forest's weight in the blended raw score, so contributions from the full
    forest and from the family forests are on one scale.
    """
    n, n_features = values.shape
    out = np.zeros((n, n_features), dtype=np.float64)
    if n == 0:
        return out
    X = model._preprocess(values)
    forests = model.forest_weights()
    # one forest per worker thread (tree traversal releases the GIL); summed in a fixed
    # order, so the result does not depend on thread timing
    with ThreadPoolExecutor(max_workers=DEFAULT.workers) as pool:
        credits = list(
            pool.map(lambda fw: _forest_credits(fw[0], X[:, fw[1]], chunk_rows), forests)
        )
    for (_, cols, weight), credit in zip(forests, credits, strict=True):
        out[:, cols] += weight * credit
    return out


def _forest_credits(forest, X: np.ndarray, chunk_rows: int) -> np.ndarray:
    """Mean per-feature path-length credit over one forest's trees (columns of ``X``)."""
    n, n_features = X.shape
    out = np.zeros((n, n_features), dtype=np.float64)
    if any(len(f) != n_features for f in forest.estimators_features_):  # pragma: no cover
        raise NotImplementedError("attribution assumes every tree sees every feature")
    trees = [(est, *_tree_credits(est)) for est in forest.estimators_]
    X = np.ascontiguousarray(X, dtype=np.float32)
    for start in range(0, n, chunk_rows):
        block = X[start : start + chunk_rows]
        m = block.shape[0]
        acc = np.zeros(m * n_features, dtype=np.float64)
        row_base = np.arange(m, dtype=np.intp) * n_features
        for est, credit, feature in trees:
            path = est.decision_path(block, check_input=False)
            nodes = path.indices
            flat = np.repeat(row_base, np.diff(path.indptr)) + feature[nodes]
            np.add.at(acc, flat, credit[nodes])
        out[start : start + m] = acc.reshape(m, n_features)
    return out / len(trees)


def forest_contributions(
    model: AnomalyModel, features: pd.DataFrame, *, chunk_rows: int = CHUNK_ROWS
) -> pd.DataFrame:
    """Per-account, per-feature forest attribution (tree levels saved).

    Parameters
    ----------
    model : a fitted AnomalyModel.
    features : feature table with the model's features.
    chunk_rows : accounts per chunk (memory/speed trade-off only).

    Returns
    -------
    DataFrame (index ``account_id``, one column per feature). Each row sums to
    ``c(max_samples) - E[h(x)]``: positive when the account is isolated faster than a
    typical account, and each feature's share of that is its contribution.
    """
    ids, values = model._matrix(features)
    contrib = _contributions(model, values, chunk_rows)
    return pd.DataFrame(
        contrib,
        index=pd.Index(ids, name=schema.ACCOUNT_ID),
        columns=[str(n) for n in model.feature_names_in_],
    )


# --- choosing and rendering reasons -----------------------------------------------------


def _echo_groups(model: AnomalyModel) -> np.ndarray:
    """Per model feature, the index of the feature it echoes (itself when none)."""
    names = [str(n) for n in model.feature_names_in_]
    index = {n: i for i, n in enumerate(names)}
    return np.array(
        [index.get(model.specs_[n].echo_of or n, i) for i, n in enumerate(names)], dtype=np.intp
    )


def _choose(
    model: AnomalyModel,
    values: np.ndarray,
    contrib: np.ndarray | None,
    n_reasons: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Top ``n_reasons`` citable features per row, as sparse entries.

    With ``contrib``: citable features with positive contribution, largest first (a
    row with none falls back to its citable features by extremeness). Without: by
    extremeness, ties broken by how far past the median the value is (robust spreads).

    Returns
    -------
    ``rows, slots, cols, pct``: row index, 0-based reason slot, feature index and
    percentile of every chosen reason, ordered by row then slot.
    """
    tiers = model.peer_tiers(values)
    rows, cols, pct, extreme = _candidates(model, values, tiers)
    vals = values[rows, cols]
    meta = _feature_meta(model)
    t = vals.copy()
    log = meta["log"][cols]
    t[log] = np.log1p(np.maximum(t[log], 0.0))
    share = meta["share"][cols]
    t[share] = np.clip(t[share], 0.0, 1.0)
    distance = np.abs(t - model.center_[tiers[rows], cols]) / model.spread_[tiers[rows], cols]
    # extremeness is a multiple of 50/N_QUANTILES, so the tie-break (< 0.01) never reorders it
    key = extreme + 0.01 * np.tanh(distance / 10.0)
    if contrib is not None:
        c = contrib[rows, cols]
        positive = c > 0
        row_has_positive = np.bincount(rows[positive], minlength=len(values)) > 0
        use_contrib = row_has_positive[rows]
        keep = ~use_contrib | positive
        key = np.where(use_contrib, c, key)[keep]
        rows, cols, pct = rows[keep], cols[keep], pct[keep]
    order = np.lexsort((cols, -key, rows))
    rows, cols, pct = rows[order], cols[order], pct[order]
    # a feature that echoes another (tokens/day vs output tokens/day) is not cited twice
    echo = pd.DataFrame({"row": rows, "group": _echo_groups(model)[cols]}).duplicated()
    rows, cols, pct = rows[~echo.to_numpy()], cols[~echo.to_numpy()], pct[~echo.to_numpy()]
    starts = np.searchsorted(rows, rows, side="left")
    slots = np.arange(len(rows)) - starts
    keep = slots < n_reasons
    return rows[keep], slots[keep], cols[keep], pct[keep]


def _round_sig(x: np.ndarray, digits: int = 3) -> np.ndarray:
    """Round to ``digits`` significant digits (display precision; lets texts be cached)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(x == 0, 0.0, np.floor(np.log10(np.abs(x))))
    scale = 10.0 ** (digits - 1 - mag)
    out = np.round(x * scale) / scale
    return np.where(np.isfinite(out), out, x)


def _render(
    model: AnomalyModel,
    feature_idx: np.ndarray,
    value: np.ndarray,
    pct: np.ndarray,
    tiers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Value texts and sentences for (feature, value, percentile, peer tier) entries.

    The percentile is among the account's peers and the sentence says which ("99th
    percentile among accounts of 120–900 requests/day"). Vectorised by feature:
    values are rounded to display precision first, so each distinct (value,
    percentile, tier) text is formatted once per feature.
    """
    names = [str(n) for n in model.feature_names_in_]
    value_text = np.empty(len(feature_idx), dtype=object)
    sentence = np.empty(len(feature_idx), dtype=object)
    n_q = model.quantiles_.shape[0]
    n_t = model.peers_.n_tiers
    among = [f" among {model.peer_label(t)}" if n_t > 1 else "" for t in range(n_t)]
    width = 2 * n_q + 1
    for j in np.unique(feature_idx):
        spec = model.specs_[names[j]]
        at = np.flatnonzero(feature_idx == j)
        shown, inverse = np.unique(_round_sig(value[at]), return_inverse=True)
        texts = np.array([format_value(float(v), spec.unit) for v in shown], dtype=object)
        value_text[at] = texts[inverse]
        said = [format_value(float(v), spec.unit, in_sentence=True) for v in shown]
        rank2 = np.rint(pct[at] * n_q / 50.0).astype(np.int64)  # l + r, exact
        code = (inverse.astype(np.int64) * width + rank2) * n_t + tiers[at]
        pair, pair_inverse = np.unique(code, return_inverse=True)
        pair_text = np.array(
            [
                _sentence(
                    spec.reason,
                    spec.name,
                    said[c // n_t // width],
                    format_percentile(float(c // n_t % width) * 50.0 / n_q)
                    + (among[c % n_t] if model.peer_relative_[j] else ""),
                )
                for c in pair
            ],
            dtype=object,
        )
        sentence[at] = pair_text[pair_inverse]
    return value_text, sentence


def _sentence(template: str, name: str, value_text: str, pct_text: str) -> str:
    try:
        text = template.format(value=value_text, percentile=pct_text)
    except (KeyError, IndexError, ValueError):
        text = f"{name} is {value_text}"
    return text if "{percentile}" in template else f"{text} ({pct_text})"


def _long_frame(
    model: AnomalyModel,
    ids: np.ndarray,
    values: np.ndarray,
    contrib: np.ndarray | None,
    n_reasons: int,
) -> pd.DataFrame:
    rows, slots, feats, p = _choose(model, values, contrib, n_reasons)
    val = values[rows, feats]
    value_text, sentence = _render(model, feats, val, p, model.peer_tiers(values)[rows])
    names = np.asarray([str(n) for n in model.feature_names_in_], dtype=object)
    directions = np.asarray([model.specs_[str(n)].direction for n in names], dtype=object)
    return pd.DataFrame(
        {
            schema.ACCOUNT_ID: ids[rows],
            REASON_RANK: slots + 1,
            FEATURE: names[feats],
            VALUE: val,
            VALUE_TEXT: value_text,
            PERCENTILE: np.round(p, 2),
            DIRECTION: directions[feats],
            CONTRIBUTION: contrib[rows, feats] if contrib is not None else np.nan,
            SENTENCE: sentence,
        },
        columns=list(EXPLAIN_COLUMNS),
    )


def _select_rows(ids: np.ndarray, accounts: Iterable[str] | None) -> np.ndarray:
    if accounts is None:
        return np.arange(len(ids))
    wanted = [str(a) for a in accounts]
    position = pd.Index(ids).get_indexer(wanted)
    if (position < 0).any():
        unknown = [a for a, p in zip(wanted, position, strict=True) if p < 0]
        raise ValueError(
            f"{len(unknown)} account(s) not in the feature table: {', '.join(unknown[:5])}"
            + (" …" if len(unknown) > 5 else "")
        )
    return position


def explain_frame(
    model: AnomalyModel,
    features: pd.DataFrame,
    accounts: Iterable[str] | None = None,
    n_reasons: int = DEFAULT.n_reasons,
    *,
    method: Literal["forest", "percentile"] = "forest",
) -> pd.DataFrame:
    """Top reasons per account, one row per reason.

    Parameters
    ----------
    model : a fitted AnomalyModel.
    features : feature table with the model's features.
    accounts : accounts to explain (default: all rows of ``features``).
    n_reasons : maximum reasons per account.
    method : ``"forest"`` ranks citable features by forest attribution (see the module
        docstring); ``"percentile"`` by extremeness only (cheap, no contribution).

    Returns
    -------
    DataFrame with columns :data:`EXPLAIN_COLUMNS`, ordered by the requested accounts
    then ``rank_of_reason``. An account with no citable feature has no rows (its
    reason string is :data:`NO_REASON`).
    """
    if method not in ("forest", "percentile"):
        raise ValueError(f"method must be 'forest' or 'percentile', got {method!r}")
    ids, values = model._matrix(features)
    rows = _select_rows(ids, accounts)
    ids, values = ids[rows], values[rows]
    contrib = _contributions(model, values) if method == "forest" else None
    return _long_frame(model, ids, values, contrib, n_reasons)


def _join(n_rows: int, rows: np.ndarray, slots: np.ndarray, sentences: np.ndarray) -> np.ndarray:
    """Join each row's sentences (ordered by slot) with the separator; NO_REASON if none."""
    out = np.full(n_rows, "", dtype=object)
    for slot in np.unique(slots):
        at = slots == slot
        r = rows[at]
        if slot == 0:
            out[r] = sentences[at]
        else:
            out[r] = out[r] + schema.REASONS_SEPARATOR + sentences[at]
    out[out == ""] = NO_REASON
    return out


def _reason_strings_for_values(
    model: AnomalyModel,
    values: np.ndarray,
    *,
    forest_rows: np.ndarray,
    n_reasons: int,
) -> np.ndarray:
    """Reason strings for every row: forest attribution where ``forest_rows``."""
    n = len(values)
    out = np.empty(n, dtype=object)
    forest_rows = np.asarray(forest_rows, dtype=bool)
    for start in range(0, n, _REASON_CHUNK):
        stop = min(start + _REASON_CHUNK, n)
        block = values[start:stop]
        forest_idx = np.flatnonzero(forest_rows[start:stop])
        cheap_idx = np.flatnonzero(~forest_rows[start:stop])
        parts = []
        if len(forest_idx):
            sub = block[forest_idx]
            r, sl, c, p = _choose(model, sub, _contributions(model, sub), n_reasons)
            parts.append((forest_idx[r], sl, c, p))
        if len(cheap_idx):
            r, sl, c, p = _choose(model, block[cheap_idx], None, n_reasons)
            parts.append((cheap_idx[r], sl, c, p))
        rows, slots, cols, pct = (np.concatenate(x) for x in zip(*parts, strict=True))
        _, text = _render(model, cols, block[rows, cols], pct, model.peer_tiers(block)[rows])
        out[start:stop] = _join(stop - start, rows, slots, text)
    return out


def reasons_strings(
    model: AnomalyModel,
    features: pd.DataFrame,
    *,
    forest_accounts: Iterable[str] | None = None,
    n_reasons: int = DEFAULT.n_reasons,
) -> pd.Series:
    """One human-readable reason string per account, ``"; "``-separated.

    Parameters
    ----------
    model : a fitted AnomalyModel.
    features : feature table with the model's features.
    forest_accounts : accounts that get forest attribution; the others get the cheap
        percentile ranking. ``None`` attributes every account (35–50 s per million
        accounts with 300 trees; see the module docstring).
    n_reasons : maximum reasons per account.

    Returns
    -------
    Series indexed by ``account_id`` (the feature table's order) named ``reasons``;
    :data:`NO_REASON` where no feature is citable.
    """
    ids, values = model._matrix(features)
    if forest_accounts is None:
        forest_rows = np.ones(len(ids), dtype=bool)
    else:
        forest_rows = np.zeros(len(ids), dtype=bool)
        forest_rows[_select_rows(ids, forest_accounts)] = True
    text = _reason_strings_for_values(model, values, forest_rows=forest_rows, n_reasons=n_reasons)
    return pd.Series(text, index=pd.Index(ids, name=schema.ACCOUNT_ID), name=schema.REASONS)
