"""Scoring sub-streams: an account at the higher of its own score and its worst sub-stream's.

:mod:`detector.substreams` finds and builds the sub-streams (the traffic of one account
that shares a client, a system prompt or a request shape); this module scores them with
the accounts' fitted model (:func:`lift_scores`), picks each account's worst one
(:func:`worst_per_parent`, also what a verdict on the account teaches the learned layer)
and names it in the account's reasons (:func:`describe`), attacker text quoted inert.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from detector import annotate as A
from detector import schema as S
from detector.substreams import SUBSTREAM, SUBSTREAM_SHARE, SubStreams

__all__ = ["describe", "lift_scores", "worst_per_parent"]


# --- naming a sub-stream ------------------------------------------------------------------


def _quote(text: str) -> str:
    """Attacker text (a user agent) made inert inside a reason: in double quotes, with
    quotes, backslashes, the reason separator and anything unprintable escaped."""
    out = []
    for ch in text:
        if ch in '"\\;' or not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def describe(meta: pd.DataFrame) -> np.ndarray:
    """One phrase per sub-stream (``meta`` rows): what its requests share."""
    out = np.empty(len(meta), dtype=object)
    kinds = meta["kind"].to_numpy(dtype=object)
    ua = meta[A.UA_TEXT].fillna("").to_numpy(dtype=object)
    net = meta[A.NETWORK_TEXT].fillna("").to_numpy(dtype=object)
    sysp = meta[A.SYSTEM_TEXT].fillna("").to_numpy(dtype=object)
    for i in range(len(meta)):  # one per lifted account, not per request
        if kinds[i] == "client":
            who = _quote(ua[i]) if ua[i] else "a client without a user agent"
            where = net[i] if net[i] else "an unknown network"
            out[i] = f"requests from {who} on {_quote(where) if net[i] else where}"
        elif kinds[i] == "shape":
            cap, temp = meta[S.MAX_TOKENS].iloc[i], meta[S.TEMPERATURE].iloc[i]
            cap_text = "no max_tokens" if np.isnan(cap) else f"max_tokens {cap:g}"
            temp_text = "no temperature" if np.isnan(temp) else f"temperature {temp:g}"
            out[i] = f"requests with {cap_text} and {temp_text}"
        elif sysp[i]:
            out[i] = f"requests with system prompt {_quote(sysp[i])}"
        else:
            out[i] = "requests without a system prompt"
    return out


# --- scoring --------------------------------------------------------------------------------


def worst_per_parent(parents: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Positions of each parent account's highest-scoring sub-stream (ties: the first
    position; sub-stream ids are sorted), one per parent, ordered by parent: the stream
    :func:`lift_scores` lifts an account by, and the one its verdict is about
    (:func:`detector.learned_fit.rows_that_scored`)."""
    order = np.lexsort((np.arange(len(parents)), -scores, parents))
    first = np.ones(len(order), dtype=bool)
    first[1:] = parents[order][1:] != parents[order][:-1]
    return order[first]


def lift_scores(
    table: pd.DataFrame,
    subs: SubStreams,
    score_of: Callable[[pd.DataFrame], np.ndarray],
    reasons_of: Callable[[pd.DataFrame, np.ndarray], np.ndarray],
    *,
    cut_of: Callable[[np.ndarray], float],
    explain_top: int,
) -> pd.DataFrame:
    """The score table with every account at the higher of its own and its worst
    sub-stream's score.

    Parameters
    ----------
    table : the accounts' score table (:func:`detector.scored.score_frame`'s columns).
    subs : the sub-streams (features in the model's columns).
    score_of : the fitted model's unrounded 0-100 score of a feature frame.
    reasons_of : reason strings of a feature frame, forest attribution where the mask
        is true (:func:`detector.explain.reasons_strings` semantics).
    cut_of : the alert threshold for the new scores (threshold, budget or the model's).
    explain_top : accounts ranked this high get forest-attributed reasons.

    Returns
    -------
    The table re-ranked, flagged and banded on the new scores, with ``substream`` (the
    phrase naming the sub-stream that scored, "" when the account's own) and
    ``substream_share`` (its share of the account's requests, 0 when none).
    Accounts a sub-stream lifted lead their reasons with it.
    """
    from detector.ranking import SCORE_DECIMALS, band, forest_explained, rank_accounts

    out = table.copy()
    out[SUBSTREAM] = ""
    out[SUBSTREAM_SHARE] = 0.0
    if not len(subs) or not len(out):
        return out
    sub_scores = np.round(score_of(subs.features), SCORE_DECIMALS)
    parents = subs.meta[S.ACCOUNT_ID].to_numpy(dtype=object)
    worst = worst_per_parent(parents, sub_scores)
    best = pd.Series(sub_scores[worst], index=parents[worst])
    own = out[S.SCORE].to_numpy(dtype=float)
    theirs = best.reindex(out[S.ACCOUNT_ID].to_numpy(dtype=object)).to_numpy(dtype=float)
    lifted = np.nan_to_num(theirs, nan=-np.inf) > own
    if not lifted.any():
        return out
    pos = pd.Series(worst, index=parents[worst])
    win = pos.reindex(out.loc[lifted, S.ACCOUNT_ID].to_numpy(dtype=object)).to_numpy()
    scores = np.where(lifted, theirs, own)
    ids = out[S.ACCOUNT_ID].to_numpy(dtype=object)
    ranks = rank_accounts(scores, ids)
    cut = cut_of(scores)
    flagged = scores >= cut
    forest = forest_explained(flagged, ranks, explain_top)[lifted]
    meta = subs.meta.iloc[win]
    share = meta["share"].to_numpy(dtype=float)
    phrase = describe(meta)
    why = reasons_of(subs.features.iloc[win], forest)
    lead = [
        f"{p} \u2014 {s:.0%} of this account's traffic \u2014 {w}"
        for p, s, w in zip(phrase, share, why, strict=True)
    ]
    out[S.SCORE] = scores
    out[S.RANK] = ranks
    out[S.FLAGGED] = flagged
    if S.BAND in out.columns:
        out[S.BAND] = band(scores)
    out.loc[lifted, S.REASONS] = np.asarray(lead, dtype=object)
    out.loc[lifted, SUBSTREAM] = phrase
    out.loc[lifted, SUBSTREAM_SHARE] = share
    return out.sort_values(S.RANK, kind="stable").reset_index(drop=True)
