"""Calming: a benign verdict near the alert queue lowers its look-alikes.

The learned layer's classifier cannot express it on a realistic population (every
unlabelled account is a weak benign example, so an ordinary account's log-odds are
already at their floor), so the layer calms by likeness to the cleared accounts
themselves (:meth:`detector.learned.LearnedLayer.calm_factor`), at the strength
``Config.learned_calm``. The world is
``tests/test_learned.py``'s: ordinary accounts, loud and quiet extraction, and a benign
product ("lookalike") that the forest ranks near the top.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector import schema as S
from detector.artifacts import load_bundle, save_bundle
from detector.config import DEFAULT
from detector.learned import LearnedLayer
from detector.learned_fit import (
    calming_accounts,
    fit_learned,
    weight_note,
)
from detector.model import AnomalyModel
from tests.test_learned import BASE, labels, median_rank, world, world_model

LOOKALIKES = [f"lookalike-{i:02d}" for i in range(30)]
CLEARED = {**BASE, "benign": [*BASE["benign"], *LOOKALIKES[:3]]}
NO_LIFT = replace(DEFAULT, learned_weight=0.0)
"""The classifier's evidence weighs nothing: what moves is calming alone."""


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, AnomalyModel]:
    """``tests/test_learned.py``'s world and its unsupervised model."""
    features = world()
    return features, world_model(features)


