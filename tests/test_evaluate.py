"""evaluate(): metrics on a hand-computable example, baselines, degenerate labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from detector import schema
from detector.evaluate import evaluate

# a1 90 ext · a2 80 ben · a3 70 ext · a4 60 ben · a5 50 ben · a6 40 ext; a7 is unlabelled
SCORES = pd.DataFrame(
    {
        schema.ACCOUNT_ID: ["a7", "a1", "a2", "a3", "a4", "a5", "a6"],
        schema.SCORE: [95.0, 90.0, 80.0, 70.0, 60.0, 50.0, 40.0],
        schema.RANK: [1, 2, 3, 4, 5, 6, 7],
        schema.FLAGGED: ["true", "true", "true", "false", "false", "false", "false"],
    }
)
LABELS = pd.DataFrame(
    {
        schema.ACCOUNT_ID: ["a1", "a2", "a3", "a4", "a5", "a6", "a8"],
        schema.LABEL: [
            "extraction",
            "benign",
            "Extraction",
            "benign",
            "benign",
            "extraction",
            "benign",
        ],
        schema.SCENARIO: ["distill", "chat", "distill", "", None, "", "chat"],
    }
)


def test_hand_computed_metrics() -> None:
    r = evaluate(SCORES, LABELS)
    # positives a1, a3, a6; k = 3; top 3 labelled = a1, a2, a3 -> 2 hits
    assert r["k"] == 3
    assert r["precision_at_k"] == pytest.approx(2 / 3)
    assert r["recall_at_k"] == pytest.approx(2 / 3)
    # pairs (pos > neg): a1 beats 3, a3 beats 2, a6 beats 0 -> 5 / 9
    assert r["roc_auc"] == pytest.approx(5 / 9)
    # precision at each hit: 1/1, 2/3, 3/6 -> AP = (1 + 2/3 + 1/2) / 3
    assert r["pr_auc"] == pytest.approx(13 / 18)
    # above a2 (the best benign) only a1 -> recall 1/3 with no false positive
    assert r["recall_at_1pct_fpr"] == pytest.approx(1 / 3)
    assert (r["n_accounts"], r["n_labelled"], r["n_extraction"], r["n_benign"]) == (7, 6, 3, 3)
    assert r["n_scored_unlabelled"] == 1 and r["n_labels_unscored"] == 1
    flags = r["flagged"]
    assert flags["n_flagged"] == 3 and flags["n_flagged_labelled"] == 2
    assert flags["n_flagged_extraction"] == 1 and flags["n_flagged_benign"] == 1
    assert flags["precision"] == pytest.approx(0.5) and flags["recall"] == pytest.approx(1 / 3)


def test_per_scenario() -> None:
    per = evaluate(SCORES, LABELS)["per_scenario"]
    assert set(per) == {"distill", "chat", "extraction", "benign"}  # empty -> the label
    assert per["distill"]["label"] == "extraction" and per["distill"]["accounts"] == 2
    assert per["distill"]["share_in_top_k"] == 1.0
    assert per["extraction"]["share_in_top_k"] == 0.0  # a6 ranks last
    assert per["chat"]["label"] == "benign" and per["chat"]["share_flagged"] == 1.0
    assert per["benign"]["accounts"] == 2 and per["benign"]["share_flagged"] == 0.0


def test_order_follows_rank_column_then_score() -> None:
    tied = SCORES.assign(score=50.0)  # every score equal: the rank column decides top k
    assert evaluate(tied, LABELS)["precision_at_k"] == pytest.approx(2 / 3)
    no_rank = tied.drop(columns=[schema.RANK])  # then account_id ascending: a1, a2, a3
    assert evaluate(no_rank, LABELS)["precision_at_k"] == pytest.approx(2 / 3)


def _features(ids: list[str], volume: list[float]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "requests_per_day": volume,
            "output_tokens_per_day": np.asarray(volume) * 900,
            "mean_output_tokens": rng.lognormal(6, 0.3, len(ids)),
            "reasoning_share": rng.random(len(ids)),
        },
        index=pd.Index(ids, name=schema.ACCOUNT_ID),
    )


def test_baselines_in_the_same_run() -> None:
    ids = ["a7", "a1", "a2", "a3", "a4", "a5", "a6"]
    # volume ranks a6 > a3 > a1 > benign: a perfect volume baseline
    feats = _features(ids, [5.0, 100.0, 1.0, 200.0, 2.0, 3.0, 300.0])
    r = evaluate(SCORES, LABELS, features=feats)
    base = r["baselines"]
    assert base["available"] is True
    vol = base["volume"]
    assert vol["feature"] == "requests_per_day"
    assert vol["roc_auc"] == 1.0 and vol["pr_auc"] == 1.0 and vol["recall_at_k"] == 1.0
    assert vol["lift"] == pytest.approx(r["pr_auc"] / 1.0)
    naive = base["naive_iforest"]
    assert naive["features"] == [
        "requests_per_day",
        "output_tokens_per_day",
        "mean_output_tokens",
    ]
    assert "not available: active_day_share, mean_input_tokens" in naive["note"]
    assert naive["pr_auc"] is not None and naive["lift"] == pytest.approx(
        r["pr_auc"] / naive["pr_auc"]
    )
    json.dumps(r)  # JSON-ready


def test_volume_falls_back_to_requests_total() -> None:
    ids = ["a1", "a2", "a3", "a4", "a5", "a6"]
    feats = pd.DataFrame(
        {"requests_total": [3.0, 1.0, 3.0, 1.0, 1.0, 3.0]}, index=pd.Index(ids, name="account_id")
    )
    base = evaluate(SCORES, LABELS, features=feats)["baselines"]
    assert base["volume"]["feature"] == "requests_total"
    assert base["naive_iforest"]["available"] is False


def test_baselines_unavailable_without_features() -> None:
    base = evaluate(SCORES, LABELS)["baselines"]
    assert base["available"] is False and "feature" in base["note"]


def test_degenerate_labels_give_none_and_notes() -> None:
    benign = LABELS.assign(label="benign")
    r = evaluate(SCORES, benign)
    assert r["roc_auc"] is None and r["pr_auc"] is None and r["precision_at_k"] is None
    assert r["recall_at_1pct_fpr"] is None and r["k"] == 0
    assert any("no extraction labels" in n for n in r["notes"])

    extraction = LABELS.assign(label="extraction")
    r = evaluate(SCORES, extraction)
    assert r["roc_auc"] is None and r["pr_auc"] == 1.0 and r["precision_at_k"] == 1.0
    assert any("every labelled account is extraction" in n for n in r["notes"])

    r = evaluate(SCORES, LABELS.assign(account_id=[f"x{i}" for i in range(len(LABELS))]))
    assert r["n_labelled"] == 0 and r["roc_auc"] is None
    json.dumps(r)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="other than benign/extraction: 'maybe'"):
        evaluate(SCORES, LABELS.assign(label="maybe"))
    with pytest.raises(ValueError, match="conflicting labels"):
        evaluate(SCORES, pd.concat([LABELS, LABELS.iloc[:1].assign(label="benign")]))
    with pytest.raises(ValueError, match="more than once"):
        evaluate(pd.concat([SCORES, SCORES.iloc[:1]]), LABELS)
    with pytest.raises(ValueError, match="true/false"):
        evaluate(SCORES.assign(flagged="perhaps"), LABELS)
    no_flags = evaluate(SCORES.drop(columns=[schema.FLAGGED]), LABELS)
    assert no_flags["flagged"]["available"] is False
    assert no_flags["per_scenario"]["chat"]["share_flagged"] is None


def test_share_in_cluster_counts_accounts_with_a_cluster_id() -> None:
    """Issue 16's bar is a campaign within the top k *and* grouped: evaluate says how
    much of each scenario is in a cluster, an empty or missing id being none."""
    clustered = SCORES.assign(**{schema.CLUSTER_ID: ["", "c-1", np.nan, "c-1", " ", "", "c-2"]})
    per = evaluate(clustered, LABELS)["per_scenario"]
    assert per["distill"]["share_in_cluster"] == 1.0  # a1 and a3
    assert per["chat"]["share_in_cluster"] == 0.0  # a2's id is missing
    assert per["benign"]["share_in_cluster"] == 0.0  # a4 blank, a5 empty
    assert per["extraction"]["share_in_cluster"] == 1.0  # a6
    assert evaluate(SCORES, LABELS)["per_scenario"]["distill"]["share_in_cluster"] is None
