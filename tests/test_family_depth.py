"""Family forests are grown deep enough to order the top of the population.

A tree grown on ``n`` accounts stops at about ``log2 n`` levels, so every account past
roughly its top ``1/n`` is isolated at the same depth: with 256 accounts per tree, two
accounts at 1.3 and 3 times a feature's 99.7th percentile score alike. About 1% of a
provider's accounts extract, so the ranking that matters is decided in that top
sliver; ``Config.family_max_samples`` grows the family trees on more accounts.
"""

from __future__ import annotations

import pandas as pd
import pytest

from detector import forest_blend
from detector.config import DEFAULT
from detector.forest_scoring import forest_raws
from detector.model import AnomalyModel
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
        family_max_samples=family_max_samples,
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
    assert {f.max_samples_ for _, _, f in model.family_forests_} == {DEFAULT.family_max_samples}
    small = AnomalyModel(n_estimators=5, family_estimators=3).fit(family_population(500, 1))
    assert {f.max_samples_ for _, _, f in small.family_forests_} == {500}  # capped


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
