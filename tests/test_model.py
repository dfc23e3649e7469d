"""AnomalyModel: sklearn conventions, calibration, one-sided clipping, thresholds, ranks."""

from __future__ import annotations

import functools
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from synthetic_features import SPECS, spec
from synthetic_features import population as synthetic_population

from detector import schema
from detector.config import DEFAULT
from detector.model import AnomalyModel
from detector.ranking import (
    BAND_EDGES,
    band,
    check_alert_rule,
    default_threshold,
    parse_budget,
    rank_accounts,
    threshold_for_budget,
)
from detector.scored import alert_rows, published_scores, score_frame

N = 600
FAST = {"n_estimators": 60, "max_samples": 256, "random_state": 0}


def population(n: int = N, seed: int = 0) -> pd.DataFrame:
    return synthetic_population(n, seed)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return population()


@pytest.fixture(scope="module")
def model(features: pd.DataFrame) -> AnomalyModel:
    return AnomalyModel(specs=SPECS, **FAST).fit(features)


# --- sklearn conventions ----------------------------------------------------------------


def test_unfitted_model_raises_not_fitted(features: pd.DataFrame) -> None:
    m = AnomalyModel(specs=SPECS)
    for call in (m.score, m.raw_scores, m.transform, functools.partial(score_frame, m)):
        with pytest.raises(NotFittedError):
            call(features)
    with pytest.raises(NotFittedError):
        m.calibrate(np.array([0.5]))


def test_defaults_come_from_config() -> None:
    p = AnomalyModel().get_params()
    assert p["n_estimators"] == DEFAULT.n_estimators
    assert p["max_samples"] == DEFAULT.max_samples
    assert p["family_max_samples"] == DEFAULT.family_max_samples
    assert p["random_state"] == DEFAULT.random_state
    assert p["alert_budget"] == DEFAULT.alert_budget
    assert p["specs"] is None


def test_params_are_stored_untouched_and_clone_works(features: pd.DataFrame) -> None:
    specs = dict(SPECS)
    m = AnomalyModel(n_estimators=7, max_samples=10_000, random_state=3, specs=specs)
    assert m.specs is specs and m.max_samples == 10_000
    m.fit(features)
    # fit caps max_samples at the population internally, but never rewrites the param
    assert m.max_samples == 10_000 and m.specs is specs and m.get_params()["n_estimators"] == 7
    c = clone(m)
    assert not hasattr(c, "forest_") and c.get_params()["random_state"] == 3


def test_positional_params_are_rejected() -> None:
    with pytest.raises(TypeError):
        AnomalyModel(100)  # type: ignore[misc]


def test_fitted_attributes(model: AnomalyModel, features: pd.DataFrame) -> None:
    assert list(model.feature_names_in_) == list(features.columns)
    assert model.n_features_in_ == 4
    assert model.quantiles_.shape == (1001, 4)
    assert model.fingerprint_["n_accounts"] == N
    assert set(model.calibration_) >= {"raw_min", "raw_median", "raw_upper"}


def test_seed_determinism(features: pd.DataFrame) -> None:
    a = AnomalyModel(specs=SPECS, **FAST).fit(features).score(features)
    b = AnomalyModel(specs=SPECS, **FAST).fit(features).score(features)
    c = AnomalyModel(specs=SPECS, **{**FAST, "random_state": 1}).fit(features).score(features)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_row_order_invariance(model: AnomalyModel, features: pd.DataFrame) -> None:
    shuffled = features.sample(frac=1.0, random_state=5)
    expected = pd.Series(model.score(features), index=features.index)
    got = pd.Series(model.score(shuffled), index=shuffled.index)
    pd.testing.assert_series_equal(got.loc[features.index], expected)
    # fitting on a shuffled population gives the same model (rows sorted by account_id)
    refit = AnomalyModel(specs=SPECS, **FAST).fit(shuffled)
    np.testing.assert_array_equal(refit.score(features), expected.to_numpy())


def test_column_order_is_matched_by_name(model: AnomalyModel, features: pd.DataFrame) -> None:
    np.testing.assert_array_equal(
        model.score(features[features.columns[::-1]]), model.score(features)
    )


