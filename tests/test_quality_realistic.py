"""The quality floor on a realistic population: most accounts small, ~1% extraction.

On the default population heavy products are a large share of accounts, so *unusual*
and *extracting* coincide and PR-AUC is ~0.99. The realistic world (``--population
realistic``, see detector.simulate) looks like a provider's gateway: thousands of
hobbyists and developers, a few percent heavy products including benign traps (judge
and labelling platforms, an evaluation company, permitted safety benchmarking,
research labs sharing a card), and extraction run by competent operators. It is much
harder: these floors guard what the detector reaches there, at a seed it was not tuned
on (tuning used 11 and 12), on a smaller population than the 20,000-account default
so that CI stays quick.

Measured at this seed and size (6,000 accounts, 7 days): PR-AUC 0.64 before cases,
0.63 in session 4 (permitted safety benchmarking 17% -> 0% flagged), 0.74 in session 5
(the conversation features, two size features dropped): the hydras that share a card
or a network and the one that shares nothing are linked and ranked; of the quiet kinds,
plain distillation 0% -> 40% flagged and mixed cover 67%, low-and-slow still 0%.
0.741 -> 0.790 in session 8 (the conversation family weighs 3 in the blend): mixed
cover 67% -> 100% and plain distillation 0% -> 20% within the top k. 0.790 -> 0.825 in
session 9 (the full forest a quarter of the blend, families floored at their median):
plain distillation 40% -> 80% flagged, low-and-slow 0% -> 20%. 0.833 -> 0.857 in
session 13 (conversation weighs 4 and adoption 3): flagged 60 -> 52 accounts, flag
precision 0.77 -> 0.85, global chat products 17% -> 8% and the evaluation researchers
12% -> 4% flagged, plain distillation 40% -> 60% within the top k. 0.857 -> 0.898 in
session 13 (the tail score weighs each feature by its family): the quiet kinds 4 -> 8 of
13 flagged and 6 -> 10 of 13 within the top k, flag precision 0.85 -> 0.92. 0.898 ->
0.933 in session 14 (the model tier: the share of requests on the most capable models).

Every window the simulator made held a model release, and the adoption evidence carries
much of the ranking there; most weeks of real traffic have none. So the same population
is also scored as a week without a release (``simulate(..., release=False)``): 0.816
when it was first measured (session 14), 0.870 with the model tier. Floors are per week.

Session 15 (a cluster is scored on what it does, detector.quiet_clusters): 0.933 ->
0.943 with a release, 0.870 -> 0.890 without; classroom cohorts 2.1% -> 0% flagged in
the week without one. Session 17 (the steady topic model, topic coverage no longer
scored): 0.944 -> 0.961 with a release, 0.890 -> 0.899 without; translation jobs 5.6% ->
0% flagged in both weeks.
"""

from __future__ import annotations

import pandas as pd
import pytest

from detector import schema as S
from detector.evaluate import evaluate
from detector.ingest import read_labels
from detector.scoring import score, train
from detector.simulate import simulate

pytestmark = pytest.mark.slow

