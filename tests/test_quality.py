"""The quality floor: the detector on a seeded simulated population (not the one it was
tuned on) must keep separating extraction from product use.

The floors sit a little under what the detector reaches (see the closing figures in the
project notes); a change that drops below them is a regression to look at, not noise.
"""

from __future__ import annotations

import pandas as pd
import pytest

from detector import schema as S
from detector.evaluate import evaluate
from detector.feedback import feedback_evaluation
from detector.ingest import read_labels
from detector.scoring import ScoreResult, score, train
from detector.simulate import simulate

SEED = 23  # the detector was tuned on seeds 1, 2 and 7
PR_AUC_FLOOR = 0.95  # 0.996 measured at this seed
ROC_AUC_FLOOR = 0.98  # 0.999 measured
HYDRA_TOP_K_FLOOR = 0.9
PERSONA_TOP_K_FLOOR = 0.6  # lowest measured: safety_probing 0.78 (9 accounts)
BENIGN_FLAGGED_CEILING = 0.02  # issue 12: no benign persona > 2% flagged; 0 measured
HYDRA_FLAGGED_FLOOR = 0.9  # 1.0 measured (session 10)
LEARNED_PR_AUC_FLOOR = 0.97  # 10 % verdicts, held-out 90 %: 0.999 and 0.978 (draws 0, 1)
LEARNED_PR_AUC_SLACK = 0.015
"""Mean over the two draws vs unsupervised on the same accounts: -0.011 (0.999 unsupervised:
nothing to gain on this population). Per draw it moves by ±0.01 with which 11 accounts are
the confirmed cases (-0.000 and -0.021 with per-case fading, -0.012 and -0.012 before), so
the guard is on the mean; the realistic populations measure the gain (docs/operations.md)."""
LEARNED_BENIGN_FLAGGED_CEILING = 0.1
"""Lowest measured: evaluation_researcher 2 of 26 held-out accounts (0.077) at draw 1,
where the learned layer's PR-AUC is 0.978 (its flag precision 0.96, 75 flagged). While
the default flagged 2% of the cases (~18 accounts, all hydra) this bound could not bite;
five bulk spreads flag ~75, so it now measures the learned ranking below the hydra."""
LEARNED_FLAG_PRECISION_FLOOR = 0.9  # 1.00 and 0.96 measured (draws 0, 1)
LEARNED_PERSONA_TOP_K_FLOOR = 0.4
"""Lowest measured: capability_sweep 0.44 (4 of its 9 accounts, draw 1) since the
conversation family weighs 3 in the blend (session 8: +0.03 PR-AUC on four realistic
populations, at the price of this one account: 0.56 before; 0.67 before the per-case
fading of lifts, which raised draw 0's low_and_slow 0.88 -> 1.0, mixed_cover 0.86 -> 1.0
and safety_probing 0.62 -> 0.88). One account of a 9-account persona is 0.11."""


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScoreResult, pd.DataFrame]:
    root = tmp_path_factory.mktemp("quality")
    simulate(root / "sim", accounts=900, days=7, seed=SEED)
    log, accounts = root / "sim" / "requests", root / "sim" / "accounts.parquet"
    model, _, _ = train(log, root / "model.bundle", accounts=accounts)
    return score(log, model, accounts=accounts), read_labels(root / "sim" / "labels.csv")


@pytest.fixture(scope="module")
def evaluation(scored: tuple[ScoreResult, pd.DataFrame]) -> dict:
    result, labels = scored
    return evaluate(result.scores, labels, features=result.result.features)


def test_overall_separation(evaluation: dict) -> None:
    assert evaluation["pr_auc"] >= PR_AUC_FLOOR
    assert evaluation["roc_auc"] >= ROC_AUC_FLOOR
    # and the lift over what a team without the tool would do
    assert evaluation["pr_auc"] > evaluation["baselines"]["volume"]["pr_auc"] + 0.3
    assert evaluation["pr_auc"] > evaluation["baselines"]["naive_iforest"]["pr_auc"] + 0.2


def test_every_extraction_persona_ranks_high(evaluation: dict) -> None:
    per = evaluation["per_scenario"]
    assert per["hydra"]["share_in_top_k"] >= HYDRA_TOP_K_FLOOR
    for name, row in per.items():
        if row["label"] == S.LABEL_EXTRACTION:
            assert row["share_in_top_k"] >= PERSONA_TOP_K_FLOOR, name


def test_the_hydra_is_flagged_at_the_default_threshold(evaluation: dict) -> None:
    """Issue 12's bar: a campaign is flagged as a campaign. 2% of the cases left hydra
    clusters unflagged on default populations (74% and 21% at seeds 7 and 11), whose
    ~10% extraction outnumbers any 2% budget; five bulk spreads flag 100% here."""
    assert evaluation["per_scenario"]["hydra"]["share_flagged"] >= HYDRA_FLAGGED_FLOOR


def test_no_benign_persona_is_flagged_much(evaluation: dict) -> None:
    for name, row in evaluation["per_scenario"].items():
        if row["label"] == S.LABEL_BENIGN:
            assert row["share_flagged"] <= BENIGN_FLAGGED_CEILING, name


def test_learning_from_verdicts_keeps_the_ranking_and_lifts_the_quiet(
    scored: tuple[ScoreResult, pd.DataFrame],
) -> None:
    """10 % of the labelled accounts as verdicts; measured on the other 90 % only."""
    result, labels = scored
    features = result.result.features[list(result.bundle.features)]
    change = []
    for seed in (0, 1):
        fb = feedback_evaluation(result.bundle.model, features, labels, share=0.1, seed=seed)
        assert fb["learned_layer"] == "fitted"
        learned, unsup = fb["learned"], fb["unsupervised"]
        assert learned["pr_auc"] >= LEARNED_PR_AUC_FLOOR, seed
        change.append(learned["pr_auc"] - unsup["pr_auc"])
        for name, row in learned["per_scenario"].items():
            if row["label"] == S.LABEL_EXTRACTION:
                assert row["share_in_top_k"] >= LEARNED_PERSONA_TOP_K_FLOOR, (seed, name)
            else:
                assert row["share_flagged"] <= LEARNED_BENIGN_FLAGGED_CEILING, (seed, name)
        assert learned["flagged"]["precision"] >= LEARNED_FLAG_PRECISION_FLOOR, seed
    assert sum(change) / len(change) >= -LEARNED_PR_AUC_SLACK, change


HYDRA_SEED = 11
"""A default population (1,500 accounts, 10 days, about 10% extraction) whose 41-account
hydra was flagged 29% when the family trees held every account (session 27: alike
accounts isolate together, late), 100% with trees of an eighth (session 28)."""


def test_a_hydra_is_not_masked_by_trees_that_see_all_of_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("masking")
    simulate(root / "sim", seed=HYDRA_SEED)
    log, accounts = root / "sim" / "requests", root / "sim" / "accounts.parquet"
    model, _, _ = train(log, root / "model.bundle", accounts=accounts)
    result = score(log, model, accounts=accounts)
    per = evaluate(result.scores, read_labels(root / "sim" / "labels.csv"))["per_scenario"]
    assert per["hydra"]["share_flagged"] >= HYDRA_FLAGGED_FLOOR, per["hydra"]
    flagged_benign = [n for n, r in per.items() if r["label"] == S.LABEL_BENIGN and r["flagged"]]
    assert not flagged_benign, flagged_benign
