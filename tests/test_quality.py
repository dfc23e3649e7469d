"""The quality floor: the detector on a seeded simulated population (not the one it was
tuned on) must keep separating extraction from product use.

The floors sit a little under what the detector reaches (see the closing figures in the
project notes); a change that drops below them is a regression to look at, not noise.
"""

from __future__ import annotations

import pytest

from detector import schema as S
from detector.evaluate import evaluate
from detector.ingest import read_labels
from detector.scoring import score, train
from detector.simulate import simulate

SEED = 23  # the detector was tuned on seeds 1, 2 and 7
PR_AUC_FLOOR = 0.95  # 0.996 measured at this seed
ROC_AUC_FLOOR = 0.98  # 0.999 measured
HYDRA_TOP_K_FLOOR = 0.9
PERSONA_TOP_K_FLOOR = 0.6  # lowest measured: safety_probing 0.78 (9 accounts)
BENIGN_FLAGGED_CEILING = 0.05


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("quality")
    simulate(root / "sim", accounts=900, days=7, seed=SEED)
    log, accounts = root / "sim" / "requests", root / "sim" / "accounts.parquet"
    model, _, _ = train(log, root / "model.bundle", accounts=accounts)
    scored = score(log, model, accounts=accounts)
    labels = read_labels(root / "sim" / "labels.csv")
    return evaluate(scored.scores, labels, features=scored.result.features)


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


def test_no_benign_persona_is_flagged_much(evaluation: dict) -> None:
    for name, row in evaluation["per_scenario"].items():
        if row["label"] == S.LABEL_BENIGN:
            assert row["share_flagged"] <= BENIGN_FLAGGED_CEILING, name
