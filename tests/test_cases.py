"""Cases: a cluster is one case; its members are flagged together; bands agree with flags."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detector import schema as S
from detector.cases import (
    CASE_QUORUM_MIN,
    CASE_QUORUM_SHARE,
    SINGLE_PREFIX,
    assign_cases,
    case_band,
    case_score_by,
    lead_with_cluster,
    member_case_scores,
)


def table(scores: list[float], clusters: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: [f"a{i:03d}" for i in range(len(scores))],
            S.SCORE: scores,
            S.CLUSTER_ID: clusters,
        }
    )


def test_every_member_of_a_flagged_case_is_flagged() -> None:
    t = table([90, 75, 72, 20, 80, 10, 95, 30, 20], ["c-1"] * 3 + [""] * 3 + ["c-2"] * 3)
    out, cut = assign_cases(t, threshold=70)
    assert cut == 70
    # c-1's median member crosses: the whole case; c-2's does not: only its loud member
    flags = [True, True, True, False, True, False, True, False, False]
    assert out[S.FLAGGED].tolist() == flags
    assert out[S.CASE_ID].tolist()[:3] == ["c-1"] * 3
    assert out[S.CASE_ID].iloc[3] == SINGLE_PREFIX + "a003"
    assert out[S.CASE_SCORE].tolist() == [75, 75, 75, 20, 80, 10, 30, 30, 30]


def test_a_member_stands_at_its_case_score_and_is_ranked_there() -> None:
    # c-1's members 90/75/60: case 75, flagged whole, so its 60 stands at 75 and outranks
    # the unlinked 70; c-2's quiet median (30) leaves its loud member at its own 95
    t = table([90, 75, 60, 70, 95, 30, 20], ["c-1"] * 3 + [""] + ["c-2"] * 3)
    t[S.RANK] = [2, 3, 5, 4, 1, 6, 7]
    out, _ = assign_cases(t, threshold=72)
    assert out[S.SCORE].tolist() == [90, 75, 75, 70, 95, 30, 30]
    assert out[S.RANK].tolist() == [2, 3, 4, 5, 1, 6, 7]
    # flagged is exactly "score at or over the threshold"
    assert out[S.FLAGGED].tolist() == (out[S.SCORE] >= 72).tolist()
    assert out[S.FLAGGED].tolist() == [True, True, True, False, True, False, False]


def test_a_quiet_clusters_member_flagged_at_its_case_score_is_told_why() -> None:
    # c-q is quiet (lends no cluster features) but its median member crosses: its 60 is
    # flagged at the case score and leads with the link; its loud 95 keeps its own reasons
    t = table([95, 80, 60], ["c-q"] * 3)
    t[S.REASONS] = ["own"] * 3
    out, _ = assign_cases(t, threshold=72)
    clusters = pd.DataFrame(
        {"members": [3], "evidence": ["share a card"], S.SCORED_AS_CLUSTER: [False]},
        index=["c-q"],
    )
    led = lead_with_cluster(out, clusters)[S.REASONS].tolist()
    assert led[0] == "own"
    assert led[1].startswith("one of 3 linked accounts in cluster c-q that share a card")
    assert led[2].startswith("one of 3 linked accounts in cluster c-q that share a card")


def test_a_rider_is_a_case_of_its_own_and_is_neither_lifted_nor_led() -> None:
    # c-1 is a campaign (90/85/80) with a rider at 60 (detector.quiet_clusters): the
    # campaign's case is its three members' (85), the rider stands at its own 60, unflagged,
    # and keeps its cluster id; flagged on its own (95 in c-2), it is not led by the link
    t = table([90, 85, 80, 60, 95, 70, 72], ["c-1"] * 4 + ["c-2"] * 3)
    t[S.REASONS] = ["own"] * 7
    out, _ = assign_cases(t, threshold=75, riders={"a003", "a004"})
    assert (
        out[S.CASE_ID].tolist()
        == ["c-1"] * 3 + [SINGLE_PREFIX + "a003", SINGLE_PREFIX + "a004"] + ["c-2"] * 2
    )
    assert out[S.CASE_SCORE].tolist() == [85, 85, 85, 60, 95, 71, 71]
    assert out[S.SCORE].tolist() == [90, 85, 85, 60, 95, 71, 72]
    assert out[S.FLAGGED].tolist() == [True, True, True, False, True, False, False]
    assert out[S.CLUSTER_ID].tolist() == t[S.CLUSTER_ID].tolist()
    clusters = pd.DataFrame(
        {"members": [4, 3], "evidence": ["share a card"] * 2, S.SCORED_AS_CLUSTER: [True] * 2},
        index=["c-1", "c-2"],
    )
    led = lead_with_cluster(out, clusters)[S.REASONS].tolist()
    assert [r.startswith("one of 4 linked") for r in led[:3]] == [True] * 3
    assert led[3:] == ["own"] * 4
    # without riders the campaign's case lifts its rider to 82.5 and flags it
    plain, _ = assign_cases(t, threshold=75)
    assert plain[S.SCORE].tolist()[3] == 82.5 and plain[S.FLAGGED].tolist()[3]


def test_the_budget_counts_cases_not_accounts() -> None:
    # a 50-account hydra scoring 88-98 (median 93) and 50 singles scoring 0-92
    hydra = list(np.linspace(88, 98, 50))
    singles = list(np.linspace(0, 92, 50))
    t = table(hydra + singles, ["c-h"] * 50 + [""] * 50)
    out, _ = assign_cases(t, threshold=math.inf, budget=3)
    flagged_cases = out.loc[out[S.FLAGGED], S.CASE_ID].unique()
    assert len(flagged_cases) == 3 and "c-h" in flagged_cases
    assert out[S.FLAGGED].sum() == 50 + 2  # the whole hydra and two singles


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0, 100), min_size=1, max_size=40),
    st.floats(0, 100),
    st.integers(0, 5),
)
@example([99.99609375], 100.0, 0)  # published as 100.00: flagged whole, not only "shown" so
@example([70.01, 1.0, 2.0, 70.02], 70.02, 1)  # a median with a third decimal (70.015)
def test_bands_agree_with_the_decision(scores: list[float], threshold: float, k: int) -> None:
    clusters = [f"c-{i % k}" if k and i % 3 == 0 else "" for i in range(len(scores))]
    out, _ = assign_cases(table(scores, clusters), threshold=threshold)
    flagged = out[S.FLAGGED].to_numpy()
    bands = out[S.BAND].to_numpy()
    assert set(bands[flagged]) <= {"high", "critical"}
    assert "critical" not in set(bands[~flagged])
    # a case flagged whole is flagged for every member
    whole = out[S.CASE_SCORE] >= out.attrs.get("threshold", threshold)
    assert out.loc[whole, S.FLAGGED].all()


def test_band_edges() -> None:
    bands = case_band(np.array([95, 80, 71, 62, 50, 10]), np.array([1, 1, 0, 0, 0, 0], bool), 70)
    assert bands.tolist() == ["critical", "high", "high", "high", "medium", "low"]


def test_the_training_threshold_counts_cases_not_accounts() -> None:
    from detector.cases import case_threshold

    # 40 light members of one campaign (case score = their median, 70) and 60 single
    # accounts from 1 to 60 plus two loud ones: a budget of 3 is three cases
    scores = np.concatenate([np.full(40, 70.0), np.arange(1.0, 61.0), [90.0, 95.0]])
    clusters = np.array(["c-hydra"] * 40 + [""] * 62, dtype=object)
    assert case_threshold(scores, clusters, 3) == 70.0
    # counted in accounts, the same budget would have stopped at the loud two
    assert case_threshold(scores, np.full(len(scores), "", dtype=object), 3) == 90.0
    # unlinked accounts with equal scores are separate cases (no merging by score)
    assert case_threshold(np.array([5.0, 5.0, 1.0]), np.array(["", "", ""], dtype=object), 2) == 5.0


def test_a_campaign_is_judged_by_a_quorum_of_its_members() -> None:
    # 4 loud members carry the job, 8 are nearly idle: the median (40) would hide it; the
    # quorum (max(3, a quarter of 12) = 3rd highest: 80) flags the campaign whole
    out, _ = assign_cases(table([80] * 4 + [40] * 8, ["c-1"] * 12), threshold=70)
    assert out[S.CASE_SCORE].tolist() == [80] * 12
    assert out[S.FLAGGED].all()
    # hiding the same 4 takes three idle accounts for each one a median needs: under 24
    # members the quorum is 6, and only the loud 4 are flagged, on their own scores
    out, _ = assign_cases(table([80] * 4 + [40] * 20, ["c-1"] * 24), threshold=70)
    assert out[S.CASE_SCORE].iloc[0] == 40
    assert out[S.FLAGGED].tolist() == [True] * 4 + [False] * 20
    # a classroom of 25 with two chance high scorers lifts nobody (quorum 7: 30)
    out, _ = assign_cases(table([95, 90] + [30] * 23, ["c-k"] * 25), threshold=70)
    assert out[S.FLAGGED].tolist() == [True, True] + [False] * 23
    # a pair and a trio keep their median: no quorum of three above it
    out, _ = assign_cases(table([90, 40, 90, 80, 20], ["c-p"] * 2 + ["c-t"] * 3), threshold=70)
    assert out[S.CASE_SCORE].tolist() == [65, 65, 80, 80, 80]


def test_member_case_scores_are_the_higher_of_the_median_and_the_quorums_score() -> None:
    rng = np.random.default_rng(7)
    case = rng.integers(0, 300, 3000).astype(str).astype(object)
    case[:200] = "big"
    scores = np.round(rng.uniform(0, 100, 3000), 2)
    got = member_case_scores(scores, case)
    for c in np.unique(case):
        rows = case == c
        ranked = np.sort(scores[rows])[::-1]
        quorum = max(CASE_QUORUM_MIN, math.ceil(CASE_QUORUM_SHARE * len(ranked)))
        want = np.median(ranked)
        if quorum <= len(ranked):
            want = max(want, ranked[quorum - 1])
        assert np.all(got[rows] == want), c


def test_a_member_the_run_did_not_score_counts_as_no_member() -> None:
    # 8 scored members (quorum 3: 70) and 4 the run did not score (NaN): as if 8
    scores = np.array([90, 80, 70, 10, 10, 10, 10, 10] + [np.nan] * 4)
    got = member_case_scores(scores, np.array(["c"] * 12, dtype=object))
    assert got.tolist() == [70.0] * 12
    assert got.tolist() == [member_case_scores(scores[:8], np.array(["c"] * 8))[0]] * 12


def test_a_case_score_by_run_is_the_stored_one_or_the_quorums() -> None:
    # run 1 stored no case score (an old score table): the quorum of its members' scores
    # (80, not their median 40); run 2 stored 75 on its members, one member moved in
    # from another case (60) and is outvoted; run 3 scored nobody
    runs = np.array(["1"] * 12 + ["2"] * 3 + ["3"], dtype=object)
    score = np.array([80.0] * 4 + [40.0] * 8 + [75.0, 75.0, 60.0] + [np.nan])
    stored = np.array([np.nan] * 12 + [75.0, 75.0, 60.0] + [np.nan])
    got = case_score_by(runs, score, stored)
    assert got.index.tolist() == ["1", "2", "3"]
    assert got["1"] == 80.0 and got["2"] == 75.0 and np.isnan(got["3"])
