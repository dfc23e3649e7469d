"""The cluster table: each cluster's members, combined behaviour and what linked it.

One row per cluster for analysts (``detector clusters``, the report, case files): its
members and combined behaviour, the kinds of evidence its members share counted and
put in words (:func:`describe_evidence`), and how rare that evidence is in the
population (:func:`~detector.rarity.describe_rarity`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector import schema as S
from detector.rarity import KIND_WORDS, describe_rarity

__all__ = ["cluster_table", "describe_evidence"]


def cluster_table(
    tokens: pd.DataFrame,
    membership: pd.Series,
    out: pd.DataFrame,
    clustered: np.ndarray,
    cluster_of: np.ndarray,
    n: int,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """The cluster table and, per cluster, its count of distinct tokens per evidence kind.

    Parameters
    ----------
    tokens : the linking tokens (``account_id, kind, token``).
    membership : account_id → cluster_id ("" for unclustered accounts).
    out : the cluster features, aligned with ``membership``.
    clustered, cluster_of : per account, whether it is in a cluster, and which.
    n : the number of accounts in the population.
    """
    in_cluster = tokens.assign(cluster_id=membership.reindex(tokens[S.ACCOUNT_ID]).to_numpy())
    in_cluster = in_cluster[in_cluster["cluster_id"] != ""]
    kinds = (
        in_cluster.groupby(["cluster_id", "kind"])["token"].nunique().unstack(fill_value=0)
        if len(in_cluster)
        else pd.DataFrame()
    )
    summary = out[clustered].assign(cluster_id=cluster_of[clustered])
    ctable = summary.groupby("cluster_id").agg(
        members=("cluster_size", "size"),
        requests_per_day=("cluster_requests_per_day", "first"),
        template_share=("cluster_template_share", "first"),
        synchrony=("cluster_synchrony", "first"),
        activation_spread_hours=("cluster_activation_spread_hours", "first"),
    )
    evidence_kinds = (
        {cid: {k: int(v) for k, v in row.items() if v} for cid, row in kinds.iterrows()}
        if len(kinds)
        else {}
    )
    ctable["evidence"] = [describe_evidence(evidence_kinds.get(cid, {})) for cid in ctable.index]
    holders = tokens.groupby(["kind", "token"])[S.ACCOUNT_ID].nunique()
    rarity = describe_rarity(in_cluster, holders, n)
    ctable["evidence_rarity"] = [rarity.get(cid, "") for cid in ctable.index]
    return ctable, evidence_kinds


def describe_evidence(kinds: dict[str, int]) -> str:
    """What linked a cluster in words, e.g. 'share a payment card and a prompt template,
    and were created together' (no ';': reasons are ';'-separated)."""
    present = {k for key, v in kinds.items() if v for k in key.split("+")}
    shared = [
        KIND_WORDS[k] for k in ("payment", "org", "template", "network", "client") if k in present
    ]
    timing = [
        w
        for k, w in (
            ("created", "were created together"),
            ("activation", "started together"),
            ("adoption", "switched to the newest model together"),
            ("synchrony", "keep one schedule"),
        )
        if k in present
    ]
    parts = []
    if shared:
        parts.append("share " + _and(shared))
    parts.extend(timing)
    return _and(parts) if parts else "are linked"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
