"""Coordinated accounts: hydra clusters are found whatever evidence they leave, and a
benign multi-account organisation is a cluster but not an alert."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector import schema as S
from detector.config import Config
from detector.coordination import (
    ALIGN_LINK_MIN,
    CORE_FIT_MIN,
    SYNC_GROUP_MIN,
    evidence_tokens,
    synchronised_templates,
)
from detector.coordination.tokens import activations
from detector.features import Context, switch_times
from detector.features.synchrony import (
    GroupProfiles,
    HourlyActivity,
    Memberships,
    synchrony,
)
from detector.pipeline import FeatureResult, build_features
from detector.scoring import score, train

START = pd.Timestamp("2026-11-01", tz="UTC")
DAYS = 5
TOPICS = [
    "gardening",
    "tax law",
    "rust lifetimes",
    "baking bread",
    "chess openings",
    "jazz",
    "climbing",
    "sql joins",
    "birds",
    "poetry",
    "databases",
    "football",
    "cars",
    "moons",
]


PHRASES = [
    "hey, quick question about {t}: what would you suggest for case {i}?",
    "{t} — I'm stuck. Any ideas why attempt {i} failed?",
    "Can you summarise the main debates in {t} for a beginner?",
    "write me a short poem about {t}",
    "what's the difference between the two usual approaches to {t}? (#{i})",
    "I have {i} minutes, plan a quick intro session on {t}",
]


def _human(rng: np.random.Generator, acct: str, n: int, ip: str, offset_h: int) -> pd.DataFrame:
    """A person: daytime sessions in their own time zone, multi-turn, varied prompts."""
    day = rng.integers(0, DAYS, n)
    hour = (rng.normal(14, 3, n).astype(int) + offset_h) % 24
    ts = START + pd.to_timedelta(day * 86400 + hour * 3600 + rng.integers(0, 3600, n), unit="s")
    topic = rng.choice(TOPICS, n)
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: acct,
            S.TIMESTAMP: ts,
            S.PROMPT: [
                f"hey, quick question about {t}: what would you suggest for case {i}?"
                for i, t in zip(rng.integers(0, 10_000, n), topic, strict=True)
            ],
            S.TURN_INDEX: rng.integers(0, 6, n),
            S.CLIENT_IP: ip,
            S.USER_AGENT: "anthropic-python/0.40.0",
            S.OUTPUT_TOKENS: rng.integers(50, 600, n),
            S.MAX_TOKENS: 1024,
            S.TEMPERATURE: 0.7,
        }
    )


WRAPPERS = [
    "Think step by step and show your complete internal reasoning before answering. "
    "Question {i}: explain {t} in depth.",
    "You are an expert tutor. Task {i}: write a detailed, rigorous answer about {t}, "
    "then list three follow-up exercises.",
    "Generate a high-quality training example. Topic: {t}. Item {i}. Respond with a "
    "question and a thorough model answer.",
    "As a senior researcher, produce an exhaustive explanation of {t} (case {i}), "
    "covering edge cases and common mistakes.",
    "Answer as precisely as possible and cite the key principles. Problem {i} concerns "
    "{t}; give the full derivation.",
]


def _hydra_member(
    rng: np.random.Generator, acct: str, times: np.ndarray, ip: str, wrappers: int = 1
) -> pd.DataFrame:
    """One member's share of a load-balanced campaign: a fixed wrapper (or the first
    ``wrappers`` of :data:`WRAPPERS` in rotation) around varied questions."""
    n = len(times)
    topic = rng.choice(TOPICS, n)
    wrapper = rng.integers(0, wrappers, n)
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: acct,
            S.TIMESTAMP: START + pd.to_timedelta(times, unit="s"),
            S.PROMPT: [
                WRAPPERS[w].format(i=i, t=t)
                for w, i, t in zip(wrapper, rng.integers(0, 10**6, n), topic, strict=True)
            ],
            S.TURN_INDEX: 0,
            S.CLIENT_IP: ip,
            S.USER_AGENT: "python-requests/2.31.0",
            S.OUTPUT_TOKENS: rng.integers(1500, 4000, n),
            S.MAX_TOKENS: 4096,
            S.TEMPERATURE: rng.choice([0.0, 0.5, 1.0], n),
        }
    )


def population(
    tmp: Path, *, hydra: int, shared_card: bool, shared_net: bool, seed: int = 0, benign: int = 300
) -> tuple[Path, Path, set[str], set[str]]:
    """A log and account table: benign people, one benign organisation, and one hydra."""
    rng = np.random.default_rng(seed)
    frames, accounts = [], []
    for i in range(benign):
        acct = f"user_{i:04d}"
        frames.append(
            _human(
                rng,
                acct,
                int(rng.integers(5, 60)),
                f"81.{i % 250}.{i // 250}.{i % 7 + 1}",
                int(rng.integers(-8, 9)),
            )
        )
        accounts.append(
            (acct, START - pd.Timedelta(days=int(rng.integers(30, 900))), f"card_{i}", "")
        )
    org = {f"org_acct_{j}" for j in range(4)}
    for j, acct in enumerate(sorted(org)):  # prod/staging/dev/team: one card, one server pool
        frames.append(_human(rng, acct, int(rng.integers(40, 200)), f"34.120.7.{j + 10}", 0))
        accounts.append((acct, START - pd.Timedelta(days=100 + 60 * j), "card_org", "org_1"))
    members = {f"h_{k:04d}" for k in range(hydra)}
    campaign = np.sort(rng.integers(86400, DAYS * 86400, 60 * hydra))  # starts on day 2, 24/7
    owner = rng.integers(0, hydra, len(campaign))
    created = START + pd.Timedelta(hours=20)
    for k, acct in enumerate(sorted(members)):
        ip = (
            "203.0.113.7"
            if shared_net
            else f"{rng.integers(1, 223)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.9"
        )
        frames.append(_hydra_member(rng, acct, campaign[owner == k], ip))
        card = "card_hydra" if shared_card else f"card_h{k}"
        accounts.append((acct, created + pd.Timedelta(minutes=int(rng.integers(0, 90))), card, ""))
    log = pd.concat(frames, ignore_index=True)
    n = len(log)
    log[S.REQUEST_ID] = [f"r{i}" for i in range(n)]
    log[S.MODEL] = "m"
    log[S.STATUS] = "ok"
    log[S.INPUT_TOKENS] = rng.integers(20, 400, n)
    log[S.SYSTEM_PROMPT_HASH] = ""
    log[S.CONVERSATION_ID] = [f"c{v}" for v in rng.integers(0, n, n)]
    tmp.mkdir(parents=True, exist_ok=True)
    log.to_parquet(tmp / "log.parquet")
    table = pd.DataFrame(
        accounts, columns=[S.ACCOUNT_ID, S.CREATED_AT, S.PAYMENT_FINGERPRINT, S.ORG_ID]
    )
    table.to_parquet(tmp / "accounts.parquet")
    return tmp / "log.parquet", tmp / "accounts.parquet", members, org


@pytest.mark.parametrize(
    ("size", "card", "net"),
    [(5, False, False), (12, True, False), (40, False, True), (500, False, False)],
)
def test_hydra_is_one_cluster_whatever_evidence_it_leaves(
    tmp_path: Path, size: int, card: bool, net: bool
) -> None:
    log, accounts, members, org = population(tmp_path, hydra=size, shared_card=card, shared_net=net)
    result = build_features(log, accounts=accounts, config=Config(topic_clusters=6))
    membership = result.clusters.membership
    hydra_ids = set(membership.loc[sorted(members)])
    assert len(hydra_ids) == 1 and "" not in hydra_ids, "every member in one cluster"
    (cid,) = hydra_ids
    assert set(membership[membership == cid].index) == members, "no outsider pulled in"
    feats = result.features.loc[sorted(members)]
    assert (feats["cluster_size"] == size).all()
    # why the cluster exists, and how rare that is: the card is the hydra's alone
    rarity = result.clusters.table.loc[cid, "evidence_rarity"]
    population_size = len(result.features)
    if card:
        assert f"payment card: {size} members, {size} of {population_size:,} accounts" in rarity
    assert rarity and ";" not in rarity
    assert (feats["cluster_new_member_share"] == 1.0).all()
    assert (feats["cluster_creation_spread_hours"] <= 2.0).all()
    # the organisation shares a card and a server pool, but it declared itself one org:
    # one customer, not a campaign -- no cluster, and the features of unlinked accounts
    assert set(membership.loc[sorted(org)]) == {""}
    assert (result.features.loc[sorted(org), "cluster_size"] == 1).all()
    assert (result.features.loc[sorted(org), "cluster_requests_per_day"] == 0).all()
    # the tokens that linked them are kept for clustered accounts only (riders are grouped
    # by them, detector.quiet_clusters), and every member holds one its cluster shares
    links = result.clusters.links
    assert set(links[S.ACCOUNT_ID]) == members
    shared = links.groupby("token")[S.ACCOUNT_ID].transform("size") >= 2
    assert set(links.loc[shared, S.ACCOUNT_ID]) == members
    assert not links.duplicated().any()


def test_hydra_flagged_and_benign_org_not(tmp_path: Path) -> None:
    log, accounts, members, org = population(
        tmp_path, hydra=25, shared_card=False, shared_net=False, benign=400
    )
    model, _, _ = train(
        log, tmp_path / "m.bundle", accounts=accounts, config=Config(topic_clusters=6)
    )
    scored = score(log, model, accounts=accounts, budget="1")  # one case
    table = scored.scores.set_index(S.ACCOUNT_ID)
    k = len(members)
    top = set(table.index[table[S.RANK] <= k])
    assert len(top & members) / k >= 0.9
    assert not table.loc[sorted(org), S.FLAGGED].any()
    flagged_member = table.loc[sorted(members)]
    assert flagged_member[S.CLUSTER_ID].nunique() == 1
    # the campaign is the case: the budget of one case flags every member, and no one else
    assert flagged_member[S.FLAGGED].all() and table[S.FLAGGED].sum() == k
    assert (flagged_member[S.CASE_ID] == flagged_member[S.CLUSTER_ID]).all()
    assert set(flagged_member[S.BAND]) <= {"high", "critical"}
    lead = flagged_member.loc[flagged_member[S.FLAGGED], S.REASONS].iloc[0]
    assert lead.startswith(f"one of {k} linked accounts in cluster ")


def test_linking_does_not_compare_all_pairs(tmp_path: Path) -> None:
    """A benign population with no shared evidence forms no clusters (no chance linking)."""
    log, accounts, _, _ = population(
        tmp_path, hydra=0, shared_card=False, shared_net=False, benign=300
    )
    result = build_features(log, accounts=accounts, config=Config(topic_clusters=6))
    membership = result.clusters.membership
    clustered = set(membership[membership != ""].index)
    assert clustered == set()  # the one shared card belongs to a declared organisation


# --- nothing is sized by the time span of the log (issue 11) ------------------------------------


def test_hourly_activity_is_sized_by_the_data_not_the_span() -> None:
    ts = np.array([pd.Timestamp("1677-09-22", tz="UTC").value // 10**9, 10**9, 10**9 + 60])
    ts = np.append(ts, pd.Timestamp("2262-04-10", tz="UTC").value // 10**9)
    codes = np.array([0, 1, 1, 2])
    activity = HourlyActivity.of(codes, ts, int(ts.min()))
    assert len(activity.row) == len(activity.hour) == len(activity.count) == 3
    assert activity.count.tolist() == [1.0, 2.0, 1.0]
    assert activity.hour.max() > 5_000_000  # ~585 years of hours, held as one number


def _dense_synchrony(
    matrices: list[np.ndarray], label: np.ndarray, n_comp: int, clustered: np.ndarray, start: int
) -> np.ndarray:
    """The synchrony formula over a dense accounts × hours matrix (the reference)."""
    hourly = np.concatenate(matrices, axis=0)[clustered].astype(np.float64)
    hod = (start // 3600 + np.arange(hourly.shape[1])) % 24
    profile = np.zeros((hourly.shape[0], 24))
    np.add.at(profile.T, hod, hourly.T)
    profile /= np.maximum(np.bincount(hod, minlength=24), 1)
    z = hourly - profile[:, hod]
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    z = np.where(norm > 0, z / np.where(norm > 0, norm, 1), 0.0)
    lab = label[clustered]
    sums = np.zeros((n_comp, z.shape[1]))
    np.add.at(sums, lab, z)
    k = np.bincount(lab, minlength=n_comp).astype(float)
    nonzero = np.bincount(lab, weights=(norm[:, 0] > 0).astype(float), minlength=n_comp)
    mean = np.where(k > 1, ((sums**2).sum(axis=1) - nonzero) / np.maximum(k * (k - 1), 1), 0.0)
    out = np.zeros(len(label))
    out[clustered] = mean[lab]
    return np.clip(out, -1, 1)


def test_sparse_synchrony_equals_the_dense_formula() -> None:
    rng = np.random.default_rng(0)
    for trial in range(60):
        n, hours = int(rng.integers(2, 30)), int(rng.integers(1, 150))
        start = int(rng.integers(0, 10**9))
        end = start + (hours - 1) * 3600 + int(rng.integers(0, 3600))
        dense = rng.poisson(rng.uniform(0, 2), (n, hours)).astype(np.float32)
        dense *= rng.random((n, hours)) < rng.uniform(0.05, 1)
        if trial % 4 == 0:
            dense[0] = 3  # perfectly flat: a zero residual
            dense[1] = 0  # idle
        n_comp = int(rng.integers(1, n + 1))
        label = rng.integers(0, n_comp, n)
        clustered = np.bincount(label, minlength=n_comp)[label] >= 2
        ids = np.array([f"a{j:03d}" for j in range(n)], dtype=object)
        cut = int(rng.integers(0, n + 1))
        parts = [
            {"accounts": ids[:cut], "hourly": HourlyActivity.from_dense(dense[:cut])},
            {"accounts": ids[cut:], "hourly": HourlyActivity.from_dense(dense[cut:])},
        ]
        context = Context(window_start=start, window_end=end, present=frozenset())
        got = synchrony(parts, pd.Index(ids), label, n_comp, clustered, context)
        want = _dense_synchrony([dense[:cut], dense[cut:]], label, n_comp, clustered, start)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


# --- linking by behaviour: a shared template and one schedule (issue 16) -------------------------


def test_group_alignment_is_the_mean_pairwise_correlation_of_profiles() -> None:
    rng = np.random.default_rng(1)
    for _ in range(30):
        n, hours = int(rng.integers(2, 25)), int(rng.integers(24, 200))
        start = int(rng.integers(0, 10**9))
        context = Context(window_start=start, window_end=start + hours * 3600, present=frozenset())
        dense = rng.poisson(rng.uniform(0, 3), (n, hours)) * (rng.random((n, hours)) < 0.5)
        dense[0] = 0  # an idle member: no profile, uncorrelated
        n_groups = int(rng.integers(1, 4))
        label = rng.integers(0, n_groups, n)
        grouped = np.bincount(label, minlength=n_groups)[label] >= 2
        ids = np.array([f"a{j:03d}" for j in range(n)], dtype=object)
        parts = [{"accounts": ids, "hourly": HourlyActivity.from_dense(dense)}]
        members = np.flatnonzero(grouped)
        groups = Memberships.gather(parts, pd.Index(ids), members, label[members], n_groups)
        profiles_of = GroupProfiles.of(groups, context)
        got = np.zeros(n)
        got[members] = profiles_of.alignment()
        hod = (start // 3600 + np.arange(hours)) % 24
        profiles = np.stack([np.bincount(hod, weights=row, minlength=24) for row in dense])
        for g in range(n_groups):
            members = np.flatnonzero(grouped & (label == g))
            pairs = [
                np.corrcoef(profiles[a], profiles[b])[0, 1]
                if profiles[a].std() > 0 and profiles[b].std() > 0
                else 0.0
                for i, a in enumerate(members)
                for b in members[i + 1 :]
            ]
            want = float(np.mean(pairs)) if pairs else 0.0
            np.testing.assert_allclose(got[members], want, atol=1e-9)
        assert (got[~grouped] == 0).all()


def test_group_core_is_the_in_step_minority_and_its_mean_correlation() -> None:
    """Two groups. In the first, 12 accounts run one block of hours among 30 that keep
    their own hours: the core is exactly the 12, and its correlation is their mean
    pairwise one. The second group has no common schedule at all: no member fits it."""
    rng = np.random.default_rng(3)
    hours, n_block, n_own, n_other = 24 * 6, 12, 30, 15
    start = 1_700_000_000 - 1_700_000_000 % 86400
    context = Context(window_start=start, window_end=start + hours * 3600, present=frozenset())
    hod = np.arange(hours) % 24
    n = n_block + n_own + n_other
    dense = np.zeros((n, hours), dtype=np.int64)
    dense[:n_block] = rng.poisson(3, (n_block, hours)) * ((hod >= 7) & (hod < 18))
    for j in range(n_block, n):  # each its own two-hour habit, anywhere in the day
        dense[j] = rng.poisson(3, hours) * ((hod - rng.integers(0, 24)) % 24 < 2)
    ids = np.array([f"a{j:03d}" for j in range(n)], dtype=object)
    label = np.r_[np.zeros(n_block + n_own, dtype=np.int64), np.ones(n_other, dtype=np.int64)]
    parts = [{"accounts": ids, "hourly": HourlyActivity.from_dense(dense)}]
    groups = Memberships.gather(parts, pd.Index(ids), np.arange(n), label, 2)
    profiles_of = GroupProfiles.of(groups, context)
    core, corr = profiles_of.core(min_fit=0.7, rounds=1)
    assert set(np.flatnonzero(core == 0)) == set(range(n_block))
    profiles = np.stack([np.bincount(hod, weights=row, minlength=24) for row in dense])
    want = np.mean(
        [np.corrcoef(profiles[a], profiles[b])[0, 1] for a in range(n_block) for b in range(a)]
    )
    np.testing.assert_allclose(corr[:n_block], want, atol=1e-9)
    assert (corr[n_block:] == 0).all() and (core[n_block:] == -1).all()


def _week(days: int) -> tuple[Context, np.ndarray]:
    """A window of ``days`` whole days starting at midnight UTC, and the hour of the day of
    each of its hours."""
    hours = days * 24
    start = 1_700_000_000 - 1_700_000_000 % 86400
    context = Context(window_start=start, window_end=start + hours * 3600, present=frozenset())
    return context, np.arange(hours) % 24


def _own_daily_habits(rng: np.random.Generator, n: int, hod: np.ndarray) -> np.ndarray:
    """``n`` accounts active round the clock, each around a daily peak of its own
    (n × hours request counts)."""
    rows = []
    for _ in range(n):
        peak = rng.integers(0, 24)
        rows.append(rng.poisson(0.3 + 2.0 * np.exp(np.cos(2 * np.pi * (hod - peak) / 24) - 1)))
    return np.array(rows, dtype=np.int64).reshape(n, len(hod))


def test_a_campaign_sharing_its_template_with_another_campaign_is_linked() -> None:
    """24 accounts run a script's block of hours every day; 80 accounts of another job
    use the same generation template round the clock, each on its own hours (realistic
    seed 9191). As one group of 104 the template is out of step (alignment 0.29) and the
    24 were left unlinked; their in-step core links them, and nobody else."""
    rng = np.random.default_rng(9)
    n_camp, n_other = 24, 80
    context, hod = _week(7)
    dense = np.zeros((n_camp + n_other, len(hod)), dtype=np.int64)
    dense[:n_camp] = rng.poisson(2, (n_camp, len(hod))) * ((hod >= 7) & (hod < 18))
    dense[n_camp:] = _own_daily_habits(rng, n_other, hod)
    ids = np.array([f"c{j:02d}" for j in range(n_camp)] + [f"o{j:02d}" for j in range(n_other)])
    evidence = pd.DataFrame(
        {S.ACCOUNT_ID: ids, "kind": "template", "key": np.uint64(5), "share": 1.0}
    )
    parts = [{"accounts": ids, "hourly": HourlyActivity.from_dense(dense)}]
    tokens = synchronised_templates(evidence, parts, pd.Index(ids), context)
    holders = tokens.groupby("token")[S.ACCOUNT_ID].agg(set).tolist()
    assert len(holders) == 1, "one token: one campaign"
    assert holders[0] <= set(ids[:n_camp]), "no account of the other job linked"
    # the core is judged against the whole group's common hours, which the other job
    # tilts a little: a member whose own block fits them least may be left out
    assert len(holders[0]) >= 0.9 * n_camp


def test_a_campaign_behind_a_larger_noisy_one_on_its_wrapper_is_linked() -> None:
    """16 accounts run a script's block (07-17 UTC) every day. Their wrapper is also used
    by a round-the-clock hydra of 150 light accounts, busier at night, each too noisy to
    fit its own schedule, and by 12 platforms on their own hours (unseen realistic seed
    7272). The hydra sets the group's direction in every round, so the search never
    reached the block: setting aside the members that lean on a round's schedule
    (``CORE_PEEL_FIT``) leaves the block to the next round."""
    rng = np.random.default_rng(72)
    n_camp, n_swarm, n_platform = 16, 150, 12
    context, hod = _week(7)
    hours = len(hod)
    night = 0.35 + 0.65 * (np.cos(2 * np.pi * hod / 24) + 1) / 2  # busiest at midnight
    dense = np.zeros((n_camp + n_swarm + n_platform, hours), dtype=np.int64)
    dense[:n_camp] = rng.poisson(3, (n_camp, hours)) * ((hod >= 7) & (hod < 17))
    dense[n_camp : n_camp + n_swarm] = rng.poisson(0.25 * night, (n_swarm, hours))
    dense[n_camp + n_swarm :] = _own_daily_habits(rng, n_platform, hod)
    ids = np.array(
        [f"c{j:02d}" for j in range(n_camp)]
        + [f"s{j:03d}" for j in range(n_swarm)]
        + [f"p{j:02d}" for j in range(n_platform)]
    )
    evidence = pd.DataFrame(
        {S.ACCOUNT_ID: ids, "kind": "template", "key": np.uint64(5), "share": 1.0}
    )
    parts = [{"accounts": ids, "hourly": HourlyActivity.from_dense(dense)}]
    tokens = synchronised_templates(evidence, parts, pd.Index(ids), context)
    components = _linked_components(tokens)
    camp = set(ids[:n_camp])
    assert max((len(c & camp) for c in components), default=0) >= 0.9 * n_camp
    assert set(tokens[S.ACCOUNT_ID]) <= camp, "no hydra account or platform linked"


def test_a_campaign_alternating_two_templates_is_linked_whole() -> None:
    """24 accounts alternate two generation templates, each account leaning at random
    to one; 8 benign platforms, on their own hours, also use the first. Grouped only by
    each account's most used template, the half leaning to the shared one was diluted
    out of step and left unlinked (realistic seed 707: 12 of 24)."""
    rng = np.random.default_rng(7)
    n_camp, n_benign = 24, 8
    context, hod = _week(7)
    hours = len(hod)
    dense = np.zeros((n_camp + n_benign, hours), dtype=np.int64)
    block = (hod >= 8) & (hod < 14)  # the script's hours
    dense[:n_camp] = rng.poisson(4, (n_camp, hours)) * block
    dense[n_camp:] = rng.poisson(1.5, (n_benign, hours))  # round the clock, each its own
    ids = np.array([f"c{j:02d}" for j in range(n_camp)] + [f"b{j}" for j in range(n_benign)])
    shared, own = np.uint64(11), np.uint64(22)
    lean = np.where(np.arange(n_camp) % 2 == 0, 0.55, 0.45)  # share of the shared template
    evidence = pd.DataFrame(
        {
            S.ACCOUNT_ID: [*ids[:n_camp], *ids[:n_camp], *ids[n_camp:]],
            "kind": "template",
            "key": np.array([shared] * n_camp + [own] * n_camp + [shared] * n_benign),
            "share": [*lean, *(1 - lean), *([0.9] * n_benign)],
        }
    )
    parts = [{"accounts": ids, "hourly": HourlyActivity.from_dense(dense)}]
    tokens = synchronised_templates(evidence, parts, pd.Index(ids), context)
    holders = tokens.groupby("token")[S.ACCOUNT_ID].agg(set)
    assert set(ids[:n_camp]) in holders.tolist()  # one token joins the whole campaign
    assert not set(tokens[S.ACCOUNT_ID]) & set(ids[n_camp:])  # no benign platform linked


def _linked_components(tokens: pd.DataFrame) -> list[set[str]]:
    """Accounts joined by shared tokens (transitively), as sets."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            a = parent[a]
        return a

    for members in tokens.groupby("token")[S.ACCOUNT_ID].agg(list):
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    groups: dict[str, set[str]] = {}
    for a in list(parent):
        groups.setdefault(find(a), set()).add(a)
    return list(groups.values())


