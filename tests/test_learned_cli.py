"""Learning from verdicts through the ``detector`` command, on a small simulated population:
``train --labels/--state``, the learned scores, ``similar`` and ``evaluate --feedback-share``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from detector import schema as S
from detector.artifacts import load_bundle, read_manifest
from detector.cases import case_scores
from detector.scoring import read_scores, sidecar
from detector.store import Store
from tests.cli_run import ok, run
from tests.cli_run import refusal_line as assert_clean_failure


@dataclass(frozen=True)
class Pop:
    root: Path
    log: Path
    accounts: Path
    labels: Path
    verdicts: Path
    model: Path
    scores: Path


@pytest.fixture(scope="module")
def pop(tmp_path_factory: pytest.TempPathFactory) -> Pop:
    root = tmp_path_factory.mktemp("learned")
    sim = root / "sim"
    ok("simulate", sim, "--accounts", 300, "--days", 4, "--seed", 11, "--quiet")
    labels = pd.read_csv(sim / "labels.csv", dtype=str, keep_default_na=False)
    verdicts = labels.groupby(S.LABEL, group_keys=False).sample(frac=0.2, random_state=0)
    p = Pop(
        root=root,
        log=sim / "requests",
        accounts=sim / "accounts.parquet",
        labels=sim / "labels.csv",
        verdicts=root / "verdicts.csv",
        model=root / "learned.bundle",
        scores=root / "scores.csv",
    )
    verdicts.to_csv(p.verdicts, index=False)
    ok("train", p.log, "--model", p.model, "--accounts", p.accounts, "--labels", p.verdicts, "-q")
    ok("score", p.log, "--model", p.model, "--accounts", p.accounts, "--out", p.scores, "-q")
    return p


def test_train_with_labels_saves_the_layer_and_its_provenance(pop: Pop) -> None:
    manifest = read_manifest(pop.model)
    verdicts = pd.read_csv(pop.verdicts)
    assert manifest["labels"]["source"] == str(pop.verdicts)
    assert manifest["labels"]["n_extraction"] > 2
    assert manifest["labels"]["n_labels"] <= len(verdicts)
    assert manifest["learned"]["folds"] >= 2
    table = read_scores(pop.scores)
    assert list(table.columns[:6]) == list(S.SCORE_COLUMNS)
    assert S.UNSUPERVISED_SCORE in table.columns
    assert (table[S.SCORE] != table[S.UNSUPERVISED_SCORE]).any()
    meta = json.loads(sidecar(pop.scores, "meta").read_text())
    assert meta["learned_from"]["pairs_sha256"] == manifest["labels"]["pairs_sha256"]
    assert meta["threshold"] == manifest["learned"]["threshold"]


def test_too_few_labels_give_exactly_the_unsupervised_scores(pop: Pop, tmp_path: Path) -> None:
    labels = pd.read_csv(pop.labels)
    few = labels.groupby(S.LABEL, group_keys=False).head(3).head(5)  # 3 benign, 2 extraction
    few.to_csv(tmp_path / "few.csv", index=False)
    plain, learned = tmp_path / "plain.bundle", tmp_path / "few.bundle"
    # --labels leaves confirmed extraction out of the forest, as --exclude does
    ok("train", pop.log, "--model", plain, "--accounts", pop.accounts, "--exclude",
       tmp_path / "few.csv", "-q")  # fmt: skip
    out = ok("train", pop.log, "--model", learned, "--accounts", pop.accounts, "--labels",
             tmp_path / "few.csv")  # fmt: skip
    assert "no learned layer" in out.stdout
    assert read_manifest(learned)["labels"] is None
    for m, out_csv in ((plain, "plain.csv"), (learned, "few.csv.scores")):
        ok("score", pop.log, "--model", m, "--accounts", pop.accounts, "--out",
           tmp_path / out_csv, "-q")  # fmt: skip
    assert (tmp_path / "plain.csv").read_bytes() == (tmp_path / "few.csv.scores").read_bytes()


def test_train_from_the_stores_verdicts(pop: Pop, tmp_path: Path) -> None:
    state = tmp_path / "state"
    verdicts = pd.read_csv(pop.verdicts)
    with Store.open(state, create=True) as store:
        for row in verdicts.itertuples(index=False):
            store.add_verdict(row.account_id, row.label, note="test")
    out = ok("train", pop.log, "--model", tmp_path / "m.bundle", "--accounts", pop.accounts,
             "--state", state, "--json")  # fmt: skip
    info = json.loads(out.stdout)
    assert info["learned_from"]["source"] == f"state:{state}"
    assert info["learned_from"]["decided_from"] is not None
    same = read_manifest(pop.model)["labels"]["pairs_sha256"]
    assert info["learned_from"]["pairs_sha256"] == same
    assert_clean_failure(run("train", pop.log, "--model", tmp_path / "n.bundle",
                             "--state", tmp_path / "no-state"))  # fmt: skip


def test_similar_lists_look_alikes_with_scores_and_verdicts(pop: Pop, tmp_path: Path) -> None:
    assert sidecar(pop.scores, "space").exists()
    labels = pd.read_csv(pop.labels, dtype=str)
    hydra = labels[labels[S.SCENARIO] == "hydra"][S.ACCOUNT_ID].tolist()
    state = tmp_path / "state"
    ok("init", "--state", state)
    ok("label", hydra[1], "--verdict", "extraction", "--note", "test", "--state", state, "--force")
    out = json.loads(
        ok("similar", hydra[0], "--scores", pop.scores, "-k", 4, "--state", state, "--json").stdout
    )
    assert out["kind"] == "account" and len(out["neighbours"]) == 4
    assert hydra[0] not in {n["account_id"] for n in out["neighbours"]}
    assert {"distance", "score", "rank", "flagged", "cluster_id", "verdict"} <= set(
        out["neighbours"][0]
    )
    table = read_scores(pop.scores)
    case = table.loc[table[S.CLUSTER_ID] != "", S.CLUSTER_ID].iloc[0]
    out = json.loads(ok("similar", case, "--scores", pop.scores, "--json").stdout)
    assert out["kind"] == "case" and out["members"]
    assert not set(out["members"]) & {n["account_id"] for n in out["neighbours"]}
    text = ok("similar", hydra[0], "--scores", pop.scores).stdout
    assert "Accounts most like" in text
    assert_clean_failure(run("similar", "no-such-account", "--scores", pop.scores))


def test_evaluate_reports_the_feedback_protocol_side_by_side(pop: Pop) -> None:
    out = ok("evaluate", pop.scores, "--labels", pop.labels, "--feedback-share", 0.2, "--json")
    result = json.loads(out.stdout)
    fb = result["feedback"]
    assert fb["protocol"] == "random" and fb["learned_layer"] == "fitted"
    assert fb["unsupervised"]["n_labelled"] == fb["learned"]["n_labelled"]
    assert fb["evaluated_accounts"] == result["n_labelled"] - fb["verdicts"]["n"]
    assert "pr_auc" in fb["delta"]
    both = ok("evaluate", pop.scores, "--labels", pop.labels, "--feedback-share", 0.2,
              "--time-split", "--log", pop.log, "--accounts", pop.accounts, "--json")  # fmt: skip
    split = json.loads(both.stdout)["feedback_time_split"]
    assert split["protocol"] == "time"
    text = ok("evaluate", pop.scores, "--labels", pop.labels, "--feedback-share", 0.2).stdout
    assert "Learning from verdicts (random draw)" in text
    assert_clean_failure(
        run("evaluate", pop.scores, "--labels", pop.labels, "--feedback-share", 0.2, "--time-split")
    )


def test_evaluate_reports_the_queue_protocol(pop: Pop) -> None:
    base = ("evaluate", pop.scores, "--labels", pop.labels, "--feedback-share", 0.2)
    out = json.loads(ok(*base, "--feedback-queue", 25, "--json").stdout)
    queue = out["feedback_queue"]
    assert queue["protocol"] == "queue" and queue["queue"] == 25
    assert queue["verdicts"]["n"] == 25
    assert queue["evaluated_accounts"] == out["n_labelled"] - 25
    top = read_scores(pop.scores).sort_values(S.RANK)[S.ACCOUNT_ID].astype(str)
    labels = pd.read_csv(pop.labels, dtype=str).set_index(S.ACCOUNT_ID)[S.LABEL]
    first = labels.reindex(top).dropna().head(25)
    assert queue["verdicts"]["n_extraction"] == (first == S.LABEL_EXTRACTION).sum()
    text = " ".join(ok(*base, "--feedback-queue", 25).stdout.split())
    assert "Learning from verdicts (queue of 25)" in text
    assert_clean_failure(run("evaluate", pop.scores, "--labels", pop.labels, "--feedback-queue", 5))


def test_evaluate_repeats_the_draw_and_reports_the_spread(pop: Pop) -> None:
    base = ("evaluate", pop.scores, "--labels", pop.labels, "--feedback-share", 0.2)
    out = json.loads(ok(*base, "--seed", 4, "--draws", 3, "--json").stdout)
    draws = out["feedback_draws"]
    assert draws["draws"] == 3 and draws["seeds"] == [4, 5, 6] and draws["share"] == 0.2
    assert out["feedback"]["seed"] == 4  # the first draw, as without --draws
    alone = [
        json.loads(ok(*base, "--seed", s, "--json").stdout)["feedback"]["delta"]["pr_auc"]
        for s in (4, 5, 6)
    ]
    assert draws["delta"]["pr_auc"]["values"] == pytest.approx(alone)
    assert "feedback_draws" not in json.loads(ok(*base, "--json").stdout)
    text = " ".join(ok(*base, "--draws", 2).stdout.split())  # titles wrap at the width
    assert "over 2 random draws (seeds 0-1," in text and "worst" in text
    assert "benign accounts flagged" in text
    assert_clean_failure(run("evaluate", pop.scores, "--labels", pop.labels, "--draws", 2))


def test_the_learned_threshold_flags_as_many_training_cases_as_the_model(pop: Pop) -> None:
    """Verdicts re-rank, they do not add alerts: `train --labels` counts the cases the
    model's own threshold flags and lets the learned score flag as many (ties aside)."""

    bundle = load_bundle(pop.model)
    assert bundle.learned is not None
    features = pd.read_parquet(sidecar(pop.scores, "features"))[list(bundle.features)]
    table = read_scores(pop.scores).set_index(S.ACCOUNT_ID).reindex(features.index)
    clusters = table[S.CLUSTER_ID].fillna("").astype(str).to_numpy(dtype=object)
    model_cases = case_scores(bundle.model.score(features).round(2), clusters)
    learned_cases = case_scores(bundle.learned.score(bundle.model, features).round(2), clusters)
    n_model = int((model_cases >= bundle.model.threshold_).sum())
    n_learned = int((learned_cases >= bundle.learned.threshold_).sum())
    assert n_model > 0
    assert n_model - 2 <= n_learned <= n_model


