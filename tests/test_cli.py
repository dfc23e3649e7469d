"""Every ``detector`` command through typer's CliRunner, end to end on a small population.

One simulated population (300 accounts, 5 days) is built, trained on and scored once per
module; the tests then drive every command the analyst uses from ``detector score`` to a
recorded verdict, and check the contract's error convention (exit 1, one stderr line, no
traceback) on bad input.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import typer

from detector import schema as S
from detector.cli import app
from detector.report import SPARK_BLOCKS
from detector.scoring import read_scores
from tests.cli_run import ok, run
from tests.cli_run import refusal_line as assert_clean_failure

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Population:
    """A simulated, trained and scored population."""

    root: Path
    log: Path
    accounts: Path
    labels: Path
    model: Path
    scores: Path

    def table(self) -> pd.DataFrame:
        return read_scores(self.scores)

    def flagged(self) -> list[str]:
        t = self.table()
        return t.loc[t[S.FLAGGED], S.ACCOUNT_ID].tolist()


@pytest.fixture(scope="module")
def pop(tmp_path_factory: pytest.TempPathFactory) -> Population:
    root = tmp_path_factory.mktemp("pop")
    sim = root / "sim"
    ok("simulate", sim, "--accounts", 300, "--days", 5, "--seed", 5, "--quiet")
    p = Population(
        root=root,
        log=sim / "requests",
        accounts=sim / "accounts.parquet",
        labels=sim / "labels.csv",
        model=root / "model.bundle",
        scores=root / "scores.csv",
    )
    ok("train", p.log, "--model", p.model, "--accounts", p.accounts, "--quiet")
    ok("score", p.log, "--model", p.model, "--accounts", p.accounts, "--out", p.scores, "-q")
    assert p.flagged(), "the small population should flag someone"
    return p


# --- help -------------------------------------------------------------------------------------


def test_the_new_commands_are_registered() -> None:
    for name in ("report", "label", "suppress", "unsuppress", "cases", "explain", "score"):
        assert name in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = ok(command, "--help")
    assert "Example" in result.stdout, result.stdout


# --- the pipeline, end to end --------------------------------------------------------------------


def test_validate_and_features(pop: Population) -> None:
    out = ok("validate", pop.log, "--json")
    counts = json.loads(out.stdout)
    assert counts["read"] == counts["kept"] + counts["duplicates"] + counts["quarantined"]
    feats = pop.root / "features.parquet"
    ok("features", pop.log, "--out", feats, "--accounts", pop.accounts, "--quiet")
    table = pd.read_parquet(feats)
    assert len(table) == len(pop.table())


def test_score_writes_the_contract_columns_and_sidecars(pop: Population) -> None:
    table = pop.table()
    assert list(table.columns[:6]) == list(S.SCORE_COLUMNS)
    assert table[S.RANK].tolist() == list(range(1, len(table) + 1))
    for kind in ("features.parquet", "clusters.json", "meta.json"):
        assert pop.scores.with_name(f"scores.{kind}").exists()


def test_explain_from_scores_with_the_log(pop: Population) -> None:
    account = pop.flagged()[0]
    text = ok("explain", account, "--scores", pop.scores, "--log", pop.log).stdout
    assert account in text
    assert "activity by UTC hour" in text
    assert any(block in text for block in SPARK_BLOCKS)
    assert "sample prompts" in text
    info = json.loads(
        ok("explain", account, "--scores", pop.scores, "--log", pop.log, "--json").stdout
    )
    assert info["account_id"] == account and info["flagged"] is True
    assert len(info["hourly"]) == 24 and sum(info["hourly"]) == info["requests"] > 0
    assert sum(d["requests"] for d in info["daily"]) == info["requests"]
    assert 1 <= len(info["samples"]) <= 5
    assert all(len(s) <= 400 for s in info["samples"])
    assert info["features"] and "percentile" in info["features"][0]


def test_explain_without_a_log_has_no_activity(pop: Population) -> None:
    account = pop.flagged()[0]
    info = json.loads(ok("explain", account, "--scores", pop.scores, "--json").stdout)
    assert info["hourly"] is None and info["samples"] is None
    assert "activity" not in ok("explain", account, "--scores", pop.scores).stdout


def test_explain_by_scoring_the_log_with_a_model(pop: Population) -> None:
    account = pop.flagged()[0]
    info = json.loads(
        ok(
            "explain", account, pop.log, "--model", pop.model, "--accounts", pop.accounts, "--json"
        ).stdout
    )
    assert info["account_id"] == account
    assert info["requests"] > 0  # the positional LOG doubles as the activity log


def test_evaluate_clusters_and_catalogue(pop: Population) -> None:
    result = json.loads(ok("evaluate", pop.scores, "--labels", pop.labels, "--json").stdout)
    for key in ("roc_auc", "pr_auc", "precision_at_k", "recall_at_k", "recall_at_1pct_fpr"):
        assert key in result
    assert result["per_scenario"]
    clusters = json.loads(ok("clusters", pop.scores, "--json").stdout)["clusters"]
    assert clusters  # the default population holds hydras
    # each cluster says how it was scored: its median member's behaviour, and whether
    # its members carried its features (detector.quiet_clusters)
    for c in clusters:
        assert c["behaviour"] >= 0.0 and isinstance(c["scored_as_cluster"], bool), c
    assert any(c["scored_as_cluster"] for c in clusters)
    # every cluster's whole id in the table, and its evidence and rarity as whole
    # sentences (word-wrapped at the terminal's width, never a word per line)
    shown = ok("clusters", pop.scores).stdout
    words = " ".join(shown.split())
    for c in clusters:
        assert c["cluster_id"] in shown
        assert f"linked because: {' '.join(c['evidence'].split())}" in words
        assert " ".join(c["evidence_rarity"].split()) in words
    assert max(map(len, shown.splitlines())) <= 80  # the runner's terminal width
    out = pop.root / "features.md"
    ok("catalogue", "--out", out)
    assert out.read_text().strip()


def test_report_command(pop: Population) -> None:
    out = pop.root / "report.html"
    result = ok("report", pop.scores, "--log", pop.log, "--out", out, "--max-accounts", 3)
    assert str(out) in result.stdout
    html = out.read_text(encoding="utf-8")
    for section in ('id="summary"', 'id="flagged"', 'id="accounts"', 'id="clusters"'):
        assert section in html
    assert html.count('<article class="acct">') == min(3, len(pop.flagged()))
    info = json.loads(ok("report", pop.scores, "--out", out, "--json").stdout)
    assert info["report"] == str(out) and info["bytes"] > 0


# --- the feedback store -----------------------------------------------------------------------


def test_label_suppress_cases_and_score_with_state(pop: Population, tmp_path: Path) -> None:
    state = tmp_path / "state"
    flagged = pop.flagged()
    confirmed, hidden = flagged[0], flagged[-1] if len(flagged) > 1 else flagged[0]
    benign = pop.table()[S.ACCOUNT_ID].iloc[-1]
    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()

    ok("init", "--state", state)
    # `detector score` records no score history, so these ids are unknown to the store
    out = ok("label", confirmed, "--verdict", "extraction", "--note", "CoT pulls", "--state",
             state, "--analyst", "ana", "--json", "--force")  # fmt: skip
    assert json.loads(out.stdout)["status"] == "confirmed"
    ok("label", benign, "--verdict", "benign", "--note", "tutoring app", "--state", state,
       "--force")  # fmt: skip
    ok("suppress", hidden, "--until", until, "--reason", "known partner", "--state", state,
       "--force")  # fmt: skip

    cases = json.loads(ok("cases", "--state", state, "--json").stdout)["cases"]
    # never scored by a nightly run: each account is a case of one, acct:<id>
    status = {c["case_id"]: c["status"] for c in cases}
    assert status[f"acct:{confirmed}"] == "confirmed" and status[f"acct:{benign}"] == "cleared"
    if hidden != confirmed:
        assert status[f"acct:{hidden}"] == "suppressed"
    only = json.loads(ok("cases", "--state", state, "--status", "cleared", "--json").stdout)
    assert [c["case_id"] for c in only["cases"]] == [f"acct:{benign}"]
    assert "confirmed" in ok("cases", "--state", state).stdout

    # scoring with the state: a suppressed column, and a suppressed account is never flagged
    scored = tmp_path / "scores.csv"
    ok("score", pop.log, "--model", pop.model, "--accounts", pop.accounts, "--out", scored,
       "--state", state, "-q")  # fmt: skip
    table = read_scores(scored)
    assert S.SUPPRESSED in table.columns
    row = table.set_index(S.ACCOUNT_ID).loc[hidden]
    assert str(row[S.SUPPRESSED]).lower() == "true" and not row[S.FLAGGED]

    # evaluate takes its labels from the analysts' verdicts
    result = json.loads(ok("evaluate", scored, "--state", state, "--json").stdout)
    assert result["n_labelled"] == 2

    # the report shows case status when given the state
    report = tmp_path / "report.html"
    ok("report", scored, "--out", report, "--state", state)
    assert "Case: <b>confirmed</b>" in report.read_text(encoding="utf-8")

    assert "lifted" in ok("unsuppress", hidden, "--state", state).stdout
    assert "no active suppression" in ok("unsuppress", hidden, "--state", state).stdout


def test_cases_on_an_empty_state(tmp_path: Path) -> None:
    ok("init", "--state", tmp_path / "fresh")
    assert "no cases" in ok("cases", "--state", tmp_path / "fresh").stdout
    assert json.loads(ok("cases", "--state", tmp_path / "fresh", "--json").stdout)["cases"] == []
    assert "already holds a state store" in ok("init", "--state", tmp_path / "fresh").stdout


def test_store_commands_never_create_a_store(pop: Population, tmp_path: Path) -> None:
    """A mistyped --state is an error naming `detector init`, and leaves nothing behind."""
    typo = tmp_path / "typo"
    acct = pop.flagged()[0]
    for args in (
        ["cases", "--state", typo],
        ["runs", "--state", typo],
        ["label", acct, "--verdict", "benign", "--note", "x", "--state", typo],
        ["suppress", acct, "--until", "2999-01-01", "--reason", "x", "--state", typo],
        ["unsuppress", acct, "--state", typo],
    ):
        line = assert_clean_failure(run(*args))
        assert "no detector state" in line and "detector init --state" in line, args
    assert not typo.exists()


def test_an_empty_state_file_is_refused_not_replaced(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ok("init", "--state", state)
    (state / "state.sqlite").write_bytes(b"")
    for args in (["cases", "--state", state], ["init", "--state", state]):
        line = assert_clean_failure(run(*args))
        assert "empty (0 bytes)" in line and "restore it from a backup" in line
    assert (state / "state.sqlite").stat().st_size == 0


# --- bad input: exit 1, one line, no traceback ------------------------------------------------


def bad_inputs(pop: Population, tmp: Path) -> list[list[object]]:
    acct = pop.flagged()[0]
    state = tmp / "state"
    return [
        ["label", acct, "--verdict", "maybe", "--note", "x", "--state", state],
        ["label", acct, "--verdict", "benign", "--state", state],
        ["label", acct, "--verdict", "benign", "--note", "x"],
        ["label", "", "--verdict", "benign", "--note", "x", "--state", state],
        ["suppress", acct, "--until", "2026-02-30", "--reason", "x", "--state", state],
        ["suppress", acct, "--until", "2001-01-01", "--reason", "x", "--state", state],
        ["suppress", acct, "--until", "2999-01-01", "--state", state],
        ["unsuppress", acct],
        ["cases", "--state", state, "--status", "pending"],
        ["cases", "--state", state, "--on", "yesterday"],
        ["cases", "--state", pop.scores],
        ["report", pop.scores, "--out", tmp / "r.html", "--start", "2026-1-1x"],
        ["report", tmp / "missing.csv", "--out", tmp / "r.html"],
        ["report", pop.scores, "--out", tmp / "r.html", "--log", tmp / "missing"],
        ["report", pop.scores],
        ["report", pop.labels, "--out", tmp / "r.html"],
        ["explain", "no-such-account", "--scores", pop.scores],
        ["explain", acct, "--scores", tmp / "missing.csv"],
        ["explain", acct, "--scores", pop.scores, "--log", tmp / "missing"],
        ["explain", acct],
        ["evaluate", pop.scores],
        ["clusters", pop.scores, "--cluster", "c-nope"],
        ["validate", tmp / "missing"],
        ["score", pop.log, "--model", tmp / "missing.bundle", "--out", tmp / "s.csv"],
    ]


def test_bad_input_fails_cleanly(pop: Population, tmp_path: Path) -> None:
    for args in bad_inputs(pop, tmp_path):
        line = assert_clean_failure(run(*args))
        assert "Traceback" not in line, args
    assert not (tmp_path / "r.html").exists()


# --- the --model round trip (issue 11) -----------------------------------------------------------


@pytest.mark.parametrize("given", ["m.joblib", "m.bundle", "models/", "models", "new-dir"])
def test_the_model_path_train_was_given_is_the_one_score_loads(
    pop: Population, tmp_path: Path, given: str
) -> None:
    """Whatever ``--model`` path train wrote, score and explain given it load that model."""
    if given == "models":  # an existing directory, named without a trailing slash
        (tmp_path / "models").mkdir()
    model = f"{tmp_path}/{given}"
    info = json.loads(ok("train", pop.log, "--model", model, "--json").stdout)
    written = Path(info["model"])
    assert written.is_file()
    if given.endswith((".joblib", ".bundle")):
        assert written == tmp_path / given
    else:
        assert written.parent == tmp_path / given.rstrip("/")
    out = tmp_path / "scores.csv"
    result = ok("score", pop.log, "--model", model, "--out", out, "--json")
    meta = json.loads(result.stdout)
    assert Path(meta["model_path"]) == written.resolve()
    assert ("newest valid bundle" in result.stderr) == (not given.endswith((".joblib", ".bundle")))
    account = read_scores(out)[S.ACCOUNT_ID].iloc[0]
    ok("explain", account, "--scores", out, "--model", model)


def test_a_directory_of_bundles_loads_its_newest_valid_one(pop: Population, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "junk.bundle").write_bytes(b"DETECTOR-BUNDLE/1\n{not json\n")
    old = Path(json.loads(ok("train", pop.log, "--model", models, "--json").stdout)["model"])
    manifest_line = old.read_bytes().split(b"\n", 2)[1]
    older = json.loads(manifest_line)["created_at"]
    time.sleep(1.1)  # created_at has one-second resolution
    # another budget, so another payload (the same payload on the same day is the same file)
    again = ok("train", pop.log, "--model", models, "--alert-budget", "5%", "--json")
    new = Path(json.loads(again.stdout)["model"])
    assert new != old and older < json.loads(new.read_bytes().split(b"\n", 2)[1])["created_at"]
    result = ok("score", pop.log, "--model", models, "--out", tmp_path / "s.csv", "--json")
    assert Path(json.loads(result.stdout)["model_path"]) == new.resolve()
    assert f"model: {new.resolve()}" in result.stderr


def test_a_model_path_with_nothing_to_load_is_one_clear_line(
    pop: Population, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    for model in (tmp_path / "empty", tmp_path / "absent.joblib"):
        line = assert_clean_failure(
            run("score", pop.log, "--model", model, "--out", tmp_path / "s.csv")
        )
        assert str(model) in line
