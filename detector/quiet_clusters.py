"""A cluster is scored on what it does: quiet clusters are scored as unlinked accounts.

Linking finds coordination, and coordination is not extraction: a classroom of free
accounts created together on one school network, a research organisation's accounts on
one card and one network, a company's keys, are clusters too, and their cluster features
(size, fresh accounts, created and started together) look like a hydra's. Scored on
those features, classroom cohorts were 3% flagged and their reasons led with "one of 36
linked accounts" (a week without a release, issue 13/16).

So before a feature table is scored, each cluster's **behaviour** is measured with the
model's behaviour families only (:mod:`detector.behaviour`: links, account record and
networks left out), and a cluster whose median member behaves no more unusually than
:data:`~detector.config.Config.cluster_behaviour_multiple` × the training median is
*quiet*: its members get the cluster features of an unlinked account (as a declared
organisation's do, :func:`detector.features.coordination.unlinked_values`), and their
sub-streams inherit them. A quiet cluster keeps its id, its case and its evidence (an
analyst still sees the link); it just lends no score. A campaign's members behave
unusually by design (that is the job they are spread over), so its median is far above
the cut and it is scored as before.

**Riders.** A campaign's accounts run one script, so they behave alike. A member of a
cluster scored as one whose own behaviour score is under
:data:`~detector.config.Config.cluster_rider_share` of its cluster's median member's
*rides along*: a data-labelling platform linked into a campaign because it uses the
campaign's template and moved to a new model in the campaign's hour, a new sign-up that
started on a hydra's network in its hour. It gets an unlinked account's cluster features
and its own case (:func:`detector.cases.assign_cases`), so the campaign's case score does
not lift it; it keeps its cluster id, so the link is still shown.

**A campaign inside a cluster.** Two campaigns that share one piece of evidence (a
template, the hour they moved to a new model) are one cluster, and its median member is
the larger campaign's. The smaller, quieter campaign's members then fall under the rider
share although they run one script of their own (seed 6565: 6 of a 30-account hydra
linked into a 154-account one, at 0.55-0.59 of its median). So the would-be riders that
share linking evidence among themselves (:attr:`~detector.coordination.Clusters.links`,
the tokens that tie only a part of the cluster together) are grouped, and each group of
two or more is judged as a cluster is: a group whose median member is loud
(``cluster_behaviour_multiple`` × the training median) is a campaign, and its members
that behave like it (at least the rider share of its median) stand with their cluster
(:func:`rider_campaigns`). A classroom cohort linked into a hydra is such a group too,
but a quiet one (its median 1.35 × the training median at seed 2626), so it still rides
along, as does a platform whose only link is a token the whole campaign holds.

The cluster table gains ``behaviour`` (the median member's behaviour score),
``scored_as_cluster`` and ``riders`` (how many); ``clusters.json`` and the report show
them.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.config import Config
from detector.coordination import token_components
from detector.features.coordination import SPECS as CLUSTER_SPECS
from detector.features.coordination import unlinked_values, window_length_hours
from detector.model import AnomalyModel
from detector.pipeline import FeatureResult

__all__ = ["PART_OF_CLUSTER", "member_behaviour", "rider_campaigns", "unlink_quiet_clusters"]

PART_OF_CLUSTER: Final = 0.5
"""Riders are grouped only by tokens held by at most this share of their cluster's
members (:func:`rider_campaigns`): the tokens that tie a part of a cluster together (a
campaign's creation hours and client configuration), not the one the whole cluster holds
(the template and switch hour that linked a labelling platform into a campaign)."""


def member_behaviour(
    model: AnomalyModel, features: pd.DataFrame, membership: pd.Series
) -> pd.Series:
    """The behaviour score of each clustered account of ``membership`` (account id →
    cluster id, "" unlinked) that ``features`` holds, indexed by account id."""
    linked = membership[(membership != "") & membership.index.isin(features.index)]
    if linked.empty:
        return pd.Series(dtype=float)
    names = [str(n) for n in model.feature_names_in_]
    return pd.Series(model.behaviour(features.loc[linked.index, names]), index=linked.index)


def rider_campaigns(
    behaviour: pd.Series, links: pd.DataFrame, membership: pd.Series, *, loud: float, share: float
) -> frozenset[str]:
    """The would-be riders (``behaviour``: account id → behaviour score) that are a
    campaign of their own (module docs).

    Riders are grouped by the tokens of ``links`` they share that link only a part of
    their cluster (held by at most :data:`PART_OF_CLUSTER` of its members, by
    ``membership``): a token the whole cluster holds says nothing about which members
    belong together. A group of two or more whose median member's behaviour reaches
    ``loud`` is a campaign, and its members at least ``share`` of that median are
    returned. The groups are the connected components of the riders' tokens
    (:func:`detector.coordination.token_components`, as linking finds clusters).
    """
    holders = links.groupby("token")[S.ACCOUNT_ID].transform("size").to_numpy()
    cluster = membership.reindex(links[S.ACCOUNT_ID]).to_numpy()
    members = pd.Series(cluster).map(membership.value_counts()).to_numpy(dtype=np.float64)
    part = links[(holders <= PART_OF_CLUSTER * members) & links[S.ACCOUNT_ID].isin(behaviour.index)]
    part = part[part.groupby("token")[S.ACCOUNT_ID].transform("size") >= 2]
    if part.empty:
        return frozenset()
    pos = pd.Series(np.arange(len(behaviour)), index=behaviour.index)
    _, group = token_components(part, pos)
    values = behaviour.to_numpy(dtype=np.float64)
    by_group = pd.Series(values).groupby(group)
    size = by_group.transform("size").to_numpy()
    median = by_group.transform("median").to_numpy()
    campaign = (size >= 2) & (median >= loud) & (values >= share * median)
    return frozenset(behaviour.index[campaign])


def unlink_quiet_clusters(
    result: FeatureResult, model: AnomalyModel, config: Config
) -> FeatureResult:
    """``result`` with the members of quiet clusters, and the riders of loud ones, scored
    as unlinked (module docs).

    Unchanged when the run has no clusters, when ``config.cluster_behaviour_multiple``
    is 0, or for a model fitted before the behaviour median was kept. Idempotent: the
    behaviour score leaves the cluster features out, so a second pass finds the same
    quiet clusters and riders.
    """
    clusters = result.clusters
    median = model.behaviour_median()
    multiple = config.cluster_behaviour_multiple
    if clusters is None or clusters.table.empty or median is None or multiple <= 0:
        return result
    members = member_behaviour(model, result.features, clusters.membership)
    of = clusters.membership.reindex(members.index).to_numpy()  # each member's cluster
    behaviour = members.groupby(of).median().reindex(clusters.table.index)  # its median
    loud = (behaviour >= multiple * median).to_numpy() | behaviour.isna().to_numpy()
    share = config.cluster_rider_share
    riding = (
        (share > 0)
        & np.isin(of, clusters.table.index[loud])
        & (members.to_numpy() < share * behaviour.reindex(of).to_numpy())
    )
    riders = frozenset(members.index[riding]) - rider_campaigns(
        members[riding],
        clusters.links,
        clusters.membership[clusters.membership != ""],
        loud=multiple * median,
        share=share,
    )
    riding = members.index.isin(riders)
    table = clusters.table.assign(
        **{
            S.CLUSTER_BEHAVIOUR: behaviour.to_numpy(),
            S.SCORED_AS_CLUSTER: loud,
            S.CLUSTER_RIDERS: pd.Series(of[riding])
            .value_counts()
            .reindex(clusters.table.index, fill_value=0)
            .to_numpy(),
        }
    )
    quiet = set(clusters.table.index[~loud])
    clusters = dataclasses.replace(clusters, table=table, riders=riders)
    if not quiet and not riders:
        return dataclasses.replace(result, clusters=clusters)
    unlinked = clusters.membership.isin(quiet).to_numpy() | clusters.membership.index.isin(riders)
    rows = result.features.index.isin(clusters.membership.index[unlinked])
    # a shallow copy with new cluster columns: the table can be a million accounts wide,
    # and only these columns change (the caller's table is left as it was)
    features = result.features.copy(deep=False)
    for name, value in unlinked_values(window_length_hours(result.context)).items():
        if name in features.columns:
            features[name] = np.where(rows, value, features[name].to_numpy(dtype=np.float64))
    columns = [s.name for s in CLUSTER_SPECS if s.name in features.columns]
    substreams = result.substreams.with_parent_columns(features, columns)
    return dataclasses.replace(result, features=features, substreams=substreams, clusters=clusters)
