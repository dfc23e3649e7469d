"""Cases: the unit of alerting is a campaign, not an account.

Extraction runs as campaigns: one operator spreads a job over many light accounts, and
alerting them one account at a time spends the alert budget on the first few members
while the rest never surface. A **case** is a coordination cluster (see
:mod:`detector.coordination`), or a single unlinked account.

* **Case score** -- the higher of the median member score and the score a *quorum* of
  its members reach on their own: a quarter of them, and at least three
  (:data:`CASE_QUORUM_SHARE`, :data:`CASE_QUORUM_MIN`). Every member of a cluster
  carries the cluster's features (size, combined volume, shared templates, synchrony),
  so the members of a campaign score alike; a benign cohort of 25 classroom accounts
  has a random high scorer among them by chance, and a maximum would flag the whole
  class for it (it did: 33% of cohorts at 6,000 accounts). But a campaign does not
  spread its job evenly: the accounts that carry most of it show its behaviour most
  clearly, and lightly used members drag the median down -- so would idle accounts an
  operator links in on purpose, to hide the job under them. With the quorum, a
  campaign of 30 is judged by its 8th-highest member, and hiding it takes three
  dilution accounts for each one a median needs; a chance high scorer, or two, lifts
  nobody, and a pair linked by chance keeps its median. Measured in session 36 on ten
  populations: two template-and-timing campaigns of 30 accounts whose median stood 0.7
  and 0.9 points under the line crossed it (38 extraction accounts flagged), one benign
  account (a member of one of them) with them, and no benign case.
* **Flags** -- a case is flagged whole when its score reaches the threshold; an account
  whose own score reaches it is flagged too (being linked never hides a loud account).
  An alert budget counts *cases* by their case score: ``--alert-budget 2%`` flags at
  most 2% of the cases whole, so a 300-account hydra costs one slot, not 300 (a loud
  member of an unflagged cluster is flagged on its own score besides).
* **A member's score** is the higher of its own and its case's, as an account's is the
  higher of its own and its worst sub-stream's (:mod:`detector.substreams`): ``flagged``
  is then exactly "score at or over the threshold", as the contract says, and a campaign
  whose light members each score under the edge of the top k ranks together, at its
  case score (a 24-account hydra linked only by templates and timing, found whole,
  went from 71% to 100% within the top k on an unseen realistic population; PR-AUC
  +0.004 there, within ±0.0003 on five others; docs/realistic-baseline.md, session 20).
* **Bands agree with the decision** (relative to the threshold ``t``, on the higher of
  the account's and its case's score): ``critical`` -- flagged and at least halfway
  from ``t`` to 100; ``high`` -- flagged, or within :data:`HIGH_MARGIN` points under
  ``t``; ``medium`` -- within :data:`MEDIUM_MARGIN` points under ``t``; ``low``
  otherwise. A flagged case is never
  below ``high`` and an unflagged one is never ``critical``.
* **The cluster in the score table** -- :func:`attach_clusters` fills ``cluster_id``, and
  :func:`lead_with_cluster` leads a flagged member's reasons with what links its cluster
  (for clusters that lent their members a score).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.config import DEFAULT
from detector.ranking import (
    SCORE_DECIMALS,
    default_threshold,
    rank_accounts,
    threshold_for_budget,
)

__all__ = [
    "CASE_QUORUM_MIN",
    "CASE_QUORUM_SHARE",
    "CLUSTER_REASON_MIN_SIZE",
    "HIGH_MARGIN",
    "MEDIUM_MARGIN",
    "SINGLE_PREFIX",
    "assign_cases",
    "attach_clusters",
    "case_band",
    "case_score_by",
    "case_scores",
    "case_threshold",
    "lead_with_cluster",
    "member_case_scores",
]

SINGLE_PREFIX: Final = "acct:"
"""A case of one unlinked account is named ``acct:<account_id>``."""
HIGH_MARGIN: Final = 10.0
"""Unflagged cases this close under the threshold are ``high``."""
MEDIUM_MARGIN: Final = 25.0
"""Unflagged cases this close under the threshold are ``medium``."""
CASE_QUORUM_SHARE: Final = 0.25
"""Share of a case's members whose own score its case score reaches, when that is above
the median (see the module's docs)."""
CASE_QUORUM_MIN: Final = 3
"""...and never fewer members than this: a pair's or a trio's case score is its median."""


def case_band(case_score: np.ndarray, flagged: np.ndarray, threshold: float) -> np.ndarray:
    """Band of each case from its score, its flag and the threshold (see module docs)."""
    s = np.asarray(case_score, dtype=float)
    f = np.asarray(flagged, dtype=bool)
    t = threshold if math.isfinite(threshold) else 100.0
    out = np.full(len(s), "low", dtype=object)
    out[s >= t - MEDIUM_MARGIN] = "medium"
    out[(s >= t - HIGH_MARGIN) | f] = "high"
    out[f & (s >= t + (100.0 - t) / 2.0)] = "critical"
    return out


def case_threshold(
    scores: np.ndarray,
    cluster_ids: np.ndarray,
    budget: str | int | None,
    *,
    spreads: float = DEFAULT.alert_spreads,
    ceiling: str | int = DEFAULT.alert_ceiling,
) -> float:
    """The threshold a model fixes on its training population, counted in *cases*.

    ``scores`` are the accounts' published scores and ``cluster_ids`` their clusters
    (empty when unlinked, so each such account is a case of its own). Each case counts
    once, at its case score (:func:`member_case_scores`), so a 300-account campaign takes
    one slot of a budget instead of 300. With ``budget`` None the threshold sits
    ``spreads`` bulk spreads above the accounts' median, flagging at most ``ceiling`` of
    the cases (:func:`detector.ranking.default_threshold`). Training fixes the model's
    threshold this way (:func:`detector.scoring.train`); an explicit ``--alert-budget``
    at scoring counts cases too (:func:`assign_cases`).
    """
    return default_threshold(
        case_scores(scores, cluster_ids),
        budget=budget,
        spreads=spreads,
        ceiling=ceiling,
        bulk=scores,
    )


def case_scores(scores: np.ndarray, cluster_ids: np.ndarray) -> np.ndarray:
    """One score per case (:func:`member_case_scores`; an unlinked account, empty
    cluster id, is a case of its own)."""
    cluster = pd.Series(np.asarray(cluster_ids, dtype=object)).fillna("").astype(str)
    singles = cluster == ""
    case_id = cluster.where(~singles, pd.Series(np.arange(len(cluster)).astype(str)) + "\x00")
    per_row = member_case_scores(np.asarray(scores, dtype=float), case_id.to_numpy())
    return pd.Series(per_row).groupby(case_id.to_numpy()).first().to_numpy()


def member_case_scores(scores: np.ndarray, case_id: np.ndarray) -> np.ndarray:
    """Per row, its case's score: the higher of the median of the case's ``scores`` and
    the score its quorum reaches (the ``q``-th highest, ``q`` = max(
    :data:`CASE_QUORUM_MIN`, ⌈:data:`CASE_QUORUM_SHARE` × members⌉), when the case has
    that many members). A missing score (NaN: a member the run did not score) counts as
    no member. One sort of the clustered rows, no loop over cases."""
    scores = np.asarray(scores, dtype=float)
    codes, uniques = pd.factorize(np.asarray(case_id, dtype=object))
    present = ~np.isnan(scores)
    size = np.bincount(codes[present], minlength=len(uniques))[codes]
    median = pd.Series(scores).groupby(codes).transform("median").to_numpy()
    quorum = np.maximum(CASE_QUORUM_MIN, np.ceil(CASE_QUORUM_SHARE * size)).astype(np.int64)
    rows = np.flatnonzero(present & (size >= quorum))  # cases with a quorum (not singles)
    order = rows[np.lexsort((-scores[rows], codes[rows]))]  # by case, highest first
    case_of = codes[order]
    starts = np.flatnonzero(np.r_[True, case_of[1:] != case_of[:-1]])
    place = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)])) + 1
    hit = order[place == quorum[order]]
    reached = np.full(len(uniques), np.nan)  # NaN: too few members for a quorum
    reached[codes[hit]] = scores[hit]
    return np.fmax(median, reached[codes])


