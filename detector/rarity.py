"""How rare is the evidence that links a cluster: what an analyst needs to judge a link.

A cluster exists because its members share evidence tokens (a card, a template, a
template used at the same creation hour ...). Whether that means anything depends on
how rare the token is: 24 accounts sharing a template that only those 24 accounts use
in the whole population is a campaign's fingerprint; 24 accounts among the 3,000 that
send a framework's boilerplate is not. For each cluster and kind of evidence this
module names the most shared token's reach: members holding it, and holders in the
whole population. Grouped in pandas, one pass over the linking tokens.
"""

from __future__ import annotations

import pandas as pd

from detector import schema as S

__all__ = ["KIND_WORDS", "describe_rarity", "kind_label"]

KIND_WORDS: dict[str, str] = {
    "payment": "a payment card",
    "org": "an organisation",
    "template": "a prompt template or wrapper",
    "network": "a client network",
    "client": "a client configuration (user agent, max_tokens, temperature)",
    "created": "creation time",
    "activation": "start time",
    "adoption": "switch to the newest model",
    "synchrony": "a schedule",
}
"""Words for each kind of linking evidence, in the clusters' evidence text and here."""


def kind_label(kind: str) -> str:
    """'template+created' -> 'prompt template or wrapper with creation time'."""
    words = (KIND_WORDS.get(part, part) for part in kind.split("+"))
    return " with ".join(w.removeprefix("a ").removeprefix("an ") for w in words)


def describe_rarity(
    in_cluster: pd.DataFrame, holders: pd.Series, population: int
) -> dict[str, str]:
    """Per cluster id, one line: for each evidence kind, its most shared token's reach.

    Parameters
    ----------
    in_cluster : (account_id, kind, token, cluster_id) rows of clustered accounts'
        linking tokens.
    holders : accounts holding each token in the whole population, indexed by
        (kind, token).
    population : accounts in the population.

    Returns e.g. ``{"c12": "prompt template or wrapper with creation time: 24 members, 24 of
    18,328 accounts overall · client network: 9 members, 41 of 18,328 accounts
    overall"}`` (no ';', which separates reasons).
    """
    if in_cluster.empty:
        return {}
    shared = (
        in_cluster.groupby(["cluster_id", "kind", "token"], sort=False)[S.ACCOUNT_ID]
        .nunique()
        .rename("members")
        .reset_index()
    )
    shared = shared[shared["members"] >= 2]
    keys = pd.MultiIndex.from_arrays([shared["kind"], shared["token"]])
    shared["holders"] = holders.reindex(keys).fillna(0).to_numpy(dtype=int)
    # per (cluster, kind): the token most members share; among ties, the rarest
    shared = shared.sort_values(
        ["cluster_id", "kind", "members", "holders"], ascending=[True, True, False, True]
    ).drop_duplicates(["cluster_id", "kind"])
    shared["text"] = [
        f"{kind_label(k)}: {m} members, {max(h, m):,} of {population:,} accounts overall"
        for k, m, h in zip(shared["kind"], shared["members"], shared["holders"], strict=True)
    ]
    return shared.groupby("cluster_id", sort=False)["text"].agg(" · ".join).to_dict()
