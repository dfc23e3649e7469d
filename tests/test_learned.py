"""The learned layer: what verdicts change, what they must not, and how it is saved.

A small synthetic population (``tests/synthetic_features.py``): ordinary accounts, a
loud kind of extraction, a quiet kind that the forest ranks only moderately high, and a
benign product that looks like extraction to the forest.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from detector import proximity
from detector import schema as S
from detector.artifacts import TRUSTED_TYPES, load_bundle, read_manifest, save_bundle
from detector.config import DEFAULT, Config
from detector.learned import LearnedLayer
from detector.learned_fit import (
    WEIGHT_STEPS,
    fit_learned,
    rows_that_scored,
    verdict_weight,
    why_not_learn,
)
from detector.model import AnomalyModel
from detector.proximity import grid, nearest, neighbourhood_radius
from detector.ranking import parse_budget, rank_accounts
from detector.substreams import SubStreams
from tests.synthetic_features import SPECS, population

KINDS = {  # name: (accounts, log req/day, reasoning share, topic entropy, log output tokens)
    "loud": (20, 6.0, 0.9, 1.0, 7.5),
    "quiet": (20, 3.4, 0.2, 1.8, 6.8),
    "lookalike": (30, 5.8, 0.75, 1.5, 7.0),
}


def kind(name: str, seed: int) -> pd.DataFrame:
    n, volume, reasoning, topics, output = KINDS[name]
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "requests_per_day": rng.lognormal(volume, 0.3, n),
            "reasoning_share": np.clip(rng.normal(reasoning, 0.05, n), 0, 1),
            "topic_entropy": rng.normal(topics, 0.2, n),
            "mean_output_tokens": rng.lognormal(output, 0.2, n),
        },
        index=pd.Index([f"{name}-{i:02d}" for i in range(n)], name=S.ACCOUNT_ID),
    )


def world() -> pd.DataFrame:
    """The population: ordinary accounts, loud and quiet extraction, a benign look-alike."""
    parts = [population(1200, seed=3), kind("loud", 1), kind("quiet", 2), kind("lookalike", 3)]
    return pd.concat(parts)


def world_model(features: pd.DataFrame) -> AnomalyModel:
    """The unsupervised model the layer sits on (no family forests: a small world)."""
    return AnomalyModel(n_estimators=60, family_estimators=0, specs=SPECS).fit(features)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return world()


@pytest.fixture(scope="module")
def model(features: pd.DataFrame) -> AnomalyModel:
    return world_model(features)


def labels(**groups: list[str]) -> pd.DataFrame:
    """``labels(extraction=[...], benign=[...])`` as a labels table."""
    rows = [(a, label) for label, ids in groups.items() for a in ids]
    return pd.DataFrame(rows, columns=[S.ACCOUNT_ID, S.LABEL])


BASE = {
    "extraction": ["loud-00", "loud-01", "loud-02", "quiet-00", "quiet-01", "quiet-02"],
    "benign": [f"acct-{i:05d}" for i in range(0, 40, 4)],
}
TRUSTING = replace(DEFAULT, learned_weight=DEFAULT.learned_weight / WEIGHT_STEPS[1])
"""The unsupervised score ranks this world's verdicts perfectly, so every weight ties on
them and the smallest positive one is taken (``verdict_weight``). Under this config that
is ``DEFAULT.learned_weight``, the layer fully trusted: the tests of what the layer does
to look-alikes measure the layer, not the choice of its weight."""


def median_rank(scores: np.ndarray, ids: np.ndarray, members: list[str]) -> float:
    ranks = pd.Series(rank_accounts(np.round(scores, 2), ids), index=ids)
    return float(ranks.loc[members].median())


def test_too_few_labels_mean_no_layer(features: pd.DataFrame, model: AnomalyModel) -> None:
    five = labels(extraction=["loud-00", "loud-01"], benign=["acct-00000", "acct-00001", "q"])
    assert fit_learned(model, features, five) is None
    assert "fewer than 6" in str(why_not_learn(five))
    one_class = labels(extraction=["loud-00"], benign=[f"acct-{i:05d}" for i in range(9)])
    assert fit_learned(model, features, one_class) is None
    assert "each class needs at least 2" in str(why_not_learn(one_class))
    # labels of accounts outside the population do not count
    outside = labels(extraction=["nobody-1", "nobody-2", "loud-00"], benign=BASE["benign"])
    assert fit_learned(model, features, outside) is None
    assert fit_learned(model, features, labels(**BASE), config=Config()) is not None


def test_confirmed_cases_lift_their_unlabelled_look_alikes(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    layer = fit_learned(model, features, labels(**BASE), config=TRUSTING)
    assert layer is not None
    ids = features.index.to_numpy(dtype=object)
    others = [f"quiet-{i:02d}" for i in range(3, 20)]
    before = median_rank(model.score(features), ids, others)
    after = median_rank(layer.score(model, features), ids, others)
    assert after < before - 8, (before, after)


def test_neighbourhood_radius_is_the_mth_nearest_unmasked_distance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(50, 4))
    refs = matrix[[3, 17, 40]]
    masked = np.zeros(50, dtype=bool)
    masked[[3, 17, 40, 8]] = True
    monkeypatch.setattr(proximity, "CASE_CHUNK", 7)  # several blocks, one partly masked
    got = neighbourhood_radius(refs, matrix, masked, 5)
    brute = np.sqrt(((refs[:, None, :] - matrix[~masked][None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_allclose(got, np.sort(brute, axis=1)[:, 4])
    at, dist = nearest(
        matrix[:10],
        np.array([f"a{i}" for i in range(10)], dtype=object),
        refs,
        np.array(["a3", "x", "y"]),
    )
    assert at[3] != 0  # never its own nearest
    full = np.sqrt(((matrix[:10, None, :] - refs[None, :, :]) ** 2).sum(axis=2))
    full[3, 0] = np.inf
    np.testing.assert_array_equal(at, full.argmin(axis=1))
    np.testing.assert_allclose(dist, full.min(axis=1))


def substreams_of(rows: dict[str, pd.Series]) -> SubStreams:
    """Sub-streams with the given feature rows, keyed ``parent/n``."""
    ids = [f"{parent}/{n}" for n, parent in enumerate(rows)]
    feats = pd.DataFrame(list(rows.values()), index=pd.Index(ids, name=S.ACCOUNT_ID))
    meta = pd.DataFrame({S.ACCOUNT_ID: [p.split("/")[0] for p in rows]}, index=feats.index)
    return SubStreams(feats, meta)


def test_a_verdict_teaches_the_row_that_scored_the_account(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    """A mixed account is judged by its extraction sub-stream, so that row is what its
    verdict teaches; an account whose own row outscores its sub-streams, or that has no
    verdict, keeps its row."""
    loud, calm = features.loc["loud-05"], features.loc["acct-00007"]
    subs = substreams_of(
        {
            "acct-00005": loud,  # a product row with an extraction stream in it
            "acct-00005 ": calm,  # (a second, ordinary stream of the same account)
            "loud-03": calm,  # its own row is the anomaly
            "acct-00009": loud,  # no verdict
        }
    )
    subs.meta[S.ACCOUNT_ID] = ["acct-00005", "acct-00005", "loud-03", "acct-00009"]
    verdicts = labels(extraction=["acct-00005", "loud-03", "loud-00"], benign=BASE["benign"])
    got = rows_that_scored(model, features, verdicts, subs)
    assert got.index.equals(features.index)
    pd.testing.assert_series_equal(got.loc["acct-00005"], loud, check_names=False)
    others = got.drop(index="acct-00005")
    pd.testing.assert_frame_equal(others, features.drop(index="acct-00005"), check_dtype=False)
    assert rows_that_scored(model, features, verdicts, None) is features
    # the fitted layer holds that row as the confirmed case
    layer = fit_learned(
        model, features, labels(**{**BASE, "extraction": [*BASE["extraction"], "acct-00005"]}),
        substreams=subs,
    )  # fmt: skip
    assert layer is not None
    at = list(layer.case_ids_).index("acct-00005")
    np.testing.assert_allclose(layer.case_matrix_[at], model.transform(loud.to_frame().T)[0])


def test_a_case_in_a_crowd_lifts_only_its_closest_look_alikes(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    fitted = fit_learned(model, features, labels(**BASE))
    assert fitted is not None and fitted.case_radius_.shape == (len(fitted.case_ids_),)
    # two confirmed cases: one among many ordinary accounts (radius 0.5), one alone (4)
    layer = LearnedLayer()
    layer.case_ids_ = np.array(["crowded", "alone"])
    layer.case_matrix_ = np.array([[0.0, 0.0], [100.0, 0.0]])
    layer.case_radius_ = np.array([0.5, 4.0])
    rows = np.array([[1.0, 0.0], [101.0, 0.0], [0.0, 0.0]])
    ids = np.array(["near-crowded", "near-alone", "crowded"], dtype=object)
    faded = layer.near_a_case(rows, ids, np.full(3, 2.0))
    # 1 away from each; the case itself is measured against the other case (100 away)
    expected = 2.0 * np.exp(-0.5 * np.array([(1 / 0.5) ** 2, (1 / 4.0) ** 2, (100 / 4.0) ** 2]))
    np.testing.assert_allclose(faded, expected)
    # negative evidence is the classifier's alone
    np.testing.assert_array_equal(layer.near_a_case(rows, ids, np.full(3, -2.0)), -2.0)


def test_benign_verdicts_calm_their_look_alikes(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    ids = features.index.to_numpy(dtype=object)
    others = [f"lookalike-{i:02d}" for i in range(3, 30)]
    cleared = {**BASE, "benign": [*BASE["benign"], "lookalike-00", "lookalike-01", "lookalike-02"]}
    without = fit_learned(model, features, labels(**BASE), config=TRUSTING)
    with_them = fit_learned(model, features, labels(**cleared), config=TRUSTING)
    assert without is not None and with_them is not None
    unsup = median_rank(model.score(features), ids, others)
    before = median_rank(without.score(model, features), ids, others)
    after = median_rank(with_them.score(model, features), ids, others)
    # the bar: cleared look-alikes rank lower than without those verdicts, and
    # well below where the unsupervised score put them
    assert after > before, (unsup, before, after)
    assert after > unsup + 10, (unsup, before, after)


def test_a_labelled_account_is_scored_by_the_classifier_that_never_saw_it(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    # one extreme, isolated account labelled extraction, and trees allowed to single it
    # out: the classifiers that trained on it single it out, its own does not
    odd = pd.DataFrame(
        {
            "requests_per_day": [20.0],
            "reasoning_share": [0.02],
            "topic_entropy": [0.2],
            "mean_output_tokens": [30.0],
        },
        index=pd.Index(["odd-one"], name=S.ACCOUNT_ID),
    )
    table = pd.concat([features, odd])
    config = Config(learned_min_leaf=1, learned_max_depth=6, learned_leaf_nodes=31)
    layer = fit_learned(
        model,
        table,
        labels(**{**BASE, "extraction": [*BASE["extraction"], "odd-one"]}),
        config=config,
    )
    assert layer is not None
    row = grid(model.transform(odd))
    own = int(layer.folds(np.array(["odd-one"], dtype=object))[0])
    p = [float(c.predict_proba(row)[0, 1]) for c in layer.classifiers_]
    seen = [p[k] for k in range(len(p)) if k != own]
    assert min(seen) > 0.5 > p[own], p
    odds = layer.log_odds(model.transform(odd), np.array(["odd-one"], dtype=object))
    assert odds[0] == pytest.approx(np.log(p[own] / (1 - p[own])), rel=1e-6)


def test_scores_keep_their_scale_and_the_budget(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    layer = fit_learned(model, features, labels(**BASE))
    assert layer is not None
    scores = layer.score(model, features)
    assert scores.min() >= 0 and scores.max() <= 100
    assert np.median(scores) == pytest.approx(15.0, abs=0.5)
    assert np.quantile(scores, 0.99) == pytest.approx(75.0, abs=1.0)
    flagged = (np.round(scores, 2) >= layer.threshold_).sum()
    assert 0 < flagged <= parse_budget(DEFAULT.alert_ceiling, len(features))


def test_the_layer_flags_as_many_accounts_as_the_model(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    """Verdicts re-rank, they do not add alerts. Benign verdicts over much of the bulk
    lower its look-alikes and tighten it; five bulk spreads re-derived over the learned
    score fell 7 points and flagged a quarter more accounts on a realistic population."""
    cleared = [f"acct-{i:05d}" for i in range(0, 1200, 3)]
    layer = fit_learned(model, features, labels(extraction=BASE["extraction"], benign=cleared))
    assert layer is not None
    unsupervised = int((np.round(model.score(features), 2) >= model.threshold_).sum())
    learned = int((np.round(layer.score(model, features), 2) >= layer.threshold_).sum())
    assert unsupervised > 0
    assert unsupervised - 2 <= learned <= unsupervised  # fewer only by a tie at the line


def test_the_layer_spends_an_explicit_budget_alike(features: pd.DataFrame) -> None:
    budgeted = AnomalyModel(
        n_estimators=60, family_estimators=0, specs=SPECS, alert_budget="3%"
    ).fit(features)
    layer = fit_learned(budgeted, features, labels(**BASE))
    assert layer is not None
    flagged = int((np.round(layer.score(budgeted, features), 2) >= layer.threshold_).sum())
    assert 0 < flagged <= parse_budget("3%", len(features))


def test_the_fit_is_reproducible(features: pd.DataFrame, model: AnomalyModel) -> None:
    a = fit_learned(model, features, labels(**BASE))
    b = fit_learned(model, features.sample(frac=1.0, random_state=1), labels(**BASE))
    assert a is not None and b is not None
    assert np.array_equal(a.score(model, features), b.score(model, features))


def test_score_frame_names_the_nearest_confirmed_case(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    layer = fit_learned(model, features, labels(**BASE), config=TRUSTING)
    assert layer is not None
    table = layer.score_frame(model, features)
    assert list(table.columns[:6]) == list(S.SCORE_COLUMNS)
    lifted = table[table[S.SCORE] - table[S.UNSUPERVISED_SCORE] >= 10]
    assert len(lifted)
    lead = lifted[S.REASONS].str.split(S.REASONS_SEPARATOR).str[0]
    named = lead.str.extract(r"^behaves like confirmed extraction account (\S+) ")[0]
    assert named.notna().all(), lead.tolist()
    assert set(named) <= set(BASE["extraction"])
    assert (named != lifted[S.ACCOUNT_ID]).all()
    # the feature reasons are still there after it
    assert lifted[S.REASONS].str.count(S.REASONS_SEPARATOR).min() >= 1


def test_score_frame_refuses_a_threshold_with_a_budget(
    features: pd.DataFrame, model: AnomalyModel
) -> None:
    """The learned layer's scorer refuses with the same check and words as the model's."""
    layer = fit_learned(model, features, labels(**BASE))
    assert layer is not None
    with pytest.raises(ValueError) as err:
        layer.score_frame(model, features, threshold=50.0, budget="2%")
    assert str(err.value) == "give either an alert threshold or an alert budget, not both"


def test_the_bundle_holds_the_layer_and_the_labels_provenance(
    tmp_path: Path, features: pd.DataFrame, model: AnomalyModel
) -> None:
    from detector.verdicts import provenance

    used = labels(**BASE)
    layer = fit_learned(model, features, used, provenance=provenance(used, "test.csv"))
    assert layer is not None
    path = save_bundle(tmp_path / "m.bundle", model, learned=layer)
    manifest = read_manifest(path)
    assert manifest["labels"]["n_extraction"] == 6
    assert manifest["labels"]["n_benign"] == 10
    assert manifest["labels"]["source"] == "test.csv"
    assert len(manifest["labels"]["pairs_sha256"]) == 64
    assert manifest["learned"]["threshold"] == round(layer.threshold_, 2)
    bundle = load_bundle(path)
    assert isinstance(bundle.learned, LearnedLayer)
    assert np.array_equal(bundle.learned.score(model, features), layer.score(model, features))
    # an unsupervised bundle has no layer, and its payload has no entry for one
    plain = load_bundle(save_bundle(tmp_path / "plain.bundle", model))
    assert plain.learned is None
    assert read_manifest(tmp_path / "plain.bundle")["labels"] is None


def test_only_plain_data_types_are_trusted(
    tmp_path: Path, features: pd.DataFrame, model: AnomalyModel
) -> None:
    layer = fit_learned(model, features, labels(**BASE))
    path = save_bundle(tmp_path / "m.bundle", model, learned=layer)
    payload = path.read_bytes().split(b"\n", 2)[2]
    with zipfile.ZipFile(io.BytesIO(payload)):
        pass
    assert set(sio.get_untrusted_types(data=payload)) <= set(TRUSTED_TYPES)
    # the list is exactly these: classes whose restore only sets attributes
    assert set(TRUSTED_TYPES) == {
        "detector.model.AnomalyModel",
        "detector.features.registry.FeatureSpec",
        "detector.learned.LearnedLayer",
        "detector.peers.PeerTiers",
        "detector.tails.TailScorer",
        "detector.topics.TopicModel",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }


def test_the_verdicts_choose_the_weight_of_their_evidence() -> None:
    """Each verdict's evidence is out-of-fold, so how ``z + w · e`` ranks the verdicts is
    an honest test of the layer: evidence that ranks confirmed cases under cleared ones
    gets weight 0 (the unsupervised score); evidence that helps gets the most weight
    that helps most; and verdicts the unsupervised score already ranks perfectly cannot
    say how far to trust it, so it gets the smallest weight that does not mislead them."""
    layer = LearnedLayer()
    layer.weight_ = DEFAULT.learned_weight
    layer.anchors_ = {"z_median": 0.0, "z_upper": 1.0}
    y = np.array([True] * 4 + [False] * 16)
    rng = np.random.default_rng(0)
    raw = np.where(y, 1.0, 0.0) + rng.normal(0, 1.0, len(y))  # the forest: useful, not perfect
    helps = np.where(y, 2.0, 0.0)
    misleads = np.where(y, 0.0, 2.0)
    smallest = DEFAULT.learned_weight * WEIGHT_STEPS[1]
    assert verdict_weight(layer, raw, misleads, y, DEFAULT) == 0.0
    # weak evidence ranks the verdicts best only at full weight...
    assert verdict_weight(layer, raw, helps / 4, y, DEFAULT) == DEFAULT.learned_weight
    # ...strong evidence ranks them perfectly already at the smallest: that one is taken
    assert verdict_weight(layer, raw, helps, y, DEFAULT) == smallest
    perfect = np.where(y, 5.0, 0.0)
    assert verdict_weight(layer, perfect, misleads * 0.1, y, DEFAULT) == smallest
    assert verdict_weight(layer, perfect, helps, y, DEFAULT) == smallest
    steps = [DEFAULT.learned_weight * s for s in WEIGHT_STEPS]
    assert steps[0] == 0.0 and steps[-1] == DEFAULT.learned_weight


def test_a_swap_among_perfectly_ranked_verdicts_is_a_tie_not_a_verdict_against_the_layer() -> None:
    """40 confirmed cases the forest ranks perfectly; the evidence lifts one cleared
    account over the last of them. At the smallest weight the verdicts' average precision
    is 0.9994 against 1.0 for weight 0: not clear evidence against the layer, so it acts;
    evidence that puts cleared accounts over many confirmed ones still gets weight 0."""
    layer = LearnedLayer()
    layer.weight_ = DEFAULT.learned_weight
    layer.anchors_ = {"z_median": 0.0, "z_upper": 1.0}
    y = np.array([True] * 40 + [False] * 400)
    raw = np.r_[5.0 + 0.01 * np.arange(40), np.linspace(0.0, 1.0, 400)]  # ranked perfectly
    one_swap = np.zeros(len(y))
    # at the smallest weight the top cleared account (1.0) lands just over the last case
    one_swap[-1] = (5.005 - 1.0) / (DEFAULT.learned_weight * WEIGHT_STEPS[1])
    exact = replace(DEFAULT, learned_weight_tolerance=0.0)
    assert verdict_weight(layer, raw, one_swap, y, exact) == 0.0  # an exact tie is lost
    assert (
        verdict_weight(layer, raw, one_swap, y, DEFAULT) == DEFAULT.learned_weight * WEIGHT_STEPS[1]
    )
    misleads = np.where(y, 0.0, 50.0)
    assert verdict_weight(layer, raw, misleads, y, DEFAULT) == 0.0