def case_score_by(key: np.ndarray, score: np.ndarray, case_score: np.ndarray) -> pd.Series:
    """The case score of one case's member rows, per ``key`` (a run date, a case id).

    ``case_score`` is what each member row stored (the store keeps it per run); the
    median of the stored values is the case's score in that group (a member that moved
    in from another case is outvoted). A group that stored none (score tables from before
    cases) gets :func:`member_case_scores` of its members' ``score``, so the queue's trend
    and every timeline speak of the score the case was flagged on, never of a plain median
    member, which the quorum can leave far under it. Indexed by ``key``; NaN where the
    group has no score at all."""
    key = np.asarray(key, dtype=object)
    score = np.asarray(score, dtype=float)
    stored = pd.Series(np.asarray(case_score, dtype=float)).groupby(key, sort=True).median()
    derived = pd.Series(member_case_scores(score, key)).groupby(key, sort=True).first()
    return stored.fillna(derived)


def assign_cases(
    table: pd.DataFrame,
    *,
    threshold: float,
    budget: str | int | None = None,
    riders: Collection[str] = frozenset(),
) -> tuple[pd.DataFrame, float]:
    """Group scored accounts into cases, flag whole cases, and band them.

    Parameters
    ----------
    table : score table with ``account_id``, ``score`` and ``cluster_id`` (empty when
        unlinked).
    threshold : the alert threshold on the 0–100 score (used when ``budget`` is None).
    budget : alert budget in *cases* (``"2%"`` of the cases, or a count); overrides
        ``threshold``.
    riders : clustered accounts that are cases of their own
        (:attr:`~detector.coordination.Clusters.riders`: they do not behave like their
        cluster, so its case score neither counts them nor lifts them).

    Returns
    -------
    The table with ``case_id``, ``case_score``, ``flagged`` and ``band`` set, ``score``
    raised to the case score where that is higher (and ``rank`` redone when the table
    has one; row order kept), and the threshold applied.
    """
    out = table.copy()
    cluster = out[S.CLUSTER_ID].fillna("").astype(str)
    alone = (cluster == "") | out[S.ACCOUNT_ID].isin(riders)
    case_id = cluster.where(~alone, SINGLE_PREFIX + out[S.ACCOUNT_ID].astype(str))
    score = out[S.SCORE].to_numpy(dtype=float)
    # decided on the published (rounded) value: the median of two scores can carry a third
    # decimal, and a case shown at the threshold must be flagged whole
    case_score = np.round(member_case_scores(score, case_id.to_numpy()), SCORE_DECIMALS)
    if budget is not None:
        per_case = pd.Series(case_score).groupby(case_id.to_numpy()).first()
        threshold = threshold_for_budget(per_case.to_numpy(), budget)
    # a member stands at least at its case's score, so rank and flag tell one story
    lifted = np.maximum(score, case_score)
    flagged = lifted >= threshold
    out[S.CASE_ID] = case_id.to_numpy()
    out[S.CASE_SCORE] = case_score
    out[S.SCORE] = lifted
    out[S.FLAGGED] = flagged
    out[S.BAND] = case_band(lifted, flagged, threshold)
    if S.RANK in out.columns:
        out[S.RANK] = rank_accounts(lifted, out[S.ACCOUNT_ID].to_numpy(dtype=object))
    return out, float(threshold)