def test_the_likeness_fades_over_the_cleared_accounts_own_neighbourhood() -> None:
    layer = LearnedLayer()
    layer.calm_ = 0.5
    layer.anchors_ = {"z_median": 0.0, "z_upper": 1.0}
    layer.cleared_ids_ = np.array(["crowded", "alone"])
    layer.cleared_matrix_ = np.array([[0.0, 0.0], [100.0, 0.0]])
    layer.cleared_radius_ = np.array([0.5, 4.0])
    rows = np.array([[1.0, 0.0], [101.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    ids = np.array(["near-crowded", "near-alone", "crowded", "lifted", "ordinary"], dtype=object)
    evidence = np.array([0.0, -1.0, 0.0, 0.5, 0.0])
    raw = np.array([1.0, 1.0, 1.0, 1.0, -0.1])
    got = layer.calm_factor(rows, ids, evidence, raw)
    # 1 away from each; the cleared account itself is measured against the other one
    # (100 away); an account a confirmed case lifts is not calmed, nor one the forest
    # scores under its median (nothing to calm)
    far = [(1 / 0.5) ** 2, (1 / 4.0) ** 2, (100 / 4.0) ** 2, np.inf, np.inf]
    np.testing.assert_allclose(got, np.exp(-0.5 * np.array(far)))
    assert layer.nearest_cleared(rows[:2], ids[:2]).tolist() == ["crowded", "alone"]
    # no strength, or nobody cleared: nobody is calmed
    assert not LearnedLayer().calm_factor(rows, ids, evidence, raw).any()
    layer.calm_ = 0.0
    assert not layer.calm_factor(rows, ids, evidence, raw).any()


def test_calming_never_takes_an_account_below_the_median() -> None:
    layer = LearnedLayer()
    layer.calm_, layer.weight_ = 0.5, 0.0
    layer.anchors_ = {"z_median": 0.0, "z_upper": 2.0}
    raw = np.array([2.0, 0.4, 0.0, -1.0])  # z = 1, 0.2, 0, -0.5
    calm = np.ones(4)
    np.testing.assert_allclose(layer.calming(raw, calm), [0.5, 0.2, 0.0, 0.0])
    np.testing.assert_allclose(layer.mixed(raw, np.zeros(4), calm), [0.5, 0.0, 0.0, -0.5])
    layer.calm_ = 0.125
    np.testing.assert_allclose(layer.calming(raw, calm), [0.125, 0.125, 0, 0])


def test_only_verdicts_near_the_alert_queue_calm(fitted: tuple[pd.DataFrame, AnomalyModel]) -> None:
    features, model = fitted
    """A benign verdict on an account the forest ranks as ordinary calms nobody: quiet
    extraction lives among ordinary accounts."""
    ids = features.index.to_numpy(dtype=str)
    raw = model.raw_scores(features)
    cleared = np.isin(ids, CLEARED["benign"])
    calmers = set(ids[calming_accounts(model, raw, ids, cleared, DEFAULT)])
    assert calmers == set(LOOKALIKES[:3])
    wide = replace(DEFAULT, learned_calm_queue=len(ids))
    assert set(ids[calming_accounts(model, raw, ids, cleared, wide)]) == set(CLEARED["benign"])


def test_benign_verdicts_calm_look_alikes_when_the_evidence_weighs_nothing(
    fitted: tuple[pd.DataFrame, AnomalyModel],
) -> None:
    features, model = fitted
    """The issue's bar on a world where the classifier's evidence is idle: three cleared
    accounts of a benign kind lower the kind's other accounts, and extraction keeps
    its place."""
    ids = features.index.to_numpy(dtype=object)
    others = LOOKALIKES[3:]
    without = fit_learned(model, features, labels(**BASE), config=NO_LIFT)
    calmed = fit_learned(model, features, labels(**CLEARED), config=NO_LIFT)
    assert without is not None and calmed is not None
    assert without.weight_ == calmed.weight_ == 0.0
    assert without.calm_ == 0.0 and not len(without.cleared_ids_)
    assert calmed.calm_ == DEFAULT.learned_calm
    assert sorted(calmed.cleared_ids_) == LOOKALIKES[:3]
    before = median_rank(without.score(model, features), ids, others)
    after = median_rank(calmed.score(model, features), ids, others)
    assert after > before, (before, after)
    quiet = [f"quiet-{i:02d}" for i in range(3, 20)]
    assert median_rank(calmed.score(model, features), ids, quiet) <= median_rank(
        without.score(model, features), ids, quiet
    )


def test_calming_is_as_strong_as_configured_and_off_at_0(
    fitted: tuple[pd.DataFrame, AnomalyModel],
) -> None:
    features, model = fitted
    ids = features.index.to_numpy(dtype=object)
    others = LOOKALIKES[3:]
    ranks = {}
    for strength in (0.0, DEFAULT.learned_calm, 2 * DEFAULT.learned_calm):
        layer = fit_learned(
            model, features, labels(**CLEARED), config=replace(NO_LIFT, learned_calm=strength)
        )
        assert layer is not None and layer.calm_ == strength
        ranks[strength] = median_rank(layer.score(model, features), ids, others)
    # off: exactly what the verdicts without the three cleared accounts give
    plain = fit_learned(model, features, labels(**BASE), config=NO_LIFT)
    assert plain is not None
    assert ranks[0.0] == median_rank(plain.score(model, features), ids, others)
    assert ranks[0.0] < ranks[DEFAULT.learned_calm] < ranks[2 * DEFAULT.learned_calm], ranks


def test_score_frame_names_the_cleared_account(fitted: tuple[pd.DataFrame, AnomalyModel]) -> None:
    features, model = fitted
    strong = replace(NO_LIFT, learned_calm=1.0)  # moves look-alikes by 10 points or more
    layer = fit_learned(model, features, labels(**CLEARED), config=strong)
    assert layer is not None
    table = layer.score_frame(model, features, explain_top=len(features))
    calmed = table[table[S.UNSUPERVISED_SCORE] - table[S.SCORE] >= 10]
    assert len(calmed)
    lead = calmed[S.REASONS].str.split(S.REASONS_SEPARATOR).str[0]
    named = lead.str.extract(r"^resembles cleared account (\S+) ")[0]
    assert named.notna().all(), lead.tolist()
    assert set(named) <= set(LOOKALIKES[:3])
    assert (named != calmed[S.ACCOUNT_ID]).all()


def test_the_bundle_keeps_the_calming_and_older_layers_calm_nobody(
    tmp_path: Path, fitted: tuple[pd.DataFrame, AnomalyModel]
) -> None:
    features, model = fitted
    layer = fit_learned(model, features, labels(**CLEARED), config=NO_LIFT)
    assert layer is not None and layer.calm_ > 0
    bundle = load_bundle(save_bundle(tmp_path / "m.bundle", model, learned=layer))
    assert bundle.learned is not None
    assert bundle.learned.calm_ == layer.calm_
    assert list(bundle.learned.cleared_ids_) == list(layer.cleared_ids_)
    assert np.array_equal(bundle.learned.score(model, features), layer.score(model, features))
    # a layer saved before calming existed has none of these attributes
    old = bundle.learned
    for name in ("cleared_ids_", "cleared_matrix_", "cleared_radius_", "calm_"):
        del old.__dict__[name]
    ids = features.index.to_numpy(dtype=object)
    parts = old.score_parts(model, features)
    assert not parts.calm.any()
    assert parts.calm.shape == ids.shape


def test_train_and_evaluate_say_what_the_verdicts_chose() -> None:
    assert weight_note(0.0) == (
        "weight 0 chosen on the verdicts: every weight above 0 ranked them clearly worse than "
        "the unsupervised score, so the scores are the unsupervised ones"
    )
    calming = weight_note(0.0, 0.125, 46)
    assert "so confirmed cases lift nobody; 46 cleared account(s) near the alert queue" in calming
    assert calming.endswith("calm their look-alikes by up to 0.125")
    assert weight_note(0.25, 0.5, 0) == "weight 0.25 chosen on the verdicts"
