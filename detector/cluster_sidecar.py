"""The ``SCORES.clusters.json`` sidecar: each coordination cluster of a scoring, with
its members, the evidence that linked them and how the cluster was scored.

:func:`clusters_json` builds it when :func:`detector.outputs.write_scores` writes a
scoring; :func:`cluster_behaviour_text` is how every table (``detector clusters``,
``explain``, the queue, the report) reads one cluster's scoring back in a few words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from detector import schema as S

if TYPE_CHECKING:
    from detector.results import ScoreResult

__all__ = ["cluster_behaviour_text", "clusters_json"]


def clusters_json(scored: ScoreResult) -> dict[str, Any]:
    """Clusters with members (with score and flag), evidence and combined behaviour."""
    if scored.clusters is None or scored.clusters.table.empty:
        return {"clusters": []}
    scores = scored.scores.set_index(S.ACCOUNT_ID)
    membership = scored.clusters.membership
    membership = membership[membership != ""]
    riders = scored.clusters.riders
    rows = []
    members_by = membership.groupby(membership).groups
    for cid, row in scored.clusters.table.iterrows():  # one iteration per cluster
        ids = sorted(members_by.get(cid, []))
        member_scores = scores.reindex(ids)
        rows.append(
            {
                "cluster_id": cid,
                "members": len(ids),
                "evidence": row["evidence"],
                "evidence_rarity": str(row.get("evidence_rarity", "")),
                "evidence_counts": scored.clusters.evidence_kinds.get(cid, {}),
                "requests_per_day": round(float(row["requests_per_day"]), 2),
                "template_share": round(float(row["template_share"]), 4),
                "synchrony": round(float(row["synchrony"]), 4),
                "activation_spread_hours": round(float(row["activation_spread_hours"]), 2),
                **_behaviour_fields(row),
                "max_score": float(member_scores[S.SCORE].max()),
                "flagged_members": int(member_scores[S.FLAGGED].sum()),
                "accounts": [
                    {
                        "account_id": a,
                        "score": float(s),
                        "flagged": bool(f),
                        **({S.RIDES_ALONG: True} if a in riders else {}),
                    }
                    for a, s, f in zip(
                        ids, member_scores[S.SCORE], member_scores[S.FLAGGED], strict=True
                    )
                ],
            }
        )
    rows.sort(key=lambda r: (-r["max_score"], r["cluster_id"]))
    return {"clusters": rows}


def cluster_behaviour_text(cluster: Mapping[str, Any]) -> str:
    """How a cluster of ``clusters.json`` was scored, for tables: its median member's
    behaviour score and whether its members carried its cluster features ("" when the
    model predates the measure)."""
    if cluster.get(S.CLUSTER_BEHAVIOUR) is None:
        return ""
    how = "scored as a cluster" if cluster.get(S.SCORED_AS_CLUSTER) else "scored as unlinked"
    riders = int(cluster.get(S.CLUSTER_RIDERS) or 0)
    if riders:  # members that do not behave like the cluster (detector.quiet_clusters)
        how += f", {riders} {'member' if riders == 1 else 'members'} unlike it scored alone"
    return f"{float(cluster[S.CLUSTER_BEHAVIOUR]):.2f}, {how}"


def _behaviour_fields(row: pd.Series) -> dict[str, Any]:
    """A cluster's median member behaviour, whether it lent its members a score and how
    many rode along (:mod:`detector.quiet_clusters` sets all three); absent when the
    model predates them."""
    if S.CLUSTER_BEHAVIOUR not in row.index or pd.isna(row[S.CLUSTER_BEHAVIOUR]):
        return {}
    return {
        S.CLUSTER_BEHAVIOUR: round(float(row[S.CLUSTER_BEHAVIOUR]), 4),
        S.SCORED_AS_CLUSTER: bool(row[S.SCORED_AS_CLUSTER]),
        S.CLUSTER_RIDERS: int(row[S.CLUSTER_RIDERS]),
    }
