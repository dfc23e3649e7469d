"""Reasons: citable features, forest attribution, percentiles and unit rendering."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from synthetic_features import SPECS, spec
from synthetic_features import population as synthetic_population

from detector import explain, schema
from detector.explain import (
    BARE_IN_SENTENCE,
    EXPLAIN_COLUMNS,
    NO_REASON,
    explain_frame,
    forest_contributions,
    format_percentile,
    format_value,
    percentiles,
    reasons_strings,
)
from detector.model import AnomalyModel
from detector.scored import score_frame

N = 500


def population(n: int = N, seed: int = 0) -> pd.DataFrame:
    return synthetic_population(n, seed)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return population()


@pytest.fixture(scope="module")
def model(features: pd.DataFrame) -> AnomalyModel:
    # the full-space forest only: attributions are then exact path-length decompositions
    return AnomalyModel(
        specs=SPECS, n_estimators=60, max_samples=256, random_state=0, family_estimators=0
    ).fit(features)


@pytest.fixture(scope="module")
def planted(features: pd.DataFrame, model: AnomalyModel) -> pd.DataFrame:
    out = features.copy()
    out.loc["acct-00003", "reasoning_share"] = 0.91  # suspicious side, far out
    out.loc["acct-00004", "topic_entropy"] = 40.0  # harmless side of a 'low' feature
    out.loc["acct-00005", "topic_entropy"] = 0.2  # suspicious side of a 'low' feature
    median = model.quantiles_[500]
    out.loc["acct-00006"] = median  # an utterly typical account
    return out


# --- citing the right feature -----------------------------------------------------------


def test_planted_feature_is_cited_first(model: AnomalyModel, planted: pd.DataFrame) -> None:
    frame = explain_frame(model, planted, ["acct-00003", "acct-00005"])
    assert list(frame.columns) == list(EXPLAIN_COLUMNS)
    first = frame[frame[explain.REASON_RANK] == 1].set_index(schema.ACCOUNT_ID)
    row = first.loc["acct-00003"]
    assert row[explain.FEATURE] == "reasoning_share"
    assert row[explain.PERCENTILE] == 100.0  # above every training account
    assert row[explain.CONTRIBUTION] > 0 and row[explain.DIRECTION] == "high"
    assert row[explain.VALUE_TEXT] == "91%"
    # the synthetic features' family is not compared with peers: a plain percentile
    assert row[explain.SENTENCE] == "91% of prompts ask for reasoning (100th percentile)"
    low = first.loc["acct-00005"]
    assert low[explain.FEATURE] == "topic_entropy" and low[explain.PERCENTILE] < 1
    assert low[explain.SENTENCE].startswith("topic entropy 0.2 bits (0")


def test_harmless_side_is_never_cited(model: AnomalyModel, planted: pd.DataFrame) -> None:
    for method in ("forest", "percentile"):
        frame = explain_frame(model, planted, ["acct-00004", "acct-00006"], method=method)
        assert "topic_entropy" not in set(frame[explain.FEATURE])
        assert "acct-00006" not in set(frame[schema.ACCOUNT_ID])
    assert reasons_strings(model, planted).loc["acct-00006"] == NO_REASON


def test_only_suspicious_side_past_90th_percentile_is_cited(
    model: AnomalyModel, features: pd.DataFrame
) -> None:
    frame = explain_frame(model, features, n_reasons=4, method="percentile")
    direction = frame[explain.DIRECTION]
    pct = frame[explain.PERCENTILE]
    high_ok = (direction == "high") & (pct >= 90)
    low_ok = (direction == "low") & (pct <= 10)
    both_ok = (direction == "both") & ((pct >= 90) | (pct <= 10))
    assert (high_ok | low_ok | both_ok).all()
    assert frame.groupby(schema.ACCOUNT_ID).size().max() <= 4


def test_n_reasons_and_order(model: AnomalyModel, planted: pd.DataFrame) -> None:
    frame = explain_frame(model, planted, n_reasons=2)
    assert frame.groupby(schema.ACCOUNT_ID)[explain.REASON_RANK].max().max() <= 2
    for _, group in frame.groupby(schema.ACCOUNT_ID):
        assert list(group[explain.REASON_RANK]) == list(range(1, len(group) + 1))


def test_unknown_accounts_and_methods_are_rejected(
    model: AnomalyModel, planted: pd.DataFrame
) -> None:
    with pytest.raises(ValueError, match="not in the feature table: nobody"):
        explain_frame(model, planted, ["nobody"])
    with pytest.raises(ValueError, match="method"):
        explain_frame(model, planted, method="shap")  # type: ignore[arg-type]


# --- forest attribution -----------------------------------------------------------------


def test_contributions_decompose_the_path_length(
    model: AnomalyModel, planted: pd.DataFrame
) -> None:
    """Row sums equal c(psi) - E[h(x)], the quantity the raw score is monotone in."""
    contrib = forest_contributions(model, planted)
    c_psi = float(explain.average_path_length(np.array([model.forest_.max_samples_]))[0])
    mean_depth = c_psi - contrib.sum(axis=1).to_numpy()
    np.testing.assert_allclose(2.0 ** (-mean_depth / c_psi), model.raw_scores(planted), rtol=1e-9)
    top = contrib.idxmax(axis=1)
    assert top.loc["acct-00003"] == "reasoning_share"
    assert top.loc["acct-00005"] == "topic_entropy"


def test_blended_model_attributes_planted_features(
    features: pd.DataFrame, planted: pd.DataFrame
) -> None:
    """With family (subspace) forests, the planted feature still leads the attribution."""
    blended = AnomalyModel(
        specs=SPECS, n_estimators=60, max_samples=256, random_state=0, family_estimators=20
    ).fit(features)
    assert len(blended.family_forests_) == len({s.family for s in SPECS.values()})
    top = forest_contributions(blended, planted).idxmax(axis=1)
    assert top.loc["acct-00003"] == "reasoning_share"
    assert top.loc["acct-00005"] == "topic_entropy"
    scores = pd.Series(blended.score(planted), index=planted.index)
    assert scores.loc["acct-00003"] > scores.median() + 20


def test_vectorised_attribution_matches_a_plain_tree_walk(
    model: AnomalyModel, planted: pd.DataFrame
) -> None:
    accounts = ["acct-00003", "acct-00005", "acct-00100"]
    X = model.transform(planted.loc[accounts])
    expected = np.zeros((len(accounts), model.n_features_in_))
    for est in model.forest_.estimators_:
        t = est.tree_
        value = t.compute_node_depths() + explain.average_path_length(t.n_node_samples)
        for i, x in enumerate(X):
            node = 0
            while t.children_left[node] >= 0:
                f = t.feature[node]
                child = (
                    t.children_left[node] if x[f] <= t.threshold[node] else t.children_right[node]
                )
                expected[i, f] += value[node] - value[child]
                node = child
    expected /= len(model.forest_.estimators_)
    got = forest_contributions(model, planted.loc[accounts], chunk_rows=2).to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


# --- percentiles ------------------------------------------------------------------------


def test_percentiles_use_training_quantiles(features: pd.DataFrame) -> None:
    one_tier = AnomalyModel(specs=SPECS, n_estimators=5, max_samples=64, peer_quantiles=())
    model = one_tier.fit(features)
    q = model.quantiles_
    values = np.vstack([q[0] - 1, q[500], q[-1] + 1])
    p = percentiles(model, values)
    np.testing.assert_array_equal(p[0], 0.0)
    np.testing.assert_allclose(p[1], 50.0, atol=0.1)
    np.testing.assert_array_equal(p[2], 100.0)
    # a value shared by many accounts gets the middle of its tie
    tied = AnomalyModel(specs=SPECS, n_estimators=5, max_samples=64).fit(
        features.assign(reasoning_share=np.where(np.arange(N) < 400, 0.0, 0.5))
    )
    zero = percentiles(tied, np.array([[1.0, 0.0, 3.0, 400.0]]))[0, 1]
    assert 35 < zero < 45


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0, "0th percentile"),
        (0.05, "0.1st percentile"),
        (0.15, "0.2nd percentile"),
        (99.23, "99.2nd percentile"),
        (99.31, "99.3rd percentile"),
        (99.12, "99.1st percentile"),
        (99.0, "99th percentile"),
        (1.0, "1st percentile"),
        (2.2, "2nd percentile"),
        (3.0, "3rd percentile"),
        (11.0, "11th percentile"),
        (12.4, "12th percentile"),
        (21.0, "21st percentile"),
        (93.4, "93rd percentile"),
        (99.6, "99.6th percentile"),
        (99.95, "99.9th percentile"),
        (100.0, "100th percentile"),
    ],
)
def test_format_percentile(p: float, text: str) -> None:
    assert format_percentile(p) == text


# --- unit rendering ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.914, "share", "91%"),
        (0.004, "share", "0.4%"),
        (1.0, "share", "100%"),
        (12431.0, "per_day", "12,400/day"),
        (1850.0, "tokens", "1,850 tokens"),
        (4.23, "seconds", "4.2 s"),
        (400.0, "seconds", "6.7 min"),
        (7300.0, "seconds", "2.0 h"),
        (3.5, "hours", "3.5 h"),
        (100.0, "hours", "4.2 days"),
        (3.0, "days", "3 days"),
        (3.21, "bits", "3.2 bits"),
        (1234567.0, "count", "1,230,000"),
        (12.0, "count", "12"),
        (4.2, "ratio", "4.2×"),
        (0.5, "widgets", "0.5 widgets"),
        (-0.0, "count", "0"),
    ],
)
def test_format_value(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_units_the_templates_spell_are_bare_in_sentences() -> None:
    assert {"per_day", "tokens", "count", "ratio"} <= BARE_IN_SENTENCE
    assert format_value(12431.0, "per_day", in_sentence=True) == "12,400"
    assert format_value(0.91, "share", in_sentence=True) == "91%"
    assert format_value(3.0, "days", in_sentence=True) == "3 days"


def test_templates(model: AnomalyModel) -> None:
    assert explain.reason_sentence("{value} at {percentile}", "f", "9%", "99th percentile") == (
        "9% at 99th percentile"
    )
    assert explain.reason_sentence("{oops} broken", "f", "9%", "99th percentile") == (
        "f is 9% (99th percentile)"
    )


# --- reason strings ---------------------------------------------------------------------


def test_reasons_strings_joined_and_complete(model: AnomalyModel, planted: pd.DataFrame) -> None:
    full = reasons_strings(model, planted)
    cheap = reasons_strings(model, planted, forest_accounts=[])
    assert full.index.equals(planted.index) and full.name == schema.REASONS
    assert (full.str.len() > 0).all() and (cheap.str.len() > 0).all()
    assert full.loc["acct-00003"].startswith("91% of prompts ask for reasoning (100th percentile")
    assert cheap.loc["acct-00003"].startswith("91% of prompts ask for reasoning")
    frame = explain_frame(model, planted, ["acct-00003"])
    assert full.loc["acct-00003"] == schema.REASONS_SEPARATOR.join(frame[explain.SENTENCE])


def test_score_frame_mixes_forest_and_cheap_reasons(
    model: AnomalyModel, planted: pd.DataFrame
) -> None:
    scored = score_frame(model, planted, explain_top=5).set_index(schema.ACCOUNT_ID)
    forest = reasons_strings(model, planted)
    cheap = reasons_strings(model, planted, forest_accounts=[])
    top = scored.index[(scored[schema.RANK] <= 5) | scored[schema.FLAGGED]]
    rest = scored.index.difference(top)
    assert (scored.loc[top, schema.REASONS] == forest.loc[top]).all()
    assert (scored.loc[rest, schema.REASONS] == cheap.loc[rest]).all()


def test_an_echoing_feature_is_not_cited_beside_its_lead() -> None:
    """tokens/day echoes output tokens/day: an account extreme in both gets one reason."""
    base = synthetic_population(400)
    base["tokens_per_day"] = base["requests_per_day"] * 900.0
    specs = {
        **SPECS,
        "tokens_per_day": dataclasses.replace(
            spec("tokens_per_day", "per_day", "log", "high", "{value} tokens per day"),
            echo_of="requests_per_day",
        ),
    }
    base.loc["acct-00001", ["requests_per_day", "tokens_per_day"]] = [5e4, 4.5e7]
    fitted = AnomalyModel(specs=specs, n_estimators=60, random_state=0).fit(base)
    frame = explain_frame(fitted, base, ["acct-00001"], n_reasons=3)
    cited = set(frame["feature"])
    assert len(cited & {"requests_per_day", "tokens_per_day"}) == 1