def test_account_id_column_is_accepted(model: AnomalyModel, features: pd.DataFrame) -> None:
    np.testing.assert_array_equal(model.score(features.reset_index()), model.score(features))


def test_pickle_round_trip(model: AnomalyModel, features: pd.DataFrame) -> None:
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.score(features), model.score(features))


def test_feature_mismatch_names_missing_and_extra(
    model: AnomalyModel, features: pd.DataFrame
) -> None:
    bad = features.drop(columns=["topic_entropy"]).assign(surprise=1.0)
    with pytest.raises(ValueError) as err:
        model.score(bad)
    assert "missing 1 feature(s)" in str(err.value) and "topic_entropy" in str(err.value)
    assert "not fitted on: surprise" in str(err.value)


def test_bad_input_is_rejected(model: AnomalyModel, features: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="missing or infinite"):
        model.score(features.assign(topic_entropy=np.nan))
    with pytest.raises(ValueError, match="duplicate account ids"):
        model.score(pd.concat([features.iloc[:2], features.iloc[:1]]))
    with pytest.raises(TypeError):
        model.score(features.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no FeatureSpec"):
        AnomalyModel(specs={"requests_per_day": SPECS["requests_per_day"]}).fit(features)


def test_constant_feature_does_not_explode(features: pd.DataFrame) -> None:
    m = AnomalyModel(specs=SPECS, **FAST).fit(features.assign(reasoning_share=0.0))
    assert np.all(np.isfinite(m.transform(features.assign(reasoning_share=0.0))))
    assert np.all(m.spread_ > 0)


# --- scores -----------------------------------------------------------------------------


def test_scores_in_range_and_monotone_in_raw(model: AnomalyModel, features: pd.DataFrame) -> None:
    raw = model.raw_scores(features)
    score = model.score(features)
    assert score.min() >= 0 and score.max() <= 100
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(score[order]) >= 0)
    grid = np.linspace(0.0, 1.0, 201)
    assert np.all(np.diff(model.calibrate(grid)) >= 0)


def test_calibration_anchors(model: AnomalyModel, features: pd.DataFrame) -> None:
    cal = model.calibration_
    beyond = cal["raw_upper"] + (cal["raw_upper"] - cal["raw_median"])
    got = model.calibrate(np.array([cal["raw_min"], cal["raw_median"], cal["raw_upper"], beyond]))
    np.testing.assert_allclose(got[:3], [0.0, 15.0, 75.0], atol=1e-9)
    assert 75.0 < got[3] <= 100.0
    score = model.score(features)
    assert 10 <= np.median(score) <= 20
    assert 70 <= np.quantile(score, 0.99) <= 80


def test_planted_suspicious_value_scores_high(model: AnomalyModel, features: pd.DataFrame) -> None:
    planted = features.copy()
    planted.loc["acct-00007", "reasoning_share"] = 0.97
    # flagged by a 2% budget (the default rule sits at 79.6 on this synthetic population,
    # whose bulk is wide, just under this single extreme feature's 80.5)
    frame = score_frame(model, planted, budget="2%").set_index(schema.ACCOUNT_ID)
    assert frame.loc["acct-00007", schema.SCORE] >= 75
    assert frame.loc["acct-00007", schema.RANK] <= 5
    assert bool(frame.loc["acct-00007", schema.FLAGGED])


def test_harmless_side_extremes_are_not_outliers(features: pd.DataFrame) -> None:
    """One-sided clipping: extreme on the harmless side == at the median.

    One peer tier, so moving requests_per_day does not also move the account's peers.
    """
    model = AnomalyModel(specs=SPECS, peer_quantiles=(), **FAST).fit(features)
    harmless = features.copy()
    harmless.loc["acct-00011", "topic_entropy"] = 40.0  # 'low' feature, absurdly high
    harmless.loc["acct-00012", "requests_per_day"] = 0.0  # 'high' feature, minimum
    at_median = harmless.copy()
    at_median.loc["acct-00011", "topic_entropy"] = model.quantiles_[500, 2]
    at_median.loc["acct-00012", "requests_per_day"] = model.quantiles_[500, 0]
    np.testing.assert_allclose(model.score(harmless), model.score(at_median))

    # control: had the direction been "both", the same value would be an outlier
    both = {**SPECS, "topic_entropy": spec("topic_entropy", "bits", "linear", "both", "x")}
    control = AnomalyModel(specs=both, peer_quantiles=(), **FAST).fit(features)
    unclipped = pd.Series(control.score(harmless), index=harmless.index).loc["acct-00011"]
    clipped = pd.Series(model.score(harmless), index=harmless.index).loc["acct-00011"]
    assert clipped < 15 < 40 + clipped < unclipped
    # and the suspicious side of the same feature does isolate
    low = features.copy()
    low.loc["acct-00011", "topic_entropy"] = 0.0
    assert pd.Series(model.score(low), index=low.index).loc["acct-00011"] > 50


