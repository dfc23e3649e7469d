"""Family forests are grown deep enough to order the top of the population.

A tree grown on ``n`` accounts stops at about ``log2 n`` levels, so every account past
roughly its top ``1/n`` is isolated at the same depth: with 256 accounts per tree, two
accounts at 1.3 and 3 times a feature's 99.7th percentile score alike. About 1% of a
provider's accounts extract, so the ranking that matters is decided in that top
sliver; ``Config.family_max_samples`` grows the family trees on more accounts. But a
tree that sees every account sees every member of a campaign, and alike accounts isolate
together (masking): ``Config.family_sample_share`` keeps each tree to an eighth of the
population, and the alert line's spreads follow the trees' depth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector import forest_blend
from detector.cases import case_threshold
from detector.config import DEFAULT
from detector.forest_blend import family_sample_size
from detector.forest_scoring import forest_raws
from detector.model import AnomalyModel
from detector.pipeline import FeatureResult
from detector.ranking import depth_spreads
from detector.training_threshold import training_case_threshold
from tests.synthetic_features import family_population

N = 8_000
NEAR, FAR = "acct-00001", "acct-00002"


def _population() -> pd.DataFrame:
    frame = family_population(N, seed=11)
    top = float(frame["broad_harvest_share"].quantile(0.997))
    frame.loc[NEAR, "broad_harvest_share"] = top  # at the 99.7th percentile
    frame.loc[FAR, "broad_harvest_share"] = min(1.0, 2.5 * top)  # far beyond anything else
    frame.loc[[NEAR, FAR], "unread_followup_share"] = frame["unread_followup_share"].median()
    return frame


def _conversation_scores(family_max_samples: int) -> pd.Series:
    frame = _population()
    model = AnomalyModel(
        n_estimators=20, family_estimators=25, random_state=0,
        family_max_samples=family_max_samples, family_sample_share=1.0,
    ).fit(frame)  # fmt: skip
    matrix = model.transform(frame)
    raws = forest_raws(matrix, [(f, cols) for _, cols, f in model.family_forests_])
    normed = forest_blend.family_scores(raws, model.blend_)
    names = [name for name, _, _ in model.family_forests_]
    return pd.Series(normed[names.index("conversation")], index=frame.index)


def test_the_default_grows_family_trees_on_more_accounts_than_the_full_forest() -> None:
    assert DEFAULT.family_max_samples >= 8 * DEFAULT.max_samples
    model = AnomalyModel(n_estimators=5, family_estimators=3).fit(family_population(3_000, 1))
    assert model.forest_.max_samples_ == DEFAULT.max_samples
    assert model.family_samples_ == 375  # an eighth of 3,000
    assert {f.max_samples_ for _, _, f in model.family_forests_} == {375}


def test_family_trees_take_an_eighth_of_the_population_between_the_bounds() -> None:
    def size(n: int) -> int:
        return family_sample_size(
            n,
            floor=DEFAULT.max_samples,
            cap=DEFAULT.family_max_samples,
            share=DEFAULT.family_sample_share,
        )

    assert size(100) == 100  # never more than exist
    assert size(1_405) == DEFAULT.max_samples  # the default population: as deep as before
    assert size(8_000) == 1_000
    assert size(18_321) == DEFAULT.family_max_samples  # a realistic population: capped
    assert size(1_000_000) == DEFAULT.family_max_samples


def test_the_alert_line_counts_more_spreads_for_deeper_trees() -> None:
    base = DEFAULT.max_samples
    at = [
        depth_spreads(DEFAULT.alert_spreads, DEFAULT.alert_spreads_per_doubling, n, base)
        for n in (100, base, 2 * base, DEFAULT.family_max_samples)
    ]
    assert at[0] == at[1] == DEFAULT.alert_spreads  # no fewer for shallower trees
    assert at[1] < at[2] < at[3]
    assert at[3] == pytest.approx(5.5)  # 2048 = 256 * 2**3: as measured in session 27
    model = AnomalyModel(n_estimators=5, family_estimators=3).fit(family_population(3_000, 1))
    assert model.alert_spreads_ == pytest.approx(
        depth_spreads(
            DEFAULT.alert_spreads, DEFAULT.alert_spreads_per_doubling, 375, DEFAULT.max_samples
        )
    )
    alone = AnomalyModel(n_estimators=5, family_estimators=0).fit(family_population(3_000, 1))
    assert alone.alert_spreads_ == DEFAULT.alert_spreads  # no family trees to deepen


def test_a_campaign_is_not_masked_by_trees_that_see_all_of_it() -> None:
    """40 alike accounts in 1,400, harvesting far past everyone else: trees of every
    account hold all 40 (they isolate together, late), trees of an eighth a handful."""
    frame = family_population(1_400, seed=3)
    clump = frame.index[:40]
    frame.loc[clump, "broad_harvest_share"] = 2.0 * frame["broad_harvest_share"].quantile(0.99)
    frame.loc[clump, "unread_followup_share"] = 1.5 * frame["unread_followup_share"].quantile(0.995)

    def flagged_and_rank(share: float) -> tuple[float, float]:
        model = AnomalyModel(
            n_estimators=50, family_estimators=25, random_state=0, family_sample_share=share
        ).fit(frame)
        scores = pd.Series(model.score(frame), index=frame.index)
        rank = scores.rank(ascending=False)[clump].median()
        return float((scores[clump] >= model.threshold_).mean()), float(rank)

    every_flagged, every_rank = flagged_and_rank(1.0)
    eighth_flagged, eighth_rank = flagged_and_rank(DEFAULT.family_sample_share)
    assert eighth_rank < every_rank
    assert eighth_flagged >= every_flagged + 0.2  # measured: 0.8 against 0.525


def test_deep_family_trees_tell_the_far_tail_from_the_near_one() -> None:
    deep = _conversation_scores(DEFAULT.family_max_samples)
    shallow = _conversation_scores(256)
    # Trees of 256 accounts isolate both at their depth limit: one score for both.
    assert abs(shallow[FAR] - shallow[NEAR]) < 0.05
    # Deeper trees see that one harvests far more than the other, and rank it at the top.
    assert deep[FAR] - deep[NEAR] > 0.3
    assert (deep > deep[FAR]).sum() < 0.005 * N


@pytest.mark.parametrize("value", [0, -1])
def test_a_family_sample_size_below_one_is_refused(value: int) -> None:
    with pytest.raises(ValueError):
        AnomalyModel(n_estimators=5, family_estimators=3, family_max_samples=value).fit(
            family_population(200, 1)
        )


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_family_sample_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError):
        AnomalyModel(n_estimators=5, family_estimators=3, family_sample_share=share).fit(
            family_population(200, 1)
        )


def test_a_threshold_that_spends_a_count_needs_no_spreads() -> None:
    """The learned layer's threshold spends as many cases as the model flags, never the
    bulk-spread rule, so a bundle fitted before ``alert_spreads_`` was kept still gets
    one (``evaluate --feedback-share`` fits layers on the scored run's bundle)."""
    frame = family_population(400, seed=2)
    result = FeatureResult(
        features=frame,
        report=None,  # type: ignore[arg-type]  # not read
        context=None,  # type: ignore[arg-type]  # not read
        omitted={},
        topic_model=None,
        n_buckets=1,
    )
    scores = np.round(np.linspace(0.0, 99.0, len(frame)), 2)
    counted = training_case_threshold(result, frame.index, scores, DEFAULT, budget="10")
    assert (scores >= counted).sum() == 10
    with pytest.raises(ValueError, match="spreads"):
        training_case_threshold(result, frame.index, scores, DEFAULT)
    assert training_case_threshold(
        result, frame.index, scores, DEFAULT, spreads=DEFAULT.alert_spreads
    ) == case_threshold(
        np.round(scores, 2),
        np.full(len(frame), ""),
        None,
        spreads=DEFAULT.alert_spreads,
        ceiling=DEFAULT.alert_ceiling,
    )
