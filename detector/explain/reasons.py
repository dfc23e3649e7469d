"""Reasons: which citable features to name for an account, and the words for them.

Each reason names one feature, its value in human units, the account's percentile
among its peers, and -- for the accounts that matter most -- how much that feature's
splits shortened the account's isolation paths in the forest
(:mod:`detector.explain.attribution`). Features are chosen among the citable ones
(:mod:`detector.explain.eligibility`): by attribution when there is one, else by how
extreme they are, and a feature that echoes another is not cited twice.

Two shapes come out: one row per reason (:func:`explain_frame`, what ``detector
explain`` and the report show) and one ``"; "``-joined string per account
(:func:`reasons_strings`, the ``reasons`` column of the score table). The words are
:mod:`detector.explain.render`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import pandas as pd

from detector import schema
from detector.config import DEFAULT
from detector.explain import render
from detector.explain.attribution import contributions
from detector.explain.eligibility import candidates, feature_meta
from detector.explain.templates import join_slots

if TYPE_CHECKING:
    from detector.model import AnomalyModel

__all__ = [
    "CONTRIBUTION",
    "DEFAULT_EXPLAIN_TOP",
    "DIRECTION",
    "EXPLAIN_COLUMNS",
    "FEATURE",
    "NO_REASON",
    "PERCENTILE",
    "REASON_RANK",
    "SENTENCE",
    "VALUE",
    "VALUE_TEXT",
    "explain_frame",
    "reason_strings_for_values",
    "reasons_strings",
]

DEFAULT_EXPLAIN_TOP: Final = 1000
"""Top-ranked accounts that get forest attribution in ``score_frame`` (plus flagged)."""
NO_REASON: Final = "nothing unusual: no feature is past the 90th percentile on its suspicious side"
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
    rows, cols, pct, extreme = candidates(model, values, tiers)
    vals = values[rows, cols]
    meta = feature_meta(model)
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
    order = _row_key_col_order(rows, key, cols, len(model.feature_names_in_))
    rows, cols, pct = rows[order], cols[order], pct[order]
    # a feature that echoes another (tokens/day vs output tokens/day) is not cited twice
    # (one integer per (row, group) pair: hashing one column is cheaper than two)
    pair = rows.astype(np.int64) * len(model.feature_names_in_) + _echo_groups(model)[cols]
    first = ~pd.Series(pair).duplicated().to_numpy()
    rows, cols, pct = rows[first], cols[first], pct[first]
    starts = np.searchsorted(rows, rows, side="left")
    slots = np.arange(len(rows)) - starts
    keep = slots < n_reasons
    return rows[keep], slots[keep], cols[keep], pct[keep]


def _row_key_col_order(
    rows: np.ndarray, key: np.ndarray, cols: np.ndarray, n_cols: int
) -> np.ndarray:
    """``np.lexsort((cols, -key, rows))``: by row, then ``key`` descending, then column.

    Sorted as one integer (row, dense rank of ``-key``, column) when it fits in 63
    bits, several times faster than a three-key lexsort on a million entries; the
    (row, column) pairs are distinct, so the order is the same.
    """
    if len(rows) == 0:
        return np.empty(0, dtype=np.intp)
    _, rank = np.unique(-key, return_inverse=True)
    n_ranks = int(rank.max()) + 1
    if (int(rows.max()) + 1) * n_ranks * max(n_cols, 1) >= 2**63:
        return np.lexsort((cols, -key, rows))
    composite = (rows.astype(np.int64) * n_ranks + rank) * n_cols + cols
    return np.argsort(composite, kind="stable")


def _long_frame(
    model: AnomalyModel,
    ids: np.ndarray,
    values: np.ndarray,
    contrib: np.ndarray | None,
    n_reasons: int,
) -> pd.DataFrame:
    rows, slots, feats, p = _choose(model, values, contrib, n_reasons)
    val = values[rows, feats]
    value_text = render.value_texts(model, feats, val)
    sentence = render.sentences(model, feats, val, p, model.peer_tiers(values)[rows])
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
    method : ``"forest"`` ranks citable features by forest attribution (see
        :mod:`detector.explain.attribution`); ``"percentile"`` by extremeness only
        (cheap, no contribution).

    Returns
    -------
    DataFrame with columns :data:`EXPLAIN_COLUMNS`, ordered by the requested accounts
    then ``rank_of_reason``. An account with no citable feature has no rows (its
    reason string is :data:`NO_REASON`).
    """
    if method not in ("forest", "percentile"):
        raise ValueError(f"method must be 'forest' or 'percentile', got {method!r}")
    ids, values = model.feature_values(features)
    rows = _select_rows(ids, accounts)
    ids, values = ids[rows], values[rows]
    contrib = contributions(model, values) if method == "forest" else None
    return _long_frame(model, ids, values, contrib, n_reasons)