SEED = 31
ACCOUNTS = 6000
WEEKS = ("release", "no release")
"""The two windows each floor is held on: with a model release mid-window, without one."""
PR_AUC_FLOOR = {"release": 0.94, "no release": 0.88}
HYDRAS = ("hydra_shared_card", "hydra_shared_network", "hydra_no_shared_infra")
HYDRA_TOP_K_FLOOR = 0.7
HYDRA_CLUSTERED_FLOOR = 0.7
BENIGN_COORDINATION = ("multi_account_org", "classroom_cohort", "research_org")
BENIGN_COORDINATION_CEILING = 0.03
"""Research labs (5-15 accounts sharing a card, an org and a network): 0% / 1.4% (1 of
71) flagged in session 25, when an established account's first request of the week
stopped counting as a start (three labs on one public benchmark template had been joined
into one cluster by it at realistic seed 8484, 4.6% flagged there).
Classroom cohorts: 3-5% flagged until session 4; 6.6% in session 5 -- one classroom of 30
linked new accounts, some of whose members are flagged on their own scores
(cluster novelty, newest model), is 19 of the 286 classroom accounts at this size;
0.3% / 2.1% (with / without a release) in session 14, 0% / 0% since quiet clusters are
scored as unlinked (session 15). Multi-account organisations: 1 of 69 (1.4%)."""
QUIET_COHORTS_AS_CLUSTER_CEILING = 0.1
"""Share of the classroom cohorts' clusters still scored as clusters (session 15: 0 of
N at this seed in either week; their median member's behaviour score sits at 0.1-0.3,
the hydras' at 0.5-1.0, the cut at twice the training median, ~0.35)."""
SMALL_ACCOUNTS = ("hobbyist", "developer_testing", "small_app", "new_signup")
SMALL_CEILING = {"release": 0.01, "no release": 0.02}
"""Without a release 6 of 596 small apps (1.01%) were flagged (session 14); 0 with one."""
SUITE_CEILINGS = {"safety_benchmarking": 0.05, "evaluation_company": 0.1}
"""Permitted use that re-runs fixed suites. Safety benchmarking: 17% flagged before a
suite's re-runs stopped counting as content, 0% after. The evaluation company: 0% with
an account-counted budget, 17% (2 of 12) since the default budget counts cases (2% of
the cases is more accounts than 2% of the accounts), 0% since a suite's re-runs on a new
model stopped counting as adoption."""
QUIET = ("plain_distillation", "low_and_slow", "mixed_cover")
QUIET_FLAGGED_FLOOR = 0.84
"""Share of the quiet kinds' accounts flagged, together (13 accounts at this size): 0
before session 5, 4 of 13 after, 8 of 13 in session 9, 5 of 13 since session 10: the default
threshold (five bulk spreads, not 2% of the cases) flags fewer accounts here, 505 -> 332
at seed 303 (precision 0.38 -> 0.57), and the quiet kinds are the nearest to the line.
4 of 13 since session 13: the conversation and adoption weights rank them higher (see
``QUIET_TOP_K_FLOOR``) but flag fewer accounts in all (60 -> 52), and one mixed-cover
account fell under the line; 8 of 13 once the tail score weighs features by family; 10 of
13 with the model tier, in either week. Session 38 (a lone short question counts whatever
system prompt it carries): 11 -> 12 of 13 with a release, 10 -> 12 without."""
QUIET_TOP_K_FLOOR = {"release": 0.84, "no release": 0.84}
"""Share of the quiet kinds' accounts within the top k, together: 5 of 13 before session
13, 6 of 13 with the new family weights (plain distillation 2 -> 3 of 5), 10 of 13 with
the weighted tail score (plain distillation 5 of 5, low-and-slow 0 -> 2 of 5), 10 of 13 in
either week with the model tier. Session 17 (the steady topic model): 11 of 13 with a
release (low-and-slow 2 -> 3 of 5), 9 of 13 without one (one plain-distillation account
ranks just past k, still flagged: the quiet kinds stay 10 of 13 flagged). 10 of 13 with a
release once established accounts starting late no longer count as ramping (one
low-and-slow account fewer), 9 of 13 without (PR-AUC 0.962 / 0.906). Session 38: 13 of
13 with a release, 10 -> 12 of 13 without (low-and-slow 2 -> 4 of 5; PR-AUC 0.975 /
0.925 -> 0.976 / 0.929)."""


Scored = tuple[pd.DataFrame, pd.DataFrame, dict, str, pd.DataFrame]
"""Score table, labels, evaluation, which week (:data:`WEEKS`) and the cluster table."""


