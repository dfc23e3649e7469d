"""Linking accounts into clusters: tokens shared become edges, components become clusters.

Tokens shared by more than ``max_token_accounts`` accounts are dropped as
non-specific. Accounts sharing a token are joined to the token's first account
(a star, not a clique), and clusters are the connected components: the work is
linear in the number of tokens — no all-pairs comparison. A cluster that is exactly
one declared organisation is one customer, not a campaign: it gets no cluster id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from detector import schema as S
from detector.coordination.describe import cluster_table
from detector.coordination.schedules import synchronised_templates
from detector.coordination.tokens import evidence_tokens
from detector.features import switch_times
from detector.features.base import Context
from detector.features.coordination import cluster_features, neutralise, window_length_hours

__all__ = ["Clusters", "cluster_id_for", "cluster_names", "link_accounts", "token_components"]


@dataclass
class Clusters:
    """Clusters found among accounts, and each member's cluster features.

    ``membership`` maps account_id → cluster_id for clustered accounts only;
    ``table`` has one row per cluster (members, evidence counts, combined behaviour).
    ``riders`` are the members scored and cased as unlinked accounts because they do not
    behave like their cluster (set by :func:`detector.quiet_clusters.unlink_quiet_clusters`).
    ``links`` are the linking tokens clustered accounts hold (``account_id, token``, one
    row per account and token): which members share evidence directly, so that the
    riders who share it among themselves can be judged as a group.
    """

    features: pd.DataFrame
    membership: pd.Series
    table: pd.DataFrame
    evidence_kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    riders: frozenset[str] = frozenset()
    links: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({S.ACCOUNT_ID: [], "token": []})
    )


def cluster_id_for(members_min_id: str) -> str:
    """A stable cluster id derived from the cluster's smallest member id."""
    return "c-" + hashlib.sha256(members_min_id.encode("utf-8")).hexdigest()[:10]


def link_accounts(
    parts: list[dict[str, Any]],
    *,
    accounts: pd.DataFrame | None,
    context: Context,
    features: pd.DataFrame,
    max_token_accounts: int | None = None,
) -> Clusters:
    """Link accounts into clusters and compute every member's cluster features.

    Parameters
    ----------
    parts : the outputs of :func:`~detector.coordination.evidence.bucket_evidence`, one
        per bucket.
    features : the per-account feature table (its index is the account universe).
    """
    index = features.index
    n = len(index)
    pos = pd.Series(np.arange(n), index=index)
    evidence = (
        pd.concat([p["evidence"] for p in parts], ignore_index=True) if parts else pd.DataFrame()
    )
    ids = np.concatenate([p["accounts"] for p in parts]) if parts else np.empty(0, dtype=object)
    first_ts = pd.Series(
        np.concatenate([p["first_ts"] for p in parts]) if parts else [], index=ids, dtype="int64"
    ).reindex(index)
    requests = (
        pd.Series(
            np.concatenate([p["requests"] for p in parts]) if parts else [],
            index=ids,
            dtype="float64",
        )
        .reindex(index)
        .fillna(0.0)
    )
    table = accounts.reindex(index) if accounts is not None else None
    cap = max_token_accounts or max(1000, int(0.02 * n))
    switched = switch_times(features, context)
    tokens = evidence_tokens(evidence, table, first_ts, context.window_start, switched)
    sizes = tokens.groupby("token")[S.ACCOUNT_ID].transform("size")
    # a token shared by too many accounts is not specific -- except a template whose
    # users keep one schedule: that test is specific however many accounts share it,
    # and a campaign of 25,000 accounts is exactly what must not fall under a cap
    tokens = pd.concat(
        [
            tokens[(sizes >= 2) & (sizes <= cap)],
            synchronised_templates(evidence, parts, index, context),
        ],
        ignore_index=True,
    )
    n_comp, label = token_components(tokens, pos)
    comp_size = np.bincount(label, minlength=n_comp)
    size = comp_size[label].astype(np.float64)
    clustered = size >= 2

    cluster_of = cluster_names(index, label, n_comp, clustered)

    feats = cluster_features(
        label=label,
        n_comp=n_comp,
        comp_size=comp_size,
        size=size,
        clustered=clustered,
        requests=requests,
        evidence=evidence,
        pos=pos,
        index=index,
        parts=parts,
        context=context,
        first_ts=first_ts,
        table=table,
    )
    declared = _declared_org(table, label, n_comp, clustered)
    out = pd.DataFrame(feats, index=index)
    neutralise(out, declared, window_length_hours(context))
    # a declared organisation is one customer, not a campaign: no cluster, no case
    cluster_of = np.where(declared, "", cluster_of)
    clustered = clustered & ~declared
    membership = pd.Series(cluster_of, index=index, name=S.CLUSTER_ID)

    ctable, evidence_kinds = cluster_table(tokens, membership, out, clustered, cluster_of, n)
    held = tokens[S.ACCOUNT_ID].isin(membership.index[clustered])
    links = tokens.loc[held, [S.ACCOUNT_ID, "token"]].drop_duplicates().reset_index(drop=True)
    return Clusters(out, membership, ctable, evidence_kinds, links=links)


