"""Cross-account coordination: find groups of accounts run by one operator ("hydra").

Per-account outlier scores miss an extraction job spread thin over many accounts.
What gives such a job away is what its accounts share. This module links accounts by
shared *evidence* and turns each linked group into cluster features that every
member carries into the model.

Evidence and linking
--------------------
Each account emits *tokens*. A strong token links on its own (a shared payment
fingerprint or org id). Weak evidence (its top prompt templates/wrappers, its client
networks, the 2-hour bin it was created in, the 1-hour bin of its first request when
that is inside the window) only links in pairs of two *different* kinds —
template∧creation, template∧network, template∧activation, network∧creation,
network∧activation — so a generic template or a busy cloud network alone links
nothing; and a pair must cover most users of both its ingredients, or be shared by
far more accounts than its ingredients' frequencies would put together by chance (a
lift, see ``_specific``), so chance coincidences do not chain and rare evidence weighs
more than common evidence. This is banding as in LSH: an AND of two kinds per token,
an OR over tokens. Two bins per time (offset by half a bin) keep accounts created a
minute apart across a bin edge together.

Tokens shared by more than ``max_token_accounts`` accounts are dropped as
non-specific. Accounts sharing a token are joined to the token's first account
(a star, not a clique), and clusters are the connected components: the work is
linear in the number of tokens — no all-pairs comparison.

Sharing alone is not an alert: a benign organisation (one card, one server pool) is
a cluster, but its cluster features (diverse templates, accounts created months
apart, unsynchronised activity) look nothing like a hydra's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket, Context
from detector.features.registry import FeatureSpec, family
from detector.rarity import KIND_WORDS, describe_rarity
from detector.synchrony import HourlyActivity, aligned_core, synchrony

TOP_KEYS = 3
MIN_KEY_SHARE = 0.2
MIN_KEY_ROWS = 3
CREATED_BIN_S = 2 * 3600
ACTIVATION_BIN_S = 3600
NEW_ACCOUNT_DAYS = 14.0
ACTIVATION_MIN_OFFSET_S = 24 * 3600
PAIR_COVERAGE = 0.5
"""A paired token links when it holds this share of the accounts of both ingredients..."""
PAIR_MIN_ACCOUNTS = 3
"""A paired token links only when at least this many accounts share it."""
PAIR_MIN_LIFT = 20.0
"""...or when at least PAIR_MIN_ACCOUNTS share it, this many times what independent
ingredients would put together by chance (a multi-burst campaign covers a third of its
template's users per burst, but far beyond chance)."""
SYNC_LINK_MIN = 0.5
"""Users of one template whose hourly activity surges and pauses together beyond their
daily rhythm (mean pairwise correlation at least this) are linked: ``synchronised_templates``."""
ALIGN_LINK_MIN = 0.7
SYNC_GROUP_MIN = 10
"""...when at least this many accounts share the template and the schedule: a handful of
customers' nightly batch jobs share a common template and the same cron hour (measured on
the default population: groups of 4-7 pipelines at 0.81-0.94), a campaign is tens to
thousands of accounts."""
"""...and so are users of one template whose hour-of-day profiles are near-identical (mean
pairwise correlation at least this): one script running the same block of hours daily."""
CORE_MIN_SHARE = 1 / 3
"""...counting only the users that keep the group's common schedule (its aligned core,
:func:`~detector.synchrony.aligned_core`), when they are at least this share of the
template's users: a campaign dominates its own template's use even when another operator
shares it (seed 505: 27 of 64), while the customers of a popular wrapper who happen to run
at the same cron hour are a small share of its users (27 of 167 document pipelines, 11 of
74 and 10 of 159 small apps on seeds 505 and 303)."""
STRONG_KINDS = ("payment", "org")
PAIRED_KINDS = (
    ("template", "created"),
    ("template", "network"),
    ("template", "activation"),
    ("network", "created"),
    ("network", "activation"),
)

SPECS = [
    FeatureSpec(
        "cluster_size",
        "coordination",
        "count",
        "Accounts in the account's coordination cluster (1 when unlinked).",
        "Hydra campaigns spread one job over many accounts that each look light.",
        (S.ACCOUNT_ID,),
        1.0,
        "log",
        "high",
        "one of {value} linked accounts",
    ),
    FeatureSpec(
        "cluster_requests_per_day",
        "coordination",
        "per_day",
        "Requests per day of the whole cluster (0 when unlinked, or when the cluster is "
        "one declared organisation).",
        "The combined volume of a hydra is that of a bulk extraction job.",
        (S.ACCOUNT_ID,),
        0.0,
        "log",
        "high",
        "its cluster sends {value} requests per day",
    ),
    FeatureSpec(
        "cluster_template_share",
        "coordination",
        "share",
        "Mean share, over members, of requests in the cluster's most shared template or "
        "wrapper (0 when unlinked).",
        "One fixed extraction prompt shared by all of an operation's accounts.",
        (S.PROMPT,),
        0.0,
        "share",
        "high",
        "its cluster sends {value} of its prompts in one shared template",
    ),
    FeatureSpec(
        "cluster_synchrony",
        "coordination",
        "ratio",
        "Mean pairwise correlation of members' hourly activity (0 when unlinked).",
        "Load-balanced accounts start, stop and surge together (SynchroTrap).",
        (S.ACCOUNT_ID,),
        0.0,
        "linear",
        "high",
        "its cluster's hourly activity is synchronised (correlation {value})",
    ),
    FeatureSpec(
        "cluster_activation_spread_hours",
        "coordination",
        "hours",
        "Hours between the first requests of the cluster's first and last member to start "
        "(window length when unlinked, or when the cluster was active on the window's "
        "first day).",
        "Accounts of one campaign switch on together.",
        (S.ACCOUNT_ID,),
        0.0,
        "log",
        "low",
        "its cluster's accounts started within {value}",
    ),
    FeatureSpec(
        "cluster_creation_spread_hours",
        "coordination",
        "hours",
        "Hours between the creation of the cluster's oldest and newest member "
        "(one year when unlinked or unknown).",
        "Hydra accounts are registered in one sitting; an organisation's are months apart.",
        (S.CREATED_AT,),
        8760.0,
        "log",
        "low",
        "its cluster's accounts were created within {value}",
    ),
    FeatureSpec(
        "cluster_new_member_share",
        "coordination",
        "share",
        f"Share of the cluster's members whose account was under {NEW_ACCOUNT_DAYS:g} days old "
        "at its first request (0 when unlinked).",
        "Fresh accounts burned for one campaign.",
        (S.CREATED_AT,),
        0.0,
        "share",
        "high",
        "{value} of its cluster's accounts are brand new",
    ),
]


@family("coordination", SPECS, per_bucket=False)
def _registered(b: Bucket) -> dict[str, np.ndarray]:  # pragma: no cover - not per bucket
    raise RuntimeError("coordination features are computed across buckets by link_accounts")


# --- per-bucket evidence ---------------------------------------------------------------------


def bucket_evidence(frame: pd.DataFrame, context: Context) -> dict[str, Any]:
    """What one bucket contributes to linking: top keys, hourly activity, first request.

    This is the pure per-bucket half of coordination (runs beside the features).
    """
    b = Bucket.from_frame(frame, context)
    n, c = b.n, b.codes
    rows = []
    kinds = [("network", A.NETWORK_KEY)]
    if context.has(S.PROMPT):
        kinds += [
            ("template", A.TEMPLATE_KEY),
            ("template", A.PREFIX_KEY),
            ("template", A.SUFFIX_KEY),
        ]
    reqs = agg.count(c, n)
    # templates of short prompts ("hello", "test") are shared by chance: only prompts
    # long enough to carry a wrapper (those with a prefix key) count as evidence
    wrapped = b.col(A.PREFIX_KEY) != 0 if context.has(S.PROMPT) else None
    for kind, col in kinds:
        values = b.col(col)
        if kind == "template":
            values = np.where(wrapped, values, 0).astype(values.dtype)
        pc, keys, cnt = agg.pair_counts(c, values)
        if not len(pc):
            continue
        top = pd.DataFrame({"code": pc, "key": keys, "rows": cnt})
        top["share"] = top["rows"] / reqs[top["code"].to_numpy()]
        top = top[(top["share"] >= MIN_KEY_SHARE) & (top["rows"] >= MIN_KEY_ROWS)]
        top = top.sort_values(["code", "rows", "key"], ascending=[True, False, True])
        top = top.groupby("code", sort=False).head(TOP_KEYS)
        top["kind"] = kind
        rows.append(top)
    evidence = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame({"code": [], "key": [], "rows": [], "share": [], "kind": []})
    )
    evidence[S.ACCOUNT_ID] = b.account_ids[evidence["code"].to_numpy(dtype=np.int64)]
    hourly = HourlyActivity.of(c, b.col(A.TS), context.window_start)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, c, b.col(A.TS))
    return {
        "accounts": b.account_ids,
        "evidence": evidence.drop(columns=["code"]),
        "hourly": hourly,
        "first_ts": first,
        "requests": reqs,
    }


