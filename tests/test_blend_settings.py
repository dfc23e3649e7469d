"""The full forest's weight and the family floor in the subspace blend.

Defaults (``Config.full_forest_weight`` 0.25, ``Config.family_floor`` 0): the full-space
forest takes a quarter of the forests' part of the blend, and a family in which an account
is more typical than the training median counts as the median instead of pulling the
account down. These tests hold the blend to that formula, keep bundles fitted before the
settings on ½ and no floor bit for bit, refuse bad settings, and check that a floored
family gets no credit in the reasons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector import forest_blend
from detector.config import DEFAULT
from detector.explain.attribution import forest_contributions
from detector.forest_scoring import forest_raws
from detector.model import AnomalyModel
from tests.synthetic_features import family_population


def _features(n: int = 500, seed: int = 5) -> pd.DataFrame:
    """A small population over registered features of four families."""
    return family_population(n, seed)


def _fit(**params: object) -> AnomalyModel:
    return AnomalyModel(n_estimators=40, family_estimators=30, random_state=0, **params).fit(
        _features()
    )


def _raws(model: AnomalyModel, X: np.ndarray) -> list[np.ndarray]:
    return forest_raws(
        X, [(model.forest_, slice(None))] + [(f, c) for _, c, f in model.family_forests_]
    )


def test_defaults_are_recorded_in_the_bundle() -> None:
    assert DEFAULT.full_forest_weight == 0.25
    assert DEFAULT.family_floor == 0.0
    model = _fit()
    assert model.blend_["full_weight"] == 0.25
    assert model.blend_["family_floor"] == 0.0
    assert "family_floor" not in _fit(family_floor=None).blend_


def test_blend_follows_the_settings() -> None:
    model = _fit(full_forest_weight=0.4, family_floor=-0.2)
    X = model.transform(_features())
    raws = _raws(model, X)
    shares = model.blend_["family_shares"]
    full = forest_blend.normalise(raws[0], model.blend_["full"])
    fams = [
        np.maximum(forest_blend.normalise(r, a), -0.2)
        for r, a in zip(raws[1:], model.blend_["families"], strict=True)
    ]
    weighted = np.sum([s * v for s, v in zip(shares, fams, strict=True)], axis=0)
    forests = 0.4 * full + 0.6 * weighted
    tail = forest_blend.normalise(model.tail_.score(X), model.blend_["tail"])
    expected = (1 - model.tail_weight) * forests + model.tail_weight * tail
    np.testing.assert_allclose(model.raw_scores(_features()), expected, rtol=1e-12, atol=1e-12)


def test_a_typical_family_cannot_pull_an_account_down() -> None:
    """Below the floor, how typical a family finds the account changes nothing."""
    model = _fit()
    X = model.transform(_features())
    raws = _raws(model, X)
    tail = model.tail_.score(X)
    before = forest_blend.combine(raws, tail, model.blend_, model.tail_weight)
    i = 1 + [f for f, _, _ in model.family_forests_].index("conversation")
    normed = forest_blend.normalise(raws[i], model.blend_["families"][i - 1])
    below = normed < 0.0
    assert below.any() and (~below).any()
    lower = list(raws)
    # a lower raw score is a more typical account (sklearn's sign: higher = more anomalous)
    lower[i] = np.where(below, raws[i] - 1.0, raws[i])
    after = forest_blend.combine(lower, tail, model.blend_, model.tail_weight)
    np.testing.assert_array_equal(after, before)
    unfloored = {**model.blend_, "family_floor": None}
    assert not np.array_equal(
        forest_blend.combine(lower, tail, unfloored, model.tail_weight)[below],
        forest_blend.combine(raws, tail, unfloored, model.tail_weight)[below],
    )


def test_a_bundle_fitted_before_the_settings_keeps_half_and_no_floor() -> None:
    model = _fit()
    old = {k: v for k, v in model.blend_.items() if k not in {"full_weight", "family_floor"}}
    X = model.transform(_features())
    raws = _raws(model, X)
    tail = model.tail_.score(X)
    shares = old["family_shares"]
    fams = [forest_blend.normalise(r, a) for r, a in zip(raws[1:], old["families"], strict=True)]
    forests = 0.5 * forest_blend.normalise(raws[0], old["full"]) + 0.5 * np.sum(
        [w * v for w, v in zip(shares, fams, strict=True)], axis=0
    )
    expected = (1 - model.tail_weight) * forests + model.tail_weight * forest_blend.normalise(
        tail, old["tail"]
    )
    np.testing.assert_array_equal(
        forest_blend.combine(raws, tail, old, model.tail_weight), expected
    )
    assert forest_blend.active_families(X, model.family_forests_, old) is None
    weights = forest_blend.forest_weights(
        model.forest_, model.family_forests_, old, model.tail_weight, model.n_features_in_
    )
    assert weights[0][2] == (1 - model.tail_weight) * 0.5 / old["full"]["scale"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"full_forest_weight": 1.5}, "full_forest_weight"),
        ({"full_forest_weight": -0.1}, "full_forest_weight"),
        ({"full_forest_weight": float("nan")}, "full_forest_weight"),
        ({"family_floor": float("inf")}, "family_floor"),
    ],
)
def test_bad_settings_are_refused(params: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _fit(**params)


def test_a_floored_family_gets_no_credit() -> None:
    """Reasons explain the score computed: a floored family's features lose its credit."""
    model = _fit()
    features = _features()
    X = model.transform(features)
    active = model.active_families(X)
    assert active is not None and active.shape == (len(model.family_forests_), len(features))
    families = [f for f, _, _ in model.family_forests_]
    i = families.index("conversation")
    floored, counted = np.flatnonzero(~active[i])[:5], np.flatnonzero(active.all(axis=0))[:5]
    assert len(floored) and len(counted)
    rows = features.iloc[np.concatenate([floored, counted])]
    masked = forest_contributions(model, rows)
    unmasked_model = _fit()
    unmasked_model.blend_ = {**unmasked_model.blend_, "family_floor": -1e9}  # every family counts
    unmasked = forest_contributions(unmasked_model, rows)
    conv_cols = [str(n) for n in model.feature_names_in_[model.family_forests_[i][1]]]
    weights = model.forest_weights()
    # the conversation columns of floored rows drop the family forest's (positive-weight)
    # credit; rows where every family counts are unchanged
    pd.testing.assert_frame_equal(masked.iloc[len(floored) :], unmasked.iloc[len(floored) :])
    assert weights[1 + i][2] > 0
    assert not np.allclose(
        masked.iloc[: len(floored)][conv_cols], unmasked.iloc[: len(floored)][conv_cols]
    )
    other = [c for c in masked.columns if c not in conv_cols]
    floored_rows = masked.iloc[: len(floored)]
    for j, row in enumerate(floored):
        still = [c for c in other if active[families.index(model.specs_[c].family), row]]
        np.testing.assert_array_equal(
            floored_rows.iloc[j][still].to_numpy(), unmasked.iloc[j][still].to_numpy()
        )


def test_train_fits_the_model_the_config_describes(make_requests, tmp_path) -> None:
    """``train(config=…)`` passes every model setting on (it once kept only five)."""
    import dataclasses

    from detector.scoring import train

    log = tmp_path / "log.parquet"
    make_requests(1500, seed=4).to_parquet(log, index=False)
    config = dataclasses.replace(
        DEFAULT,
        n_estimators=20,
        family_estimators=10,
        full_forest_weight=0.6,
        family_floor=None,
        tail_weight=0.1,
        family_weights=(("timing", 2.0),),
        peer_prior=7.0,
    )
    _, _, model = train(log, tmp_path / "model.bundle", config=config)
    assert model.blend_["full_weight"] == 0.6
    assert "family_floor" not in model.blend_
    assert (model.tail_weight, dict(model.family_weights), model.peer_prior) == (
        0.1,
        {"timing": 2.0},
        7.0,
    )