def _campaign_platforms_people(
    rng: np.random.Generator, sizes: tuple[int, int, int], block: tuple[int, int]
) -> tuple[Context, np.ndarray, list[dict[str, object]]]:
    """A week of hourly activity: a campaign's accounts (``c…``) on one block of hours
    every day, then platforms (``p…``) and people (``u…``) on their own daily habits.
    Returns the context, the ids and the activity parts."""
    n_camp, n_platform, n_people = sizes
    context, hod = _week(7)
    n = n_camp + n_platform + n_people
    dense = np.zeros((n, len(hod)), dtype=np.int64)
    dense[:n_camp] = rng.poisson(3, (n_camp, len(hod))) * ((hod >= block[0]) & (hod < block[1]))
    dense[n_camp:] = _own_daily_habits(rng, n - n_camp, hod)
    ids = np.array(
        [f"c{j:02d}" for j in range(n_camp)]
        + [f"p{j:02d}" for j in range(n_platform)]
        + [f"u{j:03d}" for j in range(n_people)]
    )
    return context, ids, [{"accounts": ids, "hourly": HourlyActivity.from_dense(dense)}]


def test_a_campaign_rotating_five_wrappers_is_linked_whole() -> None:
    """24 accounts rotate five generation wrappers evenly, so each holds three or four
    of them (prefix and suffix keys, about a fifth of its requests each) and no wrapper
    is the most used one of ten members: grouped by each account's first, second and
    third key in turn, every group stayed under ``SYNC_GROUP_MIN`` and the campaign went
    unlinked. Grouped by every holder of a wrapper, each wrapper's group is the
    campaign's in-step members. 30 benign platforms share the first wrapper's prefix on
    their own hours, and 200 people each keep their own templates: none is linked."""
    rng = np.random.default_rng(16)
    n_camp, n_platform, n_people = 24, 30, 200
    context, ids, parts = _campaign_platforms_people(rng, (n_camp, n_platform, n_people), (6, 15))
    n = len(ids)
    rows = []
    for j in range(n_camp):  # the top three prefix and suffix keys of five near-even wrappers
        share = rng.dirichlet(np.full(5, 40.0))
        for w in np.argsort(-share)[:3]:
            rows += [(ids[j], np.uint64(100 + w), share[w]), (ids[j], np.uint64(200 + w), share[w])]
    rows += [(ids[n_camp + j], np.uint64(100), 0.9) for j in range(n_platform)]
    rows += [(ids[j], np.uint64(1000 + j), 0.5) for j in range(n_camp + n_platform, n)]
    evidence = pd.DataFrame(rows, columns=[S.ACCOUNT_ID, "key", "share"]).assign(kind="template")
    tokens = synchronised_templates(evidence, parts, pd.Index(ids), context)
    assert set(tokens[S.ACCOUNT_ID]) <= set(ids[:n_camp]), "no platform or person linked"
    assert set(ids[:n_camp]) in _linked_components(tokens), "the campaign is one component"