# --- linking -----------------------------------------------------------------------------------


@dataclass
class Clusters:
    """Clusters found among accounts, and each member's cluster features.

    ``membership`` maps account_id → cluster_id for clustered accounts only;
    ``table`` has one row per cluster (members, evidence counts, combined behaviour).
    """

    features: pd.DataFrame
    membership: pd.Series
    table: pd.DataFrame
    evidence_kinds: dict[str, dict[str, int]] = field(default_factory=dict)


def _time_tokens(kind: str, seconds: pd.Series, bin_s: int) -> pd.DataFrame:
    """Two overlapping bins per time, so neighbours across a bin edge still share one.

    Tokens are integers (bin × 2 + phase), never strings: at 100k accounts the token
    table has millions of rows.
    """
    s = seconds.dropna()
    a = (s.to_numpy() // bin_s).astype(np.int64) * 2
    b = ((s.to_numpy() + bin_s // 2) // bin_s).astype(np.int64) * 2 + 1
    ids = np.concatenate([s.index.to_numpy(), s.index.to_numpy()])
    return pd.DataFrame(
        {S.ACCOUNT_ID: ids, "kind": kind, "token": np.concatenate([a, b]).astype(np.uint64)}
    )


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _pair_token(first: np.ndarray, second: np.ndarray, salt: int) -> np.ndarray:
    """A 64-bit token for an (ingredient, ingredient) pair of one paired kind."""
    with np.errstate(over="ignore"):
        a = first.astype(np.uint64) * _MIX
        b = (second.astype(np.uint64) + np.uint64(salt)) * np.uint64(0xBF58476D1CE4E5B9)
        return a ^ (b >> np.uint64(7)) ^ (b << np.uint64(13))


def _tokens(
    evidence: pd.DataFrame, accounts: pd.DataFrame | None, first_ts: pd.Series, window_start: int
) -> pd.DataFrame:
    """(account_id, kind, token) rows: strong single tokens and paired weak ones."""
    parts: dict[str, pd.DataFrame] = {}
    population = len(first_ts)
    ev = evidence[[S.ACCOUNT_ID, "kind", "key"]].rename(columns={"key": "token"})
    ev["token"] = ev["token"].astype(np.uint64)
    for kind in ("template", "network"):
        parts[kind] = ev.loc[ev["kind"] == kind, [S.ACCOUNT_ID, "kind", "token"]]
    # a start time is evidence only for accounts that started inside the window: every
    # established account "starts" when the window does
    started = first_ts[first_ts > window_start + ACTIVATION_MIN_OFFSET_S]
    parts["activation"] = _time_tokens("activation", started.astype("float64"), ACTIVATION_BIN_S)
    strong = []
    if accounts is not None:
        if S.CREATED_AT in accounts.columns:
            created = accounts[S.CREATED_AT].dropna()
            created_s = pd.Series(
                created.astype("int64").to_numpy() // 1_000_000_000, index=created.index
            )
            parts["created"] = _time_tokens("created", created_s.astype("float64"), CREATED_BIN_S)
        for kind, col in (("payment", S.PAYMENT_FINGERPRINT), ("org", S.ORG_ID)):
            if col in accounts.columns:
                v = accounts[col].astype(str)
                v = v[v.str.len() > 0]
                token = A.hash_strings(
                    pa.array((kind + ":" + v).to_numpy(dtype=object), pa.string())
                )
                strong.append(pd.DataFrame({S.ACCOUNT_ID: v.index, "kind": kind, "token": token}))
    paired = []
    for salt, (k1, k2) in enumerate(PAIRED_KINDS):
        if k1 not in parts or k2 not in parts:
            continue
        m = parts[k1].merge(parts[k2], on=S.ACCOUNT_ID, suffixes=("_1", "_2"))
        m = m[_specific(m, parts[k1], parts[k2], population)]
        if len(m):
            paired.append(
                pd.DataFrame(
                    {
                        S.ACCOUNT_ID: m[S.ACCOUNT_ID].to_numpy(),
                        "kind": f"{k1}+{k2}",
                        "token": _pair_token(
                            m["token_1"].to_numpy(), m["token_2"].to_numpy(), salt
                        ),
                    }
                )
            )
    frames = strong + paired
    if not frames:
        return pd.DataFrame({S.ACCOUNT_ID: [], "kind": [], "token": np.empty(0, dtype=np.uint64)})
    return pd.concat(frames, ignore_index=True).drop_duplicates()


def _specific(
    pairs: pd.DataFrame, first: pd.DataFrame, second: pd.DataFrame, population: int
) -> np.ndarray:
    """Keep a paired token only when it is specific: it covers most users of both its
    ingredients, or far more accounts share it than chance would give.

    Evidence is weighed by how rare it is. If ``n1`` accounts use a template and ``n2``
    were created in a 2-hour bin, independence predicts ``n1 * n2 / N`` accounts with
    both among the ``N`` of the population. A hydra's wrapper used by 80 fresh accounts
    created in three bursts puts ~27 in each burst's bin where chance predicts a fraction
    of one (lift in the hundreds), however many bursts it used. A boilerplate template
    used by a thousand unrelated products meets a busy creation bin a few times by
    chance (lift ≈ 1) and is dropped, so chance pairs never chain unrelated accounts
    into one giant component. Coverage keeps a campaign that is most of a small
    population (there, its own members make chance look likely).
    """
    if pairs.empty:
        return np.zeros(0, dtype=bool)
    n1 = first.groupby("token")[S.ACCOUNT_ID].nunique()
    n2 = second.groupby("token")[S.ACCOUNT_ID].nunique()
    together = pairs.groupby(["token_1", "token_2"])[S.ACCOUNT_ID].transform("nunique").to_numpy()
    expected = (
        n1.reindex(pairs["token_1"]).to_numpy()
        * n2.reindex(pairs["token_2"]).to_numpy()
        / max(population, 1)
    )
    either = np.maximum(
        n1.reindex(pairs["token_1"]).to_numpy(), n2.reindex(pairs["token_2"]).to_numpy()
    )
    covers_both = (together >= 2) & (together >= PAIR_COVERAGE * either)
    rare = (together >= PAIR_MIN_ACCOUNTS) & (together >= PAIR_MIN_LIFT * expected)
    return covers_both | rare


def synchronised_templates(
    evidence: pd.DataFrame,
    parts: list[dict[str, Any]],
    index: pd.Index,
    context: Context,
) -> pd.DataFrame:
    """Link tokens for templates whose users act in step: ``template+synchrony``.

    A campaign behind proxies shares no card, network or creation time -- only its
    generation template and its schedule. A template alone links nobody (a boilerplate
    wrapper is used by unrelated products), and unrelated users of one template do not
    keep one schedule. So each account's most used shared template (used by at least
    ``SYNC_GROUP_MIN`` accounts, however many: no cap, a 25,000-account campaign is one
    group) groups it with the template's other users. A group links the members that
    act in step: those whose hour-of-day profiles keep the group's common schedule (its
    aligned core, :func:`~detector.synchrony.aligned_core`: one script, the same block of
    hours every day), when the core's mean alignment is at least ``ALIGN_LINK_MIN`` and
    it holds ``SYNC_GROUP_MIN`` accounts and ``CORE_MIN_SHARE`` of the group; or all the
    members when their activity surges and pauses together beyond their daily rhythm
    (:func:`~detector.synchrony.synchrony` ≥ ``SYNC_LINK_MIN``). Measured on realistic
    populations: a 24-account template-and-timing campaign's core 0.93 (seed 303), 0.94
    (404), and 0.87 on 505, where it shared its template with 40 accounts of another
    campaign and the whole group's alignment was 0.42; the cores of benign groups sharing
    a template either hold under ``CORE_MIN_SHARE`` of the group or fewer than
    ``SYNC_GROUP_MIN`` accounts.
    One pass over the groups' sparse activity: no all-pairs comparison.
    """
    empty = pd.DataFrame({S.ACCOUNT_ID: [], "kind": [], "token": np.empty(0, dtype=np.uint64)})
    if evidence.empty or not parts:
        return empty
    tpl = evidence.loc[evidence["kind"] == "template", [S.ACCOUNT_ID, "key", "share"]]
    users = tpl.groupby("key")[S.ACCOUNT_ID].transform("nunique")
    tpl = tpl[users >= SYNC_GROUP_MIN]
    if tpl.empty:
        return empty
    best = (
        tpl.sort_values([S.ACCOUNT_ID, "share", "key"], ascending=[True, False, True])
        .drop_duplicates(S.ACCOUNT_ID)
        .set_index(S.ACCOUNT_ID)["key"]
    )
    sizes = best.map(best.value_counts())
    best = best[sizes >= SYNC_GROUP_MIN]
    if best.empty:
        return empty
    codes, keys = pd.factorize(best)  # on the keys themselves: uint64 must not pass float
    group = np.full(len(index), -1, dtype=np.int64)  # -1: no group
    group[index.get_indexer(best.index)] = codes
    grouped = group >= 0
    label = np.maximum(group, 0)
    in_core, aligned = aligned_core(
        parts, index, label, len(keys), grouped, context, ALIGN_LINK_MIN
    )
    core_size = np.bincount(label[in_core], minlength=len(keys))[label]
    group_size = np.bincount(label[grouped], minlength=len(keys))[label]
    core_links = (core_size >= SYNC_GROUP_MIN) & (core_size >= CORE_MIN_SHARE * group_size)
    surging = synchrony(parts, index, label, len(keys), grouped, context)
    linked = (in_core & (aligned >= ALIGN_LINK_MIN) & core_links) | (
        grouped & (surging >= SYNC_LINK_MIN)
    )
    if not linked.any():
        return empty
    key = np.asarray(keys, dtype=np.uint64)[group[linked]]
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: index.to_numpy()[linked],
            "kind": "template+synchrony",
            "token": _pair_token(key, np.zeros(len(key), dtype=np.uint64), len(PAIRED_KINDS)),
        }
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
    parts : the outputs of :func:`bucket_evidence`, one per bucket.
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
    tokens = _tokens(evidence, table, first_ts, context.window_start)
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
    member = pos.reindex(tokens[S.ACCOUNT_ID]).to_numpy()
    hub = tokens.groupby("token")[S.ACCOUNT_ID].transform("first")
    hub_pos = pos.reindex(hub).to_numpy()
    graph = sp.coo_matrix((np.ones(len(member)), (member, hub_pos)), shape=(n, n))
    n_comp, label = connected_components(graph, directed=False)
    comp_size = np.bincount(label, minlength=n_comp)
    size = comp_size[label].astype(np.float64)
    clustered = size >= 2

    # names: stable id from each cluster's smallest member
    order = np.lexsort((index.to_numpy(dtype=str), label))
    first_of = pd.Series(index.to_numpy()[order]).groupby(label[order]).first()
    names = np.array([cluster_id_for(str(v)) for v in first_of.to_numpy()], dtype=object)
    cluster_of = np.where(clustered, names[label], "")

    # combined behaviour
    window_days = context.window_days
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
    window_hours = (context.window_end - context.window_start) / 3600.0
    # a cluster already active when the window opened tells nothing by its start times
    started_inside = lo > context.window_start + ACTIVATION_MIN_OFFSET_S
    feats["cluster_activation_spread_hours"] = np.where(
        clustered & started_inside[label], (hi - lo)[label] / 3600.0, window_hours
    )
    if table is not None and S.CREATED_AT in table.columns:
        created = table[S.CREATED_AT]
        known = created.notna().to_numpy()
        cs = np.where(known, created.astype("int64").to_numpy() // 1_000_000_000, np.nan).astype(
            float
        )
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
        new = (known & (age_days < NEW_ACCOUNT_DAYS)).astype(float)
        new_share = np.bincount(label, weights=new, minlength=n_comp) / comp_size
        feats["cluster_new_member_share"] = np.where(clustered, new_share[label], 0.0)
    feats["cluster_requests_per_day"] = np.where(clustered, feats["cluster_requests_per_day"], 0.0)
    declared = _declared_org(table, label, n_comp, clustered)
    out = pd.DataFrame(feats, index=index)
    _neutralise(out, declared, window_hours)
    # a declared organisation is one customer, not a campaign: no cluster, no case
    cluster_of = np.where(declared, "", cluster_of)
    clustered = clustered & ~declared
    membership = pd.Series(cluster_of, index=index, name=S.CLUSTER_ID)

    # the cluster table: members and the evidence that linked them
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
    return Clusters(out, membership, ctable, evidence_kinds)


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


NEUTRAL_CLUSTER: dict[str, float] = {
    "cluster_size": 1.0,
    "cluster_requests_per_day": 0.0,
    "cluster_template_share": 0.0,
    "cluster_synchrony": 0.0,
    "cluster_creation_spread_hours": 8760.0,
    "cluster_new_member_share": 0.0,
}
"""Cluster features of an unlinked account (activation spread: the window's length)."""


def _neutralise(out: pd.DataFrame, rows: np.ndarray, window_hours: float) -> None:
    """Give ``rows`` the cluster features of an unlinked account, in place."""
    if not rows.any():
        return
    for name, value in NEUTRAL_CLUSTER.items():
        if name in out.columns:
            out.loc[rows, name] = value
    out.loc[rows, "cluster_activation_spread_hours"] = window_hours


def describe_evidence(kinds: dict[str, int]) -> str:
    """What linked a cluster in words, e.g. 'share a payment card and a prompt template,
    and were created together' (no ';': reasons are ';'-separated)."""
    present = {k for key, v in kinds.items() if v for k in key.split("+")}
    shared = [KIND_WORDS[k] for k in ("payment", "org", "template", "network") if k in present]
    timing = [
        w
        for k, w in (
            ("created", "were created together"),
            ("activation", "started together"),
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