def _join(n_rows: int, rows: np.ndarray, slots: np.ndarray, sentences: np.ndarray) -> np.ndarray:
    """Join each row's sentences (ordered by slot) with the separator; NO_REASON if none."""
    out = join_slots(n_rows, rows, slots, sentences, schema.REASONS_SEPARATOR)
    out[out == ""] = NO_REASON
    return out


def reason_strings_for_values(
    model: AnomalyModel,
    values: np.ndarray,
    *,
    forest_rows: np.ndarray,
    n_reasons: int,
) -> np.ndarray:
    """Reason strings for every row: forest attribution where ``forest_rows``.

    ``values`` are raw feature values in the model's column order (as
    :meth:`AnomalyModel.feature_values` returns them); rows without a citable feature get
    :data:`NO_REASON`. This is :func:`reasons_strings` for callers that already hold
    the matrix (the model's ``score_frame``, the Spark engine).
    """
    n = len(values)
    out = np.empty(n, dtype=object)
    forest_rows = np.asarray(forest_rows, dtype=bool)

    def run(start: int) -> None:
        stop = min(start + _REASON_CHUNK, n)
        out[start:stop] = _chunk_strings(
            model, values[start:stop], forest_rows[start:stop], n_reasons
        )

    # chunks are independent (each row's reasons depend on that row alone), so the
    # threads change no string; sorting, searching and tree walks release the GIL
    with ThreadPoolExecutor(max_workers=DEFAULT.workers) as pool:
        list(pool.map(run, range(0, n, _REASON_CHUNK)))
    return out


def _chunk_strings(
    model: AnomalyModel, block: np.ndarray, forest_rows: np.ndarray, n_reasons: int
) -> np.ndarray:
    """Reason strings of one chunk of rows (see :func:`reason_strings_for_values`)."""
    forest_idx = np.flatnonzero(forest_rows)
    cheap_idx = np.flatnonzero(~forest_rows)
    parts = []
    if len(forest_idx):
        sub = block[forest_idx]
        r, sl, c, p = _choose(model, sub, contributions(model, sub), n_reasons)
        parts.append((forest_idx[r], sl, c, p))
    if len(cheap_idx):
        r, sl, c, p = _choose(model, block[cheap_idx], None, n_reasons)
        parts.append((cheap_idx[r], sl, c, p))
    rows, slots, cols, pct = (np.concatenate(x) for x in zip(*parts, strict=True))
    text = render.sentences(model, cols, block[rows, cols], pct, model.peer_tiers(block)[rows])
    return _join(len(block), rows, slots, text)


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
        accounts with 300 trees; see :mod:`detector.explain.attribution`).
    n_reasons : maximum reasons per account.

    Returns
    -------
    Series indexed by ``account_id`` (the feature table's order) named ``reasons``;
    :data:`NO_REASON` where no feature is citable.
    """
    ids, values = model.feature_values(features)
    if forest_accounts is None:
        forest_rows = np.ones(len(ids), dtype=bool)
    else:
        forest_rows = np.zeros(len(ids), dtype=bool)
        forest_rows[_select_rows(ids, forest_accounts)] = True
    text = reason_strings_for_values(model, values, forest_rows=forest_rows, n_reasons=n_reasons)
    return pd.Series(text, index=pd.Index(ids, name=schema.ACCOUNT_ID), name=schema.REASONS)
