"""Family weights in the subspace blend: arithmetic, validation, old bundles, reasons.

The conversation family weighs 4, adoption and tier 3 and probing 2 in the families' part
of the blend by default (``Config.family_weights``); a family constant in training weighs 0.
These tests hold the blend to its formula, keep bundles fitted before the weights on the
plain mean, and check that attributions follow the weights so the reasons explain the
score that was actually computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector import forest_blend
from detector.config import DEFAULT
from detector.explain import explain_frame
from detector.explain.attribution import forest_contributions
from detector.forest_scoring import forest_raws
from detector.model import AnomalyModel
from detector.tails import TailScorer
from tests.synthetic_features import family_population


def _features(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """A small population over a few registered features of four families."""
    frame = family_population(n, seed)
    # one account that harvests answers, one that is only unusual in its content
    frame.loc["acct-00007", ["unread_followup_share", "broad_harvest_share"]] = [0.9, 0.8]
    frame.loc["acct-00009", "reasoning_share"] = 0.9
    return frame


def _fit(weights: object, features: pd.DataFrame | None = None) -> AnomalyModel:
    return AnomalyModel(
        n_estimators=40, family_estimators=30, random_state=0, family_weights=weights
    ).fit(_features() if features is None else features)


def test_default_weights_name_the_evidence_families() -> None:
    from detector.features import FAMILIES

    weights = dict(DEFAULT.family_weights)
    assert weights == {"conversation": 4.0, "adoption": 3.0, "tier": 3.0, "probing": 2.0}
    assert set(weights) <= set(FAMILIES)  # a misspelt family would weigh nothing


def test_shares_are_normalised_and_default_to_one() -> None:
    shares = forest_blend.family_shares(["volume", "conversation", "timing"], {"conversation": 3})
    assert shares == pytest.approx([0.2, 0.6, 0.2])
    assert forest_blend.family_shares(["volume", "timing"], {}) == pytest.approx([0.5, 0.5])
    assert forest_blend.family_shares([], {"conversation": 3.0}) == []


@pytest.mark.parametrize(
    "weights",
    [{"conversaton": 3.0}, {"volume": -1.0}, {"volume": float("nan")}, {"volume": 0, "timing": 0}],
)
def test_bad_weights_are_refused(weights: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="family weights"):
        forest_blend.family_shares(["volume", "timing"], weights)


def test_model_refuses_a_misspelt_family() -> None:
    with pytest.raises(ValueError, match="conversaton"):
        _fit({"conversaton": 3.0})


def test_blend_is_the_weighted_mean_of_the_families() -> None:
    model = _fit({"conversation": 3.0})
    X = model.transform(_features())
    raws = forest_raws(
        X, [(model.forest_, slice(None))] + [(f, c) for _, c, f in model.family_forests_]
    )
    families = [name for name, _, _ in model.family_forests_]
    shares = np.array([3.0 if f == "conversation" else 1.0 for f in families])
    shares /= shares.sum()
    assert model.blend_["family_shares"] == pytest.approx(list(shares))
    full = forest_blend.normalise(raws[0], model.blend_["full"])
    floor = model.blend_["family_floor"]
    fams = [
        np.maximum(forest_blend.normalise(r, a), floor)
        for r, a in zip(raws[1:], model.blend_["families"], strict=True)
    ]
    tail = forest_blend.normalise(model.tail_.score(X), model.blend_["tail"])
    w = model.blend_["full_weight"]
    weighted = np.sum([s * v for s, v in zip(shares, fams, strict=True)], axis=0)
    forests = w * full + (1 - w) * weighted
    expected = (1 - model.tail_weight) * forests + model.tail_weight * tail
    np.testing.assert_allclose(model.raw_scores(_features()), expected, rtol=1e-12, atol=1e-12)


def test_weighting_conversation_lifts_the_harvesting_account() -> None:
    features = _features()
    scores = {
        name: pd.Series(_fit(w).score(features), index=features.index)
        for name, w in (("plain", {}), ("weighted", {"conversation": 3.0}))
    }
    ranks = {name: s.rank(ascending=False) for name, s in scores.items()}
    # the harvester climbs; the account unusual only in its content loses its lead over it
    assert ranks["weighted"]["acct-00007"] < ranks["plain"]["acct-00007"]
    gap = {name: s["acct-00009"] - s["acct-00007"] for name, s in scores.items()}
    assert gap["weighted"] < gap["plain"] - 3.0


def test_a_bundle_fitted_before_the_weights_keeps_the_plain_mean() -> None:
    model = _fit({"conversation": 3.0})
    later = {"family_shares", "full_weight", "family_floor"}  # all added since
    old = {k: v for k, v in model.blend_.items() if k not in later}
    X = model.transform(_features())
    raws = forest_raws(
        X, [(model.forest_, slice(None))] + [(f, c) for _, c, f in model.family_forests_]
    )
    tail = model.tail_.score(X)
    mean = np.mean(
        [forest_blend.normalise(r, a) for r, a in zip(raws[1:], old["families"], strict=True)],
        axis=0,
    )
    forests = 0.5 * forest_blend.normalise(raws[0], old["full"]) + 0.5 * mean
    expected = (1 - model.tail_weight) * forests + model.tail_weight * forest_blend.normalise(
        tail, old["tail"]
    )
    np.testing.assert_array_equal(
        forest_blend.combine(raws, tail, old, model.tail_weight), expected
    )
    weights = forest_blend.forest_weights(
        model.forest_, model.family_forests_, old, model.tail_weight, model.n_features_in_
    )
    n_fam = len(model.family_forests_)
    for (_, _, weight), anchors in zip(weights[1:], old["families"], strict=True):
        assert weight == (1 - model.tail_weight) * 0.5 / n_fam / anchors["scale"]


def test_attributions_follow_the_family_weights() -> None:
    features = _features()
    heavy = _fit({"conversation": 3.0})
    weights = heavy.forest_weights()
    families = [name for name, _, _ in heavy.family_forests_]
    conv = 1 + families.index("conversation")
    other = 1 + families.index("timing")
    ratio = (weights[conv][2] * heavy.blend_["families"][conv - 1]["scale"]) / (
        weights[other][2] * heavy.blend_["families"][other - 1]["scale"]
    )
    assert ratio == pytest.approx(3.0)
    top = forest_contributions(heavy, features.loc[["acct-00007"]]).iloc[0].idxmax()
    assert top in {"unread_followup_share", "broad_harvest_share"}


def test_a_family_constant_in_training_takes_no_share() -> None:
    """A window without a model release leaves the adoption family constant: its weight
    must go to the families that can say something, not dilute them."""
    features = _features()
    features["newest_model_share"] = 0.0
    model = _fit({"conversation": 3.0, "adoption": 3.0}, features)
    families = [name for name, _, _ in model.family_forests_]
    shares = dict(zip(families, model.blend_["family_shares"], strict=True))
    assert shares["adoption"] == 0.0
    assert shares["conversation"] == pytest.approx(3 * shares["timing"])
    assert sum(shares.values()) == pytest.approx(1.0)
    # the live families share the blend as if the constant one were not there
    assert shares["timing"] == pytest.approx(1 / (len(families) - 2 + 3.0))


def test_silencing_leaves_live_families_and_an_all_constant_matrix_alone() -> None:
    rng = np.random.default_rng(0)
    matrix = np.column_stack([rng.normal(size=50), np.ones(50), rng.normal(size=50)])
    forests = [("volume", np.array([0]), None), ("adoption", np.array([1]), None)]
    forests.append(("timing", np.array([2]), None))
    got = forest_blend.silence_constant_families(matrix, forests, {"adoption": 3.0})  # type: ignore[arg-type]
    assert got == {"volume": 1.0, "adoption": 0.0, "timing": 1.0}
    flat = np.ones((50, 3))
    assert forest_blend.silence_constant_families(flat, forests, {"adoption": 3.0}) == {  # type: ignore[arg-type]
        "volume": 1.0,
        "adoption": 3.0,
        "timing": 1.0,
    }


def test_the_tail_score_weighs_each_feature_by_its_family() -> None:
    """Moderate signals add up in the tail score; the evidence families count as much
    there as in the forests (session 13: PR-AUC 0.951 -> 0.961 and 0.956 -> 0.974 on two
    realistic populations the weights were not chosen on)."""
    features = _features()
    features["newest_model_share"] = 0.0  # a week without a release: adoption is constant
    model = _fit({"conversation": 3.0, "adoption": 3.0}, features)
    names = list(model.feature_names_in_)
    weights = dict(zip(names, model.tail_.weights, strict=True))
    assert weights["unread_followup_share"] == weights["broad_harvest_share"] == 3.0
    assert weights["requests_per_day"] == weights["hour_entropy"] == 1.0
    assert weights["newest_model_share"] == 0.0  # silenced with its family


def test_weighted_tail_terms_are_the_plain_terms_times_the_weights() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.lognormal(size=(400, 3))
    plain = TailScorer(["high", "low", "both"]).fit(matrix)
    weighted = TailScorer(["high", "low", "both"], weights=(4.0, 1.0, 0.0)).fit(matrix)
    expected = plain.contributions(matrix) * np.array([4.0, 1.0, 0.0])
    np.testing.assert_allclose(weighted.contributions(matrix), expected, rtol=1e-12)
    np.testing.assert_allclose(weighted.score(matrix), expected.sum(axis=1), rtol=1e-12)
    saved_before = TailScorer(["high", "low", "both"]).fit(matrix)
    del saved_before.weights  # a scorer pickled before weights existed has no attribute
    np.testing.assert_array_equal(saved_before.score(matrix), plain.score(matrix))


@pytest.mark.parametrize("weights", [(1.0, 2.0), (1.0, -1.0, 1.0), (1.0, float("inf"), 1.0)])
def test_bad_tail_weights_are_refused(weights: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="tail weights"):
        TailScorer(["high", "low", "both"], weights=weights)


PROBING = ["jailbreak_share", "harmful_share", "refusal_share"]
NEW_PROBING = ["new_account_jailbreak_share", "new_account_harmful_share"]


def _content_population(n: int = 2000, seed: int = 5) -> pd.DataFrame:
    """Ordinary accounts whose content shares are what products are made of: one in six
    a coding product (most prompts code), one in twenty a grader (most prompts rubrics),
    some evaluators (benchmark format); the probing shares near 0 for nearly all, and
    counted again in the new-account shares for the one account in ten that is new. Then
    a prober from a new account, moderately far out on the three probing shares and
    ordinary elsewhere; an established red team, further out on them; and a product far
    out on every other content share at once."""
    rng = np.random.default_rng(seed)
    frame = family_population(n, seed)
    coder, grader, evaluator = (rng.random(n) < p for p in (1 / 6, 1 / 20, 1 / 20))
    frame["code_share"] = np.where(coder, rng.uniform(0.6, 1.0, n), rng.beta(1, 20, n))
    frame["rubric_share"] = np.where(grader, rng.uniform(0.5, 1.0, n), rng.beta(1, 60, n))
    frame["bench_share"] = np.where(evaluator, rng.uniform(0.3, 0.9, n), rng.beta(1, 60, n))
    for name, b in zip(PROBING, (80, 60, 40), strict=True):
        frame[name] = rng.beta(1, b, n)
    new = rng.random(n) < 0.1
    new[[11, 12]] = [True, False]
    frame.loc["acct-00011", PROBING] = [0.4, 0.5, 0.3]
    frame.loc["acct-00012", PROBING] = [0.6, 0.7, 0.6]
    for name, plain in zip(NEW_PROBING, PROBING[:2], strict=True):
        frame[name] = np.where(new, frame[plain], 0.0)
    frame.loc["acct-00013", ["code_share", "rubric_share", "bench_share"]] = [1.0, 0.9, 0.9]
    return frame


def test_probing_from_a_new_account_is_a_subspace_of_its_own_that_weighs_twice() -> None:
    features = _content_population()
    model = AnomalyModel(n_estimators=60, family_estimators=60, random_state=0).fit(features)
    columns = {
        name: [model.feature_names_in_[j] for j in c] for name, c, _ in model.family_forests_
    }
    assert sorted(columns["probing"]) == sorted(NEW_PROBING)
    assert set(PROBING) <= set(columns["content"])  # an established account's probing
    shares = dict(zip(columns, model.blend_["family_shares"], strict=True))
    assert shares["probing"] == pytest.approx(2 * shares["content"])

    # a prober from a new account, only moderately far out on the three shares, climbs
    # above the most unusual honest product and above an established red team that
    # probes harder, when its subspace weighs twice
    scores = {
        name: pd.Series(
            AnomalyModel(n_estimators=60, family_estimators=60, random_state=0, family_weights=w)
            .fit(features)
            .score(features),
            index=features.index,
        )
        for name, w in (("once", {"probing": 1.0}), ("twice", dict(DEFAULT.family_weights)))
    }
    gap = {name: s["acct-00011"] - s["acct-00013"] for name, s in scores.items()}
    assert gap["twice"] > gap["once"] + 2.0
    assert gap["twice"] > 0
    twice = scores["twice"]
    assert twice["acct-00011"] > twice["acct-00012"]
    assert twice.rank(ascending=False)["acct-00011"] <= 5


def test_a_new_prober_is_told_once_that_it_asks_about_harmful_topics() -> None:
    """While an account is new the probing shares are the content shares: its reasons
    said the same thing twice (seed 2626: "20% of requests asked about harmful topics
    while the account was new; 20% of prompts ask about harmful topics")."""
    features = _content_population()
    model = AnomalyModel(n_estimators=60, family_estimators=60, random_state=0).fit(features)
    for what in ("harmful", "jailbreak"):
        assert model.specs_[f"new_account_{what}_share"].echo_of == f"{what}_share"
    prober = "acct-00011"
    assert (features.loc[prober, NEW_PROBING].to_numpy() > 0).all()  # the premise
    frame = explain_frame(model, features, [prober], n_reasons=len(features.columns))
    cited = set(frame["feature"])
    for what in ("harmful", "jailbreak"):
        said = cited & {f"new_account_{what}_share", f"{what}_share"}
        assert len(said) == 1, said
