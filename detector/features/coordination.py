"""The coordination feature family: each account's cluster, described as features.

Sharing alone is not an alert: a benign organisation (one card, one server pool) is
a cluster, but its cluster features (diverse templates, accounts created months
apart, unsynchronised activity) look nothing like a hydra's. This module holds the
family's catalogue entries (:data:`SPECS`, registered with the feature registry on
import), the combined behaviour every member carries into the model
(:func:`cluster_features`), and the values of an unlinked account
(:data:`NEUTRAL_CLUSTER`).

The family lives in the features package, below the cross-account linking
(:mod:`detector.coordination`) that calls :func:`cluster_features` once the clusters
are known: the features layer never imports the linking, so the two are not a cycle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from detector import schema as S
from detector.features.account import NEW_ACCOUNT_DAYS
from detector.features.base import Bucket, Context, creation_seconds
from detector.features.registry import FeatureSpec, family
from detector.features.synchrony import synchrony

__all__ = [
    "ACTIVATION_MIN_OFFSET_S",
    "NEUTRAL_CLUSTER",
    "NEW_ACCOUNT_DAYS",
    "SPECS",
    "cluster_features",
    "neutralise",
    "unlinked_values",
    "window_length_hours",
]


ACTIVATION_MIN_OFFSET_S = 24 * 3600
"""A first request is evidence (and a cluster's start times tell something) only this
long after the window opened: every established account "starts" when the window does.
The linking tokens of :mod:`detector.coordination.tokens` use the same offset."""

SPECS = [
    FeatureSpec(
        name="cluster_size",
        family="coordination",
        unit="count",
        description="Accounts in the account's coordination cluster (1 when unlinked).",
        why="Hydra campaigns spread one job over many accounts that each look light.",
        needs=(S.ACCOUNT_ID,),
        neutral=1.0,
        scale="log",
        direction="high",
        reason="one of {value} linked accounts",
    ),
    FeatureSpec(
        name="cluster_requests_per_day",
        family="coordination",
        unit="per_day",
        description="Requests per day of the whole cluster (0 when unlinked, or when the cluster is "
        "one declared organisation).",
        why="The combined volume of a hydra is that of a bulk extraction job.",
        needs=(S.ACCOUNT_ID,),
        neutral=0.0,
        scale="log",
        direction="high",
        reason="its cluster sends {value} requests per day",
    ),
    FeatureSpec(
        name="cluster_template_share",
        family="coordination",
        unit="share",
        description="Mean share, over members, of requests in the cluster's most shared template or "
        "wrapper (0 when unlinked).",
        why="One fixed extraction prompt shared by all of an operation's accounts.",
        needs=(S.PROMPT,),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="its cluster sends {value} of its prompts in one shared template",
    ),
    FeatureSpec(
        name="cluster_synchrony",
        family="coordination",
        unit="ratio",
        description="Mean pairwise correlation of members' hourly activity (0 when unlinked).",
        why="Load-balanced accounts start, stop and surge together (SynchroTrap).",
        needs=(S.ACCOUNT_ID,),
        neutral=0.0,
        scale="linear",
        direction="high",
        reason="its cluster's hourly activity is synchronised (correlation {value})",
    ),
    FeatureSpec(
        name="cluster_activation_spread_hours",
        family="coordination",
        unit="hours",
        description="Hours between the first requests of the cluster's first and last member to start "
        "(window length when unlinked, or when the cluster was active on the window's "
        "first day).",
        why="Accounts of one campaign switch on together.",
        needs=(S.ACCOUNT_ID,),
        neutral=0.0,
        scale="log",
        direction="low",
        reason="its cluster's accounts started within {value}",
    ),
    FeatureSpec(
        name="cluster_creation_spread_hours",
        family="coordination",
        unit="hours",
        description="Hours between the creation of the cluster's oldest and newest member "
        "(one year when unlinked or unknown).",
        why="Hydra accounts are registered in one sitting; an organisation's are months apart.",
        needs=(S.CREATED_AT,),
        neutral=8760.0,
        scale="log",
        direction="low",
        reason="its cluster's accounts were created within {value}",
    ),
    FeatureSpec(
        name="cluster_new_member_share",
        family="coordination",
        unit="share",
        description=f"Share of the cluster's members whose account was under {NEW_ACCOUNT_DAYS:g} days old "
        "at its first request (0 when unlinked).",
        why="Fresh accounts burned for one campaign.",
        needs=(S.CREATED_AT,),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of its cluster's accounts are brand new",
    ),
]


@family("coordination", SPECS, per_bucket=False)
def _registered(b: Bucket) -> dict[str, np.ndarray]:  # pragma: no cover - not per bucket
    raise RuntimeError("coordination features are computed across buckets by link_accounts")


def window_length_hours(context: Context) -> float:
    """The window's length in hours: an unlinked account's activation spread."""
    return (context.window_end - context.window_start) / 3600.0


def cluster_features(
    *,
    label: np.ndarray,
    n_comp: int,
    comp_size: np.ndarray,
    size: np.ndarray,
    clustered: np.ndarray,
    requests: pd.Series,
    evidence: pd.DataFrame,
    pos: pd.Series,
    index: pd.Index,
    parts: list[dict[str, Any]],
    context: Context,
    first_ts: pd.Series,
    table: pd.DataFrame | None,
) -> dict[str, np.ndarray]:
    """Every account's cluster features: its component's combined behaviour.

    Parameters
    ----------
    label, n_comp, comp_size : each account's component, the number of components and
        their sizes (unlinked accounts are components of one).
    size, clustered : per account, its component's size and whether it is >= 2.
    requests, first_ts : per account (aligned with ``index``), requests and first
        request time.
    evidence, parts : the buckets' evidence rows and the per-bucket outputs.
    pos : position of each account id in ``index``.
    table : the account table aligned with ``index``, or ``None``.

    Returns
    -------
    Column name → values aligned with ``index``, before declared organisations are
    neutralised.
    """
    n = len(index)
    window_days = context.window_days
    window_hours = window_length_hours(context)
    comp_reqs = np.bincount(label, weights=requests.to_numpy(), minlength=n_comp)
    feats: dict[str, np.ndarray] = {
        "cluster_size": size,
        "cluster_requests_per_day": comp_reqs[label] / window_days,
    }
    # template: the key most members share, and the members' mean share of it
    tpl = evidence[evidence["kind"] == "template"] if len(evidence) else evidence
    tshare = np.zeros(n)
    if len(tpl):
        t = tpl.assign(comp=label[pos.reindex(tpl[S.ACCOUNT_ID]).to_numpy()])
        t = t[clustered[pos.reindex(t[S.ACCOUNT_ID]).to_numpy()]]
        if len(t):
            per_key = t.groupby(["comp", "key"]).agg(
                members=(S.ACCOUNT_ID, "nunique"), share=("share", "sum")
            )
            per_key = per_key.sort_values(["members", "share"], ascending=False)
            best = per_key.groupby(level="comp").head(1).reset_index()
            mean_share = best["share"].to_numpy() / comp_size[best["comp"].to_numpy()]
            comp_share = np.zeros(n_comp)
            comp_share[best["comp"].to_numpy()] = np.minimum(mean_share, 1.0)
            tshare = np.where(clustered, comp_share[label], 0.0)
    feats["cluster_template_share"] = tshare
    feats["cluster_synchrony"] = synchrony(parts, index, label, n_comp, clustered, context)
    first = first_ts.to_numpy(dtype=np.float64)
    lo = np.full(n_comp, np.inf)
    hi = np.full(n_comp, -np.inf)
    np.minimum.at(lo, label, first)
    np.maximum.at(hi, label, first)
    # a cluster already active when the window opened tells nothing by its start times
    started_inside = lo > context.window_start + ACTIVATION_MIN_OFFSET_S
    feats["cluster_activation_spread_hours"] = np.where(
        clustered & started_inside[label], (hi - lo)[label] / 3600.0, window_hours
    )
    if table is not None and S.CREATED_AT in table.columns:
        cs = creation_seconds(table[S.CREATED_AT])
        clo = np.full(n_comp, np.inf)
        chi = np.full(n_comp, -np.inf)
        np.fmin.at(clo, label, cs)
        np.fmax.at(chi, label, cs)
        spread = (chi - clo)[label] / 3600.0
        neutral = 8760.0
        feats["cluster_creation_spread_hours"] = np.where(
            clustered & np.isfinite(spread), spread, neutral
        )
        age_days = (first - cs) / 86_400.0
        new = (age_days < NEW_ACCOUNT_DAYS).astype(float)  # unknown (NaN) is not new
        new_share = np.bincount(label, weights=new, minlength=n_comp) / comp_size
        feats["cluster_new_member_share"] = np.where(clustered, new_share[label], 0.0)
    feats["cluster_requests_per_day"] = np.where(clustered, feats["cluster_requests_per_day"], 0.0)
    return feats


NEUTRAL_CLUSTER: dict[str, float] = {
    "cluster_size": 1.0,
    "cluster_requests_per_day": 0.0,
    "cluster_template_share": 0.0,
    "cluster_synchrony": 0.0,
    "cluster_creation_spread_hours": 8760.0,
    "cluster_new_member_share": 0.0,
}
"""Cluster features of an unlinked account (activation spread: the window's length)."""


def unlinked_values(window_hours: float) -> dict[str, float]:
    """Every cluster feature of an unlinked account, in a window ``window_hours`` long."""
    return {**NEUTRAL_CLUSTER, "cluster_activation_spread_hours": window_hours}


def neutralise(out: pd.DataFrame, rows: np.ndarray, window_hours: float) -> None:
    """Give ``rows`` the cluster features of an unlinked account, in place."""
    if not rows.any():
        return
    for name, value in unlinked_values(window_hours).items():
        if name in out.columns or name == "cluster_activation_spread_hours":
            out.loc[rows, name] = value
