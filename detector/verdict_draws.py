"""Which labelled accounts become verdicts in the feedback protocol, and which are measured.

:func:`detector.feedback.feedback_evaluation` plays the analysts' part; this module
decides what they would have told it. Three ways:

* ``random``: a stratified random share of all labelled accounts (:func:`draw_verdicts`);
* ``time``: verdicts only from accounts *first seen* before a cut day, metrics only
  on accounts first seen on or after it (:func:`time_split`). That is what a deployment
  sees: verdicts are about yesterday's accounts, and the question is whether they help
  with today's. The cut is the first day by which at least half the labelled accounts
  have been seen. First-seen days come from the request log (:func:`first_seen_days`),
  since the feature table keeps no per-account timestamps.
* ``queue``: the labelled accounts the unsupervised score ranks highest
  (:func:`queue_verdicts`), which analysts confirm and clear first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.config import DEFAULT, Config

__all__ = [
    "MIN_SPLIT_SHARE",
    "draw_verdicts",
    "first_seen_days",
    "queue_verdicts",
    "time_split",
]

MIN_SPLIT_SHARE: Final = 0.5
"""The time split's cut: the first day by which this share of labelled accounts was seen."""


def draw_verdicts(labels: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A stratified random ``share`` of ``labels`` (per label, rounded, seeded).

    Each class contributes ``round(share · n_class)`` accounts (at least one when the
    share is positive and the class is present), drawn in ``account_id`` order with
    ``numpy.random.default_rng(seed)``, so the draw does not depend on row order.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"feedback share must be between 0 and 1, got {share}")
    table = labels.drop_duplicates(S.ACCOUNT_ID).sort_values(S.ACCOUNT_ID, kind="stable")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in S.LABELS:
        ids = table.loc[table[S.LABEL] == label, S.ACCOUNT_ID].to_numpy(dtype=object)
        n = min(len(ids), max(1, round(share * len(ids)))) if share > 0 and len(ids) else 0
        chosen.append(rng.choice(ids, n, replace=False) if n else ids[:0])
    picked = set(np.concatenate(chosen).tolist())
    return table[table[S.ACCOUNT_ID].isin(picked)].reset_index(drop=True)


def first_seen_days(
    log: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
) -> pd.Series:
    """Each account's first UTC day with a request in ``log`` (validated rows only).

    Streams the log (:func:`detector.ingest.iter_clean`) keeping one minimum per
    account, so memory is bounded by the number of accounts.
    """
    from detector.ingest import iter_clean

    firsts: list[pd.Series] = []
    for chunk in iter_clean(log, start=start, end=end, config=config):
        part = chunk.groupby(chunk[S.ACCOUNT_ID].astype(str), sort=False)[S.TIMESTAMP].min()
        firsts = [pd.concat([*firsts, part]).groupby(level=0).min()]
    if not firsts:
        return pd.Series(dtype=object, name="first_seen")
    return firsts[0].dt.tz_convert("UTC").dt.date.rename("first_seen")


def time_split(
    first_seen: pd.Series, labels: pd.DataFrame
) -> tuple[dt.date, set[str], set[str]] | str:
    """The cut day, accounts seen before it and accounts first seen on or after it.

    Returns a reason (str) instead when the labelled accounts were all first seen on
    one day, or one side of the cut would hold no extraction label.
    """
    seen = first_seen.reindex(labels[S.ACCOUNT_ID].astype(str)).dropna()
    days = np.sort(seen.unique())
    if len(days) < 2:
        return "the labelled accounts were all first seen on one day: no time split"
    counts = seen.value_counts().reindex(days).cumsum().to_numpy()
    cut_at = int(np.searchsorted(counts, MIN_SPLIT_SHARE * len(seen)))
    cut = days[min(cut_at + 1, len(days) - 1)]
    early = set(seen.index[(seen < cut).to_numpy()])
    late = set(seen.index[(seen >= cut).to_numpy()])
    extraction = set(labels.loc[labels[S.LABEL] == S.LABEL_EXTRACTION, S.ACCOUNT_ID].astype(str))
    if not (early & extraction) or not (late & extraction):
        side = "before" if not early & extraction else "on or after"
        return f"no extraction label among accounts first seen {side} {cut}: no time split"
    return cut, early, late


def queue_verdicts(labels: pd.DataFrame, scores: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` labelled accounts that ``scores`` (a score table with ``rank``) ranks
    highest: the verdicts analysts give first, working down their queue.

    A random draw of verdicts is mostly accounts the score already ranks right, which
    tell a learned layer little; analysts' verdicts confirm the top of the queue and
    clear its false positives (``detector evaluate --feedback-queue``). Labelled
    accounts the table does not rank come last; the result is in ``account_id`` order.
    """
    if n < 0:
        raise ValueError(f"a queue of verdicts needs n >= 0, got {n}")
    table = labels.drop_duplicates(S.ACCOUNT_ID)
    rank = scores.set_index(scores[S.ACCOUNT_ID].astype(str))[S.RANK]
    order = rank.reindex(table[S.ACCOUNT_ID].astype(str)).to_numpy(dtype=float)
    top = table.iloc[np.argsort(order, kind="stable")[:n]]
    return top.sort_values(S.ACCOUNT_ID, kind="stable").reset_index(drop=True)