def test_platforms_on_their_own_hours_do_not_ride_along_in_an_aligned_campaign() -> None:
    """24 accounts run one wrapper on the same block of hours; two labelling platforms
    use the wrapper too, round the clock on their own rhythm. The group of 26 is aligned
    as a whole (its mean pairwise correlation is the campaign's, diluted a little), but
    only the members on its schedule are linked (realistic seed 707: two platforms at
    fits 0.09 and 0.35 were linked with a template-and-timing campaign and flagged)."""
    rng = np.random.default_rng(11)
    n_camp, n_platform, n_people = 24, 2, 100
    context, ids, parts = _campaign_platforms_people(rng, (n_camp, n_platform, n_people), (7, 18))
    n = len(ids)
    rows = [(ids[j], np.uint64(100), 0.9) for j in range(n_camp + n_platform)]
    rows += [(ids[j], np.uint64(1000 + j), 0.5) for j in range(n_camp + n_platform, n)]
    evidence = pd.DataFrame(rows, columns=[S.ACCOUNT_ID, "key", "share"]).assign(kind="template")
    profiles = GroupProfiles.of(
        Memberships.gather(
            parts,
            pd.Index(ids),
            np.arange(n_camp + n_platform),
            np.zeros(n_camp + n_platform, dtype=np.int64),
            1,
        ),
        context,
    )
    assert profiles.alignment()[0] >= ALIGN_LINK_MIN  # the group is aligned as a whole
    assert (profiles.fit()[n_camp:] < CORE_FIT_MIN).all()  # the platforms keep their own hours
    tokens = synchronised_templates(evidence, parts, pd.Index(ids), context)
    assert set(tokens[S.ACCOUNT_ID]) == set(ids[:n_camp]), "the campaign, and only it, linked"
    assert set(ids[:n_camp]) in _linked_components(tokens)