CLUSTER_REASON_MIN_SIZE: Final = 3
"""A flagged member of a cluster this large leads its reasons with what links it."""


def attach_clusters(table: pd.DataFrame, membership: pd.Series | None) -> pd.DataFrame:
    """Fill ``cluster_id`` from the coordination stage's ``membership`` (account id →
    cluster id; "" for the unlinked), in place; unchanged without one."""
    if membership is not None:
        cid = membership.reindex(table[S.ACCOUNT_ID]).fillna("")
        table[S.CLUSTER_ID] = cid.to_numpy(dtype=object)
    return table


def lead_with_cluster(table: pd.DataFrame, clusters: pd.DataFrame | None) -> pd.DataFrame:
    """Lead a clustered, flagged account's reasons with what links its cluster, in place.

    ``clusters`` is the cluster table (``members``, ``evidence`` and, when the clusters
    were scored on behaviour, ``scored_as_cluster``). A quiet cluster's members are led
    with it only when they stand at its case score (:func:`assign_cases` raised them
    to it, or they are its median member): otherwise the link lent them no score
    (:mod:`detector.quiet_clusters`) and their ``cluster_id`` still names it. A rider
    (a member cased alone, :func:`assign_cases`) is never led with its cluster.
    """
    if clusters is None or clusters.empty:
        return table
    cid = table[S.CLUSTER_ID].to_numpy(dtype=object)
    members = clusters["members"].reindex(cid).to_numpy()
    evidence = clusters["evidence"].reindex(cid).fillna("").to_numpy(dtype=object)
    lead = table[S.FLAGGED].to_numpy() & (np.nan_to_num(members) >= CLUSTER_REASON_MIN_SIZE)
    if S.SCORED_AS_CLUSTER in clusters.columns:
        lent = clusters[S.SCORED_AS_CLUSTER].astype(bool).reindex(cid, fill_value=True).to_numpy()
        if S.CASE_SCORE in table.columns:  # flagged at the case score: the case says why
            lent |= table[S.SCORE].to_numpy(dtype=float) <= table[S.CASE_SCORE].to_numpy(
                dtype=float
            )
        lead &= lent
    if S.CASE_ID in table.columns:  # a rider is a case of its own: the link lent it nothing
        lead &= ~table[S.CASE_ID].astype(str).str.startswith(SINGLE_PREFIX).to_numpy()
    if lead.any():
        sentences = pd.Series(
            [
                f"one of {int(m)} linked accounts in cluster {c} that {e}"
                for m, c, e in zip(members[lead], cid[lead], evidence[lead], strict=True)
            ],
            dtype=object,
        )
        # vectorised join with the existing reasons (one string op per flagged row set)
        reasons = table.loc[lead, S.REASONS].astype(str).to_numpy()
        table.loc[lead, S.REASONS] = (
            sentences + S.REASONS_SEPARATOR + pd.Series(reasons)
        ).to_numpy()
    return table