# --- bands, budgets, thresholds, ranks --------------------------------------------------


def test_band_edges() -> None:
    assert BAND_EDGES == (25.0, 50.0, 75.0)
    assert [band(x) for x in (0, 24.99, 25, 49.99, 50, 74.99, 75, 100)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
        "critical",
        "critical",
    ]
    assert list(band(np.array([10.0, 80.0]))) == ["low", "critical"]


@pytest.mark.parametrize(
    ("budget", "n", "expected"),
    [("50", 1000, 50), (50, 10, 10), ("2%", 1000, 20), ("2%", 149, 2), ("0.5%", 1000, 5)],
)
def test_parse_budget(budget: str | int, n: int, expected: int) -> None:
    assert parse_budget(budget, n) == expected


@pytest.mark.parametrize("budget", ["-1", "2.5", "abc", "150%", "%", True, 2.0])
def test_parse_budget_rejects_nonsense(budget: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        parse_budget(budget, 100)  # type: ignore[arg-type]


def test_threshold_for_budget_count_and_percent() -> None:
    scores = np.array([90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 10.0, 0.0])
    assert threshold_for_budget(scores, "3") == 70.0
    assert threshold_for_budget(scores, "20%") == 80.0
    assert (scores >= threshold_for_budget(scores, 3)).sum() == 3
    assert threshold_for_budget(scores, "0") == math.inf
    assert threshold_for_budget(scores, "100%") == 0.0


def test_threshold_ties_never_exceed_budget() -> None:
    scores = np.array([90.0, 80.0, 80.0, 80.0, 50.0])
    t = threshold_for_budget(scores, "2")
    assert t == 90.0 and (scores >= t).sum() == 1  # the tied 80s are all left out
    assert threshold_for_budget(scores, "4") == 80.0  # the budget ends after the tied group
    assert (scores >= threshold_for_budget(scores, "4")).sum() == 4
    all_tied = np.full(5, 42.0)
    assert (all_tied >= threshold_for_budget(all_tied, "2")).sum() == 0
    assert (all_tied >= threshold_for_budget(all_tied, "5")).sum() == 5


def test_rank_ties_broken_by_account_id() -> None:
    ranks = rank_accounts(np.array([50.0, 70.0, 50.0, 50.0]), np.array(["c", "z", "a", "b"]))
    assert list(ranks) == [4, 1, 2, 3]


def test_score_frame_contract(model: AnomalyModel, features: pd.DataFrame) -> None:
    frame = score_frame(model, features, budget="5%", explain_top=10)
    assert list(frame.columns) == [*schema.SCORE_COLUMNS, schema.BAND]
    assert len(frame) == N and frame[schema.ACCOUNT_ID].is_unique
    assert list(frame[schema.RANK]) == list(range(1, N + 1))
    assert frame[schema.SCORE].is_monotonic_decreasing
    assert frame[schema.FLAGGED].dtype == bool and frame[schema.FLAGGED].sum() <= 30
    assert (frame[schema.CLUSTER_ID] == "").all()
    assert frame[schema.REASONS].str.len().gt(0).all()
    assert set(frame[schema.BAND]) <= {"low", "medium", "high", "critical"}
    assert np.allclose(frame[schema.SCORE], frame[schema.SCORE].round(2))
    # equal published scores are ordered by account_id
    for _, group in frame.groupby(schema.SCORE):
        assert list(group[schema.ACCOUNT_ID]) == sorted(group[schema.ACCOUNT_ID])


def test_score_frame_threshold_options(model: AnomalyModel, features: pd.DataFrame) -> None:
    default = score_frame(model, features, explain_top=0)
    assert (default[schema.FLAGGED] == (default[schema.SCORE] >= model.threshold_)).all()
    # the default threshold is the bulk-spread rule on the training population's published
    # scores, and never flags more than the ceiling there
    train_scores = np.round(model.score(features), 2)
    assert model.threshold_ == default_threshold(
        train_scores, budget=None, spreads=model.alert_spreads_, ceiling=DEFAULT.alert_ceiling
    )
    assert default[schema.FLAGGED].sum() <= parse_budget(DEFAULT.alert_ceiling, N)
    budgeted = AnomalyModel(specs=SPECS, alert_budget="2%", **FAST).fit(features)
    assert budgeted.threshold_ == threshold_for_budget(train_scores, "2%")
    explicit = score_frame(model, features, threshold=50.0, explain_top=0)
    assert (explicit[schema.FLAGGED] == (explicit[schema.SCORE] >= 50.0)).all()
    with pytest.raises(ValueError, match="not both"):
        score_frame(model, features, threshold=50.0, budget="2%")


NOT_BOTH = "give either an alert threshold or an alert budget, not both"


def test_a_threshold_with_a_budget_is_refused_alike_by_every_scorer(
    model: AnomalyModel, features: pd.DataFrame
) -> None:
    """One check (ranking.check_alert_rule) behind the local and the Spark scorer; the
    Spark one refuses before it starts a session, so no Spark is needed here."""
    from detector.engines.spark import score_frame_spark

    check_alert_rule(50.0, None)
    check_alert_rule(None, "2%")
    check_alert_rule(None, None)
    for refuse in (
        lambda: check_alert_rule(50.0, "2%"),
        lambda: score_frame(model, features, threshold=50.0, budget="2%"),
        lambda: score_frame_spark(model, features, threshold=50.0, budget=3),
    ):
        with pytest.raises(ValueError) as err:
            refuse()
        assert str(err.value) == NOT_BOTH


def test_alert_rows_flag_rank_and_choose_the_forest_explained() -> None:
    """The driver-side step both engines share: cut, rank (ties by id), forest rows."""
    scores = np.array([90.0, 10.0, 50.0, 50.0])
    ids = np.array(["d", "a", "c", "b"], dtype=object)

    def rows(**kw: object) -> tuple[list[int], list[bool], list[bool]]:
        args = {"threshold": None, "budget": None, "default": 60.0, "explain_top": 0, **kw}
        got = alert_rows(scores, ids, **args)  # type: ignore[arg-type]
        return got.ranks.tolist(), got.flagged.tolist(), got.forest_rows.tolist()

    assert rows() == ([1, 4, 3, 2], [True, False, False, False], [True, False, False, False])
    assert rows(threshold=50.0)[1] == [True, False, True, True]
    # a budget wins over the default; the tie at 50 straddles a budget of 2: neither flagged
    assert rows(budget="2")[1] == [True, False, False, False]
    assert rows(budget=3)[1] == [True, False, True, True]
    assert rows(explain_top=2)[2] == [True, False, False, True]
    assert rows(explain_top=None)[2] == [True] * 4, "DEFAULT_EXPLAIN_TOP covers all four"


def test_published_scores_are_the_rounded_model_scores(
    model: AnomalyModel, features: pd.DataFrame
) -> None:
    ids, values = model.feature_values(features)
    got = published_scores(model, values)
    assert np.array_equal(got, np.round(model.score(features.loc[ids]), 2))
    table = score_frame(model, features, explain_top=0).set_index(schema.ACCOUNT_ID)
    assert np.array_equal(table.loc[ids, schema.SCORE].to_numpy(), got)


def test_empty_population_scores_to_an_empty_table(
    model: AnomalyModel, features: pd.DataFrame
) -> None:
    frame = score_frame(model, features.iloc[:0])
    assert list(frame.columns) == [*schema.SCORE_COLUMNS, schema.BAND] and frame.empty