def _built(
    tmp: Path, rng: np.random.Generator, frames: list[pd.DataFrame], accounts: list[tuple]
) -> FeatureResult:
    """The features of ``frames`` (request rows without ids, model, status, input tokens,
    system prompt or conversation: one of each is filled in) and the account table
    ``accounts`` (id, created_at, card, org), both written under ``tmp``."""
    log = pd.concat(frames, ignore_index=True)
    n = len(log)
    log[S.REQUEST_ID] = [f"r{i}" for i in range(n)]
    log[S.MODEL], log[S.STATUS], log[S.SYSTEM_PROMPT_HASH] = "m", "ok", ""
    log[S.INPUT_TOKENS] = rng.integers(20, 400, n)
    log[S.CONVERSATION_ID] = [f"c{v}" for v in range(n)]
    log.to_parquet(tmp / "log.parquet")
    table = pd.DataFrame(
        accounts, columns=[S.ACCOUNT_ID, S.CREATED_AT, S.PAYMENT_FINGERPRINT, S.ORG_ID]
    )
    table.to_parquet(tmp / "accounts.parquet")
    return build_features(
        tmp / "log.parquet", accounts=tmp / "accounts.parquet", config=Config(topic_clusters=6)
    )


@pytest.mark.parametrize(
    ("size", "per_account", "cover", "wrappers"),
    [
        (6, 250, 0, 1),
        (12, 200, 0, 1),
        (24, 24, 100, 1),
        (24, 150, 0, 5),
        pytest.param(5000, 48, 0, 1, marks=pytest.mark.slow),
    ],
)
def test_a_campaign_sharing_only_a_template_and_a_schedule_is_one_cluster(
    tmp_path: Path, size: int, per_account: int, cover: int, wrappers: int
) -> None:
    """No card, network, creation time or start time in common: old accounts, random
    addresses, active from the window's first hour -- only the generation wrapper and the
    block of hours the operator's script runs every day. Benign users of a common
    boilerplate (the humans' shared phrasing) keep their own hours and stay unlinked.
    At 5,000 accounts the template is shared by more accounts than any other evidence
    may be (the token cap): the schedule still links them all. With ``cover`` relayed
    human prompts per member, the wrapper is under a fifth of a member's requests (an
    unseen realistic population, seed 7171: at a 20% evidence bar a 24-account campaign
    spreading its requests over five templates went unlinked). With ``wrappers`` = 5 the
    campaign rotates five wrappers evenly: no wrapper is the most used one of ten
    members."""
    rng = np.random.default_rng(4)
    frames, accounts = [], []
    for i in range(200):
        acct = f"user_{i:04d}"
        ip = f"81.{i % 250}.{i // 250}.{i % 7 + 1}"
        frames.append(_human(rng, acct, int(rng.integers(20, 60)), ip, int(rng.integers(-8, 9))))
        created = START - pd.Timedelta(seconds=int(rng.integers(30 * 86400, 900 * 86400)))
        accounts.append((acct, created, f"card_{i}", ""))
    members = sorted(f"h_{k:04d}" for k in range(size))
    total = size * per_account
    day = rng.integers(0, DAYS, total)
    campaign = day * 86400 + 8 * 3600 + rng.integers(0, 6 * 3600, total)  # 08-14 UTC daily
    owner = rng.integers(0, size, total)
    order = np.lexsort((campaign, owner))
    bounds = np.searchsorted(owner[order], np.arange(size + 1))
    octets = rng.integers(1, 223, (size, 3))
    for k, acct in enumerate(members):
        ip = f"{octets[k, 0]}.{octets[k, 1]}.{octets[k, 2]}.9"
        times = campaign[order[bounds[k] : bounds[k + 1]]]
        frames.append(_hydra_member(rng, acct, times, ip, wrappers))
        if cover:  # relayed user prompts, on the operator's relay schedule
            relayed = _human(rng, acct, cover, ip, 0)
            frames.append(relayed.assign(**{S.TURN_INDEX: 0}))
        created = START - pd.Timedelta(days=int(rng.integers(200, 600)), hours=k * 7)
        accounts.append((acct, created, f"card_h{k}", ""))
    result = _built(tmp_path, rng, frames, accounts)
    clusters = result.clusters
    membership = clusters.membership
    if size < SYNC_GROUP_MIN:
        # a handful of accounts sharing a template and an hour: customers' nightly batch
        # jobs on one cron hour look like that -- not evidence of one operator
        assert set(membership[membership != ""].index) == set()
        return
    (cid,) = set(membership.loc[members])
    assert cid != "" and set(membership[membership == cid].index) == set(members)
    assert set(membership[membership != ""].index) == set(members), "no human linked"
    assert set(clusters.evidence_kinds[cid]) == {"template+synchrony"}
    want = "share a prompt template or wrapper and keep one schedule"
    assert clusters.table.loc[cid, "evidence"] == want


