"""Cases: a cluster is one case; its members are flagged together; bands agree with flags."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from detector import schema as S
from detector.cases import SINGLE_PREFIX, assign_cases, case_band


def table(scores: list[float], clusters: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: [f"a{i:03d}" for i in range(len(scores))],
            S.SCORE: scores,
            S.CLUSTER_ID: clusters,
        }
    )


def test_every_member_of_a_flagged_case_is_flagged() -> None:
    t = table([90, 40, 30, 20, 80, 10], ["c-1", "c-1", "c-1", "", "", ""])
    out, cut = assign_cases(t, threshold=70)
    assert cut == 70
    assert out[S.FLAGGED].tolist() == [True, True, True, False, True, False]
    assert out[S.CASE_ID].tolist()[:3] == ["c-1"] * 3
    assert out[S.CASE_ID].iloc[3] == SINGLE_PREFIX + "a003"
    assert out[S.CASE_SCORE].tolist() == [90, 90, 90, 20, 80, 10]


def test_the_budget_counts_cases_not_accounts() -> None:
    # a 50-account hydra scoring 85-95 and 50 singles scoring 0-98
    hydra = list(np.linspace(85, 95, 50))
    singles = list(np.linspace(0, 98, 50))
    t = table(hydra + singles, ["c-h"] * 50 + [""] * 50)
    out, cut = assign_cases(t, threshold=math.inf, budget=3)
    flagged_cases = out.loc[out[S.FLAGGED], S.CASE_ID].unique()
    assert len(flagged_cases) == 3 and "c-h" in flagged_cases
    assert out[S.FLAGGED].sum() == 50 + 2  # the whole hydra and two singles
    assert cut == out.loc[out[S.FLAGGED], S.CASE_SCORE].min()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0, 100), min_size=1, max_size=40),
    st.floats(0, 100),
    st.integers(0, 5),
)
def test_bands_agree_with_the_decision(scores: list[float], threshold: float, k: int) -> None:
    clusters = [f"c-{i % k}" if k and i % 3 == 0 else "" for i in range(len(scores))]
    out, _ = assign_cases(table(scores, clusters), threshold=threshold)
    flagged = out[S.FLAGGED].to_numpy()
    bands = out[S.BAND].to_numpy()
    assert set(bands[flagged]) <= {"high", "critical"}
    assert "critical" not in set(bands[~flagged])
    # and the band is a property of the case
    assert (out.groupby(S.CASE_ID)[S.BAND].nunique() == 1).all()


def test_band_edges() -> None:
    bands = case_band(np.array([95, 80, 71, 62, 50, 10]), np.array([1, 1, 0, 0, 0, 0], bool), 70)
    assert bands.tolist() == ["critical", "high", "high", "high", "medium", "low"]