def token_components(tokens: pd.DataFrame, pos: pd.Series) -> tuple[int, np.ndarray]:
    """The connected components of the accounts ``pos`` numbers (account id → 0..n-1)
    joined by the ``tokens`` they share (``account_id, token``): the number of components
    and each account's label. A token joins its holders to its first holder (a star, not
    a clique), so the work is linear in the number of tokens."""
    n = len(pos)
    member = pos.reindex(tokens[S.ACCOUNT_ID]).to_numpy()
    hub = pos.reindex(tokens.groupby("token")[S.ACCOUNT_ID].transform("first")).to_numpy()
    graph = sp.coo_matrix((np.ones(len(member)), (member, hub)), shape=(n, n))
    n_comp, label = connected_components(graph, directed=False)
    return int(n_comp), label


def cluster_names(
    index: pd.Index, label: np.ndarray, n_comp: int, clustered: np.ndarray
) -> np.ndarray:
    """Per account, its cluster's id (:func:`cluster_id_for` of the cluster's smallest member
    id), or "" outside a cluster.

    Only clustered accounts are sorted and only clusters are named: an unlinked account is
    a component of its own, and hashing a name for each of them (a Python call per account)
    took 8-10 s of the 1M-account run, to be thrown away.
    """
    members = np.flatnonzero(clustered)
    ids = index.to_numpy()[members]
    comp = label[members]
    order = np.lexsort((ids.astype(str), comp))
    first_of = pd.Series(ids[order]).groupby(comp[order]).first()
    names = np.full(n_comp, "", dtype=object)
    names[first_of.index.to_numpy()] = [cluster_id_for(str(v)) for v in first_of.to_numpy()]
    return np.where(clustered, names[label], "")


def _declared_org(
    table: pd.DataFrame | None, label: np.ndarray, n_comp: int, clustered: np.ndarray
) -> np.ndarray:
    """Members of clusters that are exactly one declared organisation (same ``org_id``).

    Declared structure explains shared infrastructure: a company's prod, staging and
    team keys share a card and a server pool *because* they are one customer. Such a
    cluster is not a campaign: its members get the cluster features of unlinked
    accounts and no cluster id (so no case), and are scored on what each one does. Shared
    infrastructure across *different* orgs (or undeclared accounts) stays evidence.
    """
    if table is None or S.ORG_ID not in table.columns or not clustered.any():
        return np.zeros(len(label), dtype=bool)
    org = table[S.ORG_ID].fillna("").astype(str).to_numpy()
    codes, _ = pd.factorize(org)
    codes = np.where(org == "", -1, codes)
    frame = pd.DataFrame({"comp": label, "org": codes})
    distinct = frame.groupby("comp")["org"].nunique().reindex(range(n_comp)).to_numpy()
    undeclared = frame.groupby("comp")["org"].min().reindex(range(n_comp)).to_numpy() < 0
    one_org = (distinct == 1) & ~undeclared
    return clustered & one_org[label]