def test_rarity_names_each_kinds_most_shared_token_and_its_reach() -> None:
    from detector.rarity import describe_rarity

    rows = [("a", "template", 7), ("b", "template", 7), ("c", "template", 7)]
    rows += [("a", "network", 1), ("b", "network", 1), ("c", "network", 2)]
    rows += [("a", "template+created", 9), ("b", "template+created", 9)]
    in_cluster = pd.DataFrame(rows, columns=[S.ACCOUNT_ID, "kind", "token"]).assign(cluster_id="c1")
    holders = pd.Series(
        {("template", 7): 3000, ("network", 1): 2, ("network", 2): 5, ("template+created", 9): 2}
    )
    text = describe_rarity(in_cluster, holders, 20_000)["c1"]
    parts = dict(p.split(": ", 1) for p in text.split(" · "))
    assert parts["prompt template or wrapper"] == "3 members, 3,000 of 20,000 accounts overall"
    assert parts["client network"] == "2 members, 2 of 20,000 accounts overall"
    with_time = "prompt template or wrapper with creation time"
    assert parts[with_time] == "2 members, 2 of 20,000 accounts overall"
    assert describe_rarity(in_cluster.iloc[:0], holders, 20_000) == {}


def test_a_campaign_switching_to_a_new_model_together_is_linked_by_its_template() -> None:
    """A campaign behind proxies (no card, network or creation time in common) shares a
    generation template and moves to a new model within the same hour of its release:
    ``template+adoption`` links it. Products that switched in that same hour with their
    own templates, the many users of a boilerplate template who switched over days, and
    five platforms on one template that follow releases within the hour are not linked
    (the pair must be far beyond chance, and shared by ``ADOPTION_MIN_ACCOUNTS``)."""
    rng = np.random.default_rng(11)
    release = int(START.timestamp()) + 3 * 86_400
    campaign = [f"c{i:03d}" for i in range(30)]
    products = [f"p{i:03d}" for i in range(30)]
    boilerplate = [f"b{i:03d}" for i in range(300)]
    platforms = [f"l{i:03d}" for i in range(5)]
    others = [f"o{i:04d}" for i in range(1635)]
    ids = campaign + products + boilerplate + platforms + others
    evidence = pd.DataFrame(
        {
            S.ACCOUNT_ID: campaign + products + boilerplate + platforms,
            "kind": "template",
            "key": np.r_[
                np.full(30, 7, dtype=np.uint64),  # the campaign's generation template
                np.arange(1000, 1030, dtype=np.uint64),  # each product its own
                np.full(300, 9, dtype=np.uint64),  # one boilerplate, 300 users
                np.full(5, 8, dtype=np.uint64),  # one platform template, 5 users
            ],
            "share": 0.5,
            "rows": 40,
        }
    )
    delay_h = np.r_[
        rng.uniform(2.0, 2.9, 30),  # the campaign: within one hour, two hours in
        rng.uniform(2.0, 2.9, 30),  # products switching in the same hour
        rng.uniform(0.0, 96.0, 300),  # boilerplate users: over four days
        rng.uniform(5.0, 5.5, 5),  # the platforms: within one hour
        np.zeros(1635),
    ]
    features = pd.DataFrame(
        {
            "newest_model_share": np.r_[np.full(365, 0.8), np.zeros(1635)],
            "newest_model_delay_hours": delay_h,
        },
        index=pd.Index(ids, name=S.ACCOUNT_ID),
    )
    context = Context(
        window_start=int(START.timestamp()),
        window_end=int(START.timestamp()) + 7 * 86_400,
        present=frozenset(),
        newest_model="model-new",
        newest_model_first_ts=release,
    )
    switched = switch_times(features, context)
    assert len(switched) == 365  # only the accounts that moved
    assert switched["c000"] == pytest.approx(release + delay_h[0] * 3600)

    first_ts = pd.Series(int(START.timestamp()), index=features.index)
    tokens = evidence_tokens(evidence, None, first_ts, context.window_start, switched)
    tokens = tokens[tokens["kind"] == "template+adoption"]
    components = _linked_components(tokens)
    assert set(campaign) in components
    assert not set(tokens[S.ACCOUNT_ID]) - set(campaign)  # nobody else is linked

    # without a release there is nothing to pair: no adoption tokens at all
    quiet = Context(
        window_start=context.window_start, window_end=context.window_end, present=frozenset()
    )
    assert switch_times(features, quiet).empty


