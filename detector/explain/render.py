"""Reasons in words: the sentence and the value text of many chosen reasons at once.

A reason is one (feature, value, percentile, peer tier) entry; its sentence depends on
the value only through its display precision (three significant digits). A million
accounts have about three million reasons but only a few hundred thousand distinct
sentences, so each entry is turned into one integer naming its (feature, shown value,
percentile, tier) -- hashed, not sorted -- every *distinct* sentence is formatted once,
and the sentences are gathered back to the entries. The strings are those of filling
each entry's template one by one (:func:`~detector.explain.templates.reason_sentence`,
or the same text by concatenation for a plain template).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from detector.explain.formatting import format_percentile, format_value
from detector.explain.templates import fill, reason_sentence, template_pieces

if TYPE_CHECKING:
    from detector.model import AnomalyModel

__all__ = ["round_sig", "sentences", "value_texts"]


def round_sig(x: np.ndarray, digits: int = 3) -> np.ndarray:
    """Round to ``digits`` significant digits (display precision; lets texts be shared)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(x == 0, 0.0, np.floor(np.log10(np.abs(x))))
    scale = 10.0 ** (digits - 1 - mag)
    out = np.round(x * scale) / scale
    return np.where(np.isfinite(out), out, x)


def _shown(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each entry's index among the distinct shown (rounded) values, and those values."""
    index, shown = pd.factorize(round_sig(value), use_na_sentinel=False)
    return index.astype(np.int64), np.asarray(shown, dtype=np.float64)


def _by_feature(features: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(feature, positions)`` of each distinct feature in ``features``."""
    if not len(features):
        return []
    order = np.argsort(features, kind="stable")
    starts = np.flatnonzero(np.diff(features[order], prepend=-1))
    ends = np.append(starts[1:], len(order))
    return [(int(features[order[s]]), order[s:e]) for s, e in zip(starts, ends, strict=True)]


def value_texts(model: AnomalyModel, feature_idx: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Each entry's value in its feature's unit (``value_text``), one format per distinct one."""
    names = [str(n) for n in model.feature_names_in_]
    index, shown = _shown(value)
    inverse, distinct = pd.factorize(feature_idx.astype(np.int64) * max(len(shown), 1) + index)
    feature, at_shown = np.divmod(distinct, max(len(shown), 1))
    texts = np.empty(len(distinct), dtype=object)
    for j, at in _by_feature(feature):
        unit = model.specs_[names[j]].unit
        texts[at] = [format_value(float(v), unit) for v in shown[at_shown[at]]]
    return texts[inverse]


def sentences(
    model: AnomalyModel,
    feature_idx: np.ndarray,
    value: np.ndarray,
    pct: np.ndarray,
    tiers: np.ndarray,
) -> np.ndarray:
    """The reason sentence of each (feature, value, percentile, peer tier) entry.

    The percentile is among the account's peers and the sentence says which ("99th
    percentile among accounts of 120–900 requests/day"). Percentiles are multiples of
    ``50 / N_QUANTILES`` (mid-ranks), so ``l + r`` identifies one exactly.
    """
    names = [str(n) for n in model.feature_names_in_]
    n_q = model.quantiles_.shape[0]
    n_t = model.peers_.n_tiers
    among = [f" among {model.peer_label(t)}" if n_t > 1 else "" for t in range(n_t)]
    width = 2 * n_q + 1
    index, shown = _shown(value)
    n_shown = max(len(shown), 1)
    rank2 = np.rint(pct * n_q / 50.0).astype(np.int64)  # l + r, exact
    # feature, shown value, l + r and tier as one integer: below 2**63 for any table
    # of fewer than 2**31 entries (features x entries x width x tiers)
    code = ((feature_idx.astype(np.int64) * n_shown + index) * width + rank2) * n_t + tiers
    inverse, distinct = pd.factorize(code)
    rest, tier = np.divmod(distinct, n_t)
    rest, rank = np.divmod(rest, width)
    feature, at_shown = np.divmod(rest, n_shown)
    texts = np.empty(len(distinct), dtype=object)
    for j, at in _by_feature(feature):
        spec = model.specs_[names[j]]
        # the feature's distinct shown values and percentile texts, each worded once
        values, value_at = np.unique(at_shown[at], return_inverse=True)
        said = np.array(
            [format_value(float(v), spec.unit, in_sentence=True) for v in shown[values]],
            dtype=object,
        )[value_at]
        places, place_at = np.unique(rank[at] * n_t + tier[at], return_inverse=True)
        suffix = bool(model.peer_relative_[j])
        pct_texts = np.array(
            [
                format_percentile(float(c // n_t) * 50.0 / n_q) + (among[c % n_t] if suffix else "")
                for c in places.tolist()
            ],
            dtype=object,
        )[place_at]
        pieces = template_pieces(spec.reason)
        if pieces is not None:  # a plain template: concatenated, not formatted
            texts[at] = fill(pieces, {"value": said, "percentile": pct_texts}, len(at))
        else:
            texts[at] = [
                reason_sentence(spec.reason, spec.name, v, p)
                for v, p in zip(said.tolist(), pct_texts.tolist(), strict=True)
            ]
    return texts[inverse]