@pytest.fixture(scope="module", params=WEEKS)
def scored(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Scored:
    week = request.param
    root = tmp_path_factory.mktemp("realistic")
    simulate(
        root / "sim",
        accounts=ACCOUNTS,
        days=7,
        seed=SEED,
        population="realistic",
        release=week == "release",
    )
    log, accounts = root / "sim" / "requests", root / "sim" / "accounts.parquet"
    model, _, _ = train(log, root / "model.bundle", accounts=accounts)
    result = score(log, model, accounts=accounts)
    labels = read_labels(root / "sim" / "labels.csv")
    clusters = result.clusters.table if result.clusters is not None else pd.DataFrame()
    return result.scores, labels, evaluate(result.scores, labels), week, clusters


def test_overall_separation(scored: Scored) -> None:
    _, _, ev, week, _ = scored
    assert ev["pr_auc"] >= PR_AUC_FLOOR[week], ev["pr_auc"]
    assert ev["roc_auc"] >= 0.9


def test_hydras_are_linked_and_ranked(scored: Scored) -> None:
    scores, labels, ev, _, _ = scored
    cluster = scores.set_index(S.ACCOUNT_ID)[S.CLUSTER_ID]
    for name in HYDRAS:
        ids = labels.loc[labels["scenario"] == name, S.ACCOUNT_ID]
        assert ev["per_scenario"][name]["share_in_top_k"] >= HYDRA_TOP_K_FLOOR, name
        assert (cluster.reindex(ids) != "").mean() >= HYDRA_CLUSTERED_FLOOR, name


def test_benign_coordination_and_small_accounts_are_not_flagged(scored: Scored) -> None:
    per, week = scored[2]["per_scenario"], scored[3]
    for name in BENIGN_COORDINATION:
        assert per[name]["share_flagged"] <= BENIGN_COORDINATION_CEILING, name
    for name in SMALL_ACCOUNTS:
        assert per[name]["share_flagged"] <= SMALL_CEILING[week], name


def test_permitted_benchmarking_is_not_flagged(scored: Scored) -> None:
    """Safety benchmarking is permitted use; training a competitor is not."""
    per = scored[2]["per_scenario"]
    shares = {name: per[name]["share_flagged"] for name in SUITE_CEILINGS}
    assert all(shares[name] <= ceiling for name, ceiling in SUITE_CEILINGS.items()), shares


def test_quiet_extraction_is_flagged(scored: Scored) -> None:
    """Quiet, competent extraction looks like a person in every single request."""
    table, labels, _, _, _ = scored
    ids = labels.loc[labels[S.SCENARIO].isin(QUIET), S.ACCOUNT_ID]
    flagged = table.set_index(S.ACCOUNT_ID).loc[ids, S.FLAGGED].astype(bool)
    assert flagged.mean() >= QUIET_FLAGGED_FLOOR, flagged.mean()


def test_quiet_extraction_is_ranked(scored: Scored) -> None:
    """The ranking, not only the flags: an analyst works down the queue past the line."""
    _, labels, ev, week, _ = scored
    per = ev["per_scenario"]
    n = {name: (labels[S.SCENARIO] == name).sum() for name in QUIET}
    in_top = sum(per[name]["share_in_top_k"] * n[name] for name in QUIET)
    assert in_top / sum(n.values()) >= QUIET_TOP_K_FLOOR[week], in_top


def test_clusters_are_scored_on_what_they_do(scored: Scored) -> None:
    """Every hydra's cluster lends its members its features; classroom cohorts, linked
    by a network and a creation burst but behaving like students, are scored as
    unlinked accounts (detector.quiet_clusters)."""
    scores, labels, _, _, clusters = scored
    kind = labels.set_index(S.ACCOUNT_ID)[S.SCENARIO]
    member_kind = kind.reindex(scores[S.ACCOUNT_ID]).to_numpy()
    majority = (
        pd.Series(member_kind, index=scores[S.CLUSTER_ID].to_numpy())
        .loc[lambda s: s.index != ""]
        .groupby(level=0)
        .agg(lambda s: s.value_counts().index[0])
    )
    as_cluster = clusters[S.SCORED_AS_CLUSTER].astype(bool)
    kinds = majority.reindex(as_cluster.index)
    hydras = as_cluster[kinds.isin(HYDRAS).to_numpy()]
    cohorts = as_cluster[(kinds == "classroom_cohort").to_numpy()]
    assert len(hydras) and hydras.all(), hydras
    assert len(cohorts) and cohorts.mean() <= QUIET_COHORTS_AS_CLUSTER_CEILING, cohorts