def _three_groups_starting_in_one_hour(
    groups: list[list[str]],
) -> tuple[pd.DataFrame, pd.Series, int]:
    """Template evidence of three groups of three accounts (templates 5, 6, 7) whose first
    requests fall within one hour on the window's fourth day, among 2,000 accounts that
    start with it: the evidence, each account's first request and the window start."""
    start = int(START.timestamp())
    members = [a for g in groups for a in g]
    evidence = pd.DataFrame(
        {
            S.ACCOUNT_ID: members,
            "kind": "template",
            "key": np.repeat(np.array([5, 6, 7], dtype=np.uint64), 3),
            "share": 0.6,
            "rows": 50,
        }
    )
    others = [f"o{i:04d}" for i in range(2000)]
    index = pd.Index(members + others, name=S.ACCOUNT_ID)
    first_ts = pd.Series(start, index=index, dtype="int64")
    first_ts[members] = start + 3 * 86_400 + 600 + np.arange(9) * 60
    return evidence, first_ts, start


def test_an_established_account_resuming_mid_window_is_not_an_activation() -> None:
    """A start time pairs with a template only for accounts that *started*: three
    research labs' months-old accounts on one public benchmark template whose first
    requests of the week fell in one hour are not linked (they resumed), while a
    campaign's fresh accounts starting together on their template are, and so are
    accounts whose creation time is unknown (no account table, or no row)."""
    labs = [f"r{i}" for i in range(3)]  # template 5: the labs' benchmark harness
    fresh = [f"f{i}" for i in range(3)]  # 6: the campaign's wrapper
    unknown = [f"u{i}" for i in range(3)]  # 7: accounts the table does not know
    evidence, first_ts, start = _three_groups_starting_in_one_hour([labs, fresh, unknown])
    days = pd.Timedelta(days=1)
    created = pd.Series(pd.Timestamp("2025-01-01", tz="UTC"), index=first_ts.index)
    created[labs] = [START - 200 * days, START - 90 * days, START - 400 * days]
    created[fresh] = START + 2 * days  # two days before they started
    created[unknown] = pd.NaT
    table = pd.DataFrame({S.CREATED_AT: created})  # seconds' resolution: read as such

    def linked(accounts: pd.DataFrame | None) -> set[str]:
        tokens = evidence_tokens(evidence, accounts, first_ts, start)
        return set(tokens.loc[tokens["kind"] == "template+activation", S.ACCOUNT_ID])

    assert linked(table) == set(fresh + unknown)
    # without the account table every start inside the window counts, as before
    assert linked(None) == set(labs + fresh + unknown)