def test_train_says_how_the_learned_threshold_was_fixed(pop: Pop, tmp_path: Path) -> None:
    out = ok("train", pop.log, "--model", tmp_path / "m.bundle", "--accounts", pop.accounts,
             "--labels", pop.verdicts)  # fmt: skip
    said = " ".join(out.stdout.split())  # rich wraps the line
    model = load_bundle(tmp_path / "m.bundle").model
    assert f"as many training cases as the model's threshold {round(model.threshold_, 2)}" in said


def test_with_the_log_the_protocol_scores_as_detector_score_does(pop: Pop) -> None:
    """Given the scored log, both sides are scored as ``detector score`` composes them
    (sub-streams, campaigns): the unsupervised side's metrics are exactly those of the
    scores file on the same held-out accounts. Without the log each account is scored on
    its own features alone, which is not what ``scores.csv`` holds."""
    from detector.evaluate import evaluate
    from detector.verdict_draws import draw_verdicts

    model, scores = pop.root / "unsupervised.bundle", pop.root / "unsupervised.csv"
    ok("train", pop.log, "--model", model, "--accounts", pop.accounts, "-q")
    ok("score", pop.log, "--model", model, "--accounts", pop.accounts, "--out", scores, "-q")
    out = ok("evaluate", scores, "--labels", pop.labels, "--feedback-share", 0.2,
             "--log", pop.log, "--accounts", pop.accounts, "--json")  # fmt: skip
    fb = json.loads(out.stdout)["feedback"]
    assert fb["scores"] == "production" and fb["learned_layer"] == "fitted"
    table = read_scores(scores)
    labels = pd.read_csv(pop.labels, dtype=str, keep_default_na=False)
    labels = labels[labels[S.ACCOUNT_ID].isin(set(table[S.ACCOUNT_ID]))]
    drawn = set(draw_verdicts(labels, 0.2, seed=0)[S.ACCOUNT_ID])
    held = labels[~labels[S.ACCOUNT_ID].isin(drawn)]
    want = evaluate(table[table[S.ACCOUNT_ID].isin(set(held[S.ACCOUNT_ID]))], held)
    for metric in ("pr_auc", "roc_auc", "recall_at_k"):
        assert fb["unsupervised"][metric] == pytest.approx(want[metric]), metric
    plain = json.loads(
        ok("evaluate", scores, "--labels", pop.labels, "--feedback-share", 0.2, "--json").stdout
    )["feedback"]
    assert plain["scores"] == "accounts"
    # a log that does not reproduce the scores (no account table) is refused in one line
    assert_clean_failure(
        run("evaluate", scores, "--labels", pop.labels, "--feedback-share", 0.2, "--log", pop.log)
    )