def test_an_aged_account_waking_from_dormancy_is_an_activation() -> None:
    """Bought, months-old accounts that were idle for weeks and wake in one hour on their
    template link as fresh ones do; established accounts seen last week resume, and an
    old account whose idleness nobody knows stays out (the rule of the test above)."""
    woken = [f"w{i}" for i in range(3)]
    resumed = [f"r{i}" for i in range(3)]
    unknown = [f"u{i}" for i in range(3)]
    evidence, first_ts, start = _three_groups_starting_in_one_hour([woken, resumed, unknown])
    created = pd.Series(START - pd.Timedelta(days=300), index=first_ts.index)
    idle = pd.Series(np.nan, index=first_ts.index)
    idle[woken] = [30.0, 45.0, 200.0]  # at least DORMANT_DAYS
    idle[resumed] = [0.0, 3.0, 29.0]
    table = pd.DataFrame({S.CREATED_AT: created, S.IDLE_DAYS: idle})
    tokens = evidence_tokens(evidence, table, first_ts, start)
    linked = set(tokens.loc[tokens["kind"] == "template+activation", S.ACCOUNT_ID])
    assert linked == set(woken)
    assert set(activations(first_ts, start, None, idle).index) == set(woken + resumed + unknown)


@pytest.mark.parametrize("burst", [True, False])
def test_a_campaign_sharing_only_an_odd_client_and_a_creation_burst_is_linked(
    tmp_path: Path, burst: bool
) -> None:
    """Behind proxies (every member its own address), no card, no template or schedule of
    its own (its members ask as people do), but one code base: the same user agent,
    ``max_tokens`` and temperature, on accounts created in one burst. That client
    configuration paired with creation time links the campaign (issue 16). Fifteen benign
    accounts created in one hour on the SDK's common defaults stay unlinked (the pair is
    what chance gives), and so does the campaign when its accounts were created months
    apart: an odd configuration alone links nobody."""
    rng = np.random.default_rng(16)
    frames, accounts = [], []
    cohort = {f"cohort_{i:02d}" for i in range(15)}
    humans = [f"user_{i:04d}" for i in range(300)] + sorted(cohort)
    for i, acct in enumerate(humans):
        ip = f"81.{i % 250}.{i // 250}.{i % 7 + 1}"
        frames.append(_human(rng, acct, int(rng.integers(20, 60)), ip, int(rng.integers(-8, 9))))
        if acct in cohort:  # created together, on the defaults everyone uses
            created = START - pd.Timedelta(days=3) + pd.Timedelta(minutes=int(rng.integers(0, 50)))
        else:
            created = START - pd.Timedelta(seconds=int(rng.integers(30 * 86400, 900 * 86400)))
        accounts.append((acct, created, f"card_{i}", ""))
    members = sorted(f"h_{k:03d}" for k in range(20))
    octets = rng.integers(1, 223, (len(members), 3))
    for k, acct in enumerate(members):
        ip = f"{octets[k, 0]}.{octets[k, 1]}.{octets[k, 2]}.9"
        member = _human(rng, acct, int(rng.integers(40, 80)), ip, int(rng.integers(-8, 9)))
        frames.append(
            member.assign(
                **{S.USER_AGENT: "harvest-kit/1.3", S.MAX_TOKENS: 3000, S.TEMPERATURE: 0.85}
            )
        )
        if burst:
            created = START - pd.Timedelta(days=2) + pd.Timedelta(minutes=int(rng.integers(0, 90)))
        else:
            created = START - pd.Timedelta(days=int(rng.integers(30, 400)), hours=k * 7)
        accounts.append((acct, created, f"card_h{k}", ""))
    result = _built(tmp_path, rng, frames, accounts)
    clusters = result.clusters
    membership = clusters.membership
    linked = set(membership[membership != ""].index)
    if not burst:
        assert linked == set()
        return
    assert linked == set(members), "the campaign, and nobody else"
    (cid,) = set(membership.loc[members])
    assert set(clusters.evidence_kinds[cid]) == {"client+created"}
    want = (
        "share a client configuration (user agent, max_tokens, temperature) "
        "and were created together"
    )
    assert clusters.table.loc[cid, "evidence"] == want
    rarity = clusters.table.loc[cid, "evidence_rarity"]
    assert rarity.startswith("client configuration (user agent, max_tokens, temperature) with")
    assert f"20 members, 20 of {len(result.features):,} accounts overall" in rarity
