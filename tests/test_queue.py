"""The analysts' queue by case: `detector cases`, `detector case`, and decisions on a
whole case (recorded per member, reversible)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from detector.cli import app
from detector.store import MIGRATIONS, Store

ON = "2026-11-08"


def _cli(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _ok(*args: object) -> Result:
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    return result


def _queue(state: Path, *extra: str) -> list[dict]:
    return json.loads(_ok("cases", "--state", state, "--on", ON, "--json", *extra).stdout)["cases"]


def _cluster(state: Path) -> dict:
    clusters = [c for c in _queue(state) if not c["case_id"].startswith("acct:")]
    assert clusters, "the season's population has an alerted cluster"
    return clusters[0]


def test_the_queue_lists_each_case_once_with_its_members_counted(queue_state: Path) -> None:
    cases = _queue(queue_state)
    ids = [c["case_id"] for c in cases]
    assert len(ids) == len(set(ids)) and ids
    with Store.open(queue_state) as store:
        alerted = set(store.alerted_accounts(ON)["account_id"])
        seen: set[str] = set()
        for case in cases:  # every alerted account is in exactly one listed case
            members = set(store.case_members(case["case_id"], ON)["account_id"])
            assert len(members) == case["size"] and not members & seen
            seen |= members
    assert alerted <= seen
    cluster = _cluster(queue_state)
    assert cluster["size"] > 1 and cluster["flagged_members"] >= 1
    assert cluster["band"] in ("critical", "high", "medium", "low") and cluster["top_reason"]


def test_new_tonight_and_trend_are_what_the_runs_say(queue_state: Path) -> None:
    cases = _queue(queue_state)
    with Store.open(queue_state) as store:
        first = store.alerted_accounts(ON).set_index("account_id")["first_alert_date"]
        for case in cases:
            members = store.case_members(case["case_id"], ON)
            assert case["first_alert_date"] == first.reindex(members["account_id"]).dropna().min()
            assert case["new_tonight"] == (case["first_alert_date"] == ON)
            history = store.score_timeline(members["account_id"].tolist(), ON)
            before = history[history["run_date"] == "2026-11-07"]["case_score"]
            assert case["trend"] == round(case["case_score"] - before.median(), 2)
            assert case["case_score"] == round(members["case_score"].median(), 2)
    new_only = _queue(queue_state, "--new")
    assert [c["case_id"] for c in new_only] == [c["case_id"] for c in cases if c["new_tonight"]]
    assert any(c["new_tonight"] for c in cases) and not all(c["new_tonight"] for c in cases)
    band = cases[0]["band"]
    assert {c["band"] for c in _queue(queue_state, "--band", band)} == {band}


def test_a_verdict_on_a_case_is_recorded_per_member_and_the_next_one_supersedes_it(
    queue_state: Path,
) -> None:
    cluster = _cluster(queue_state)
    cid = cluster["case_id"]
    out = json.loads(
        _ok(
            "label", cid, "--verdict", "benign", "--note", "lab", "--state", queue_state, "--json"
        ).stdout
    )
    assert out["case_id"] == cid and len(out["members"]) == cluster["size"]
    assert out["expires"] is not None  # a benign verdict lapses
    cleared = {c["case_id"]: c for c in _queue(queue_state, "--status", "cleared")}
    assert cleared[cid]["member_statuses"] == {"cleared": cluster["size"]}
    _ok("label", cid, "--verdict", "extraction", "--note", "hydra", "--state", queue_state)
    with Store.open(queue_state) as store:
        latest = store.verdict_details(latest=True)
        history = store.verdict_details()
        scores = store.scores_frame(ON).set_index("account_id")["score"]
    mine = latest[latest["case_id"] == cid]
    assert set(mine["account_id"]) == set(out["members"])
    assert set(mine["verdict"]) == {"extraction"} and mine["expires"].isna().all()
    assert len(history[history["case_id"] == cid]) == 2 * cluster["size"]
    # each verdict keeps the score it answered: the member's latest stored score
    answered = mine.set_index("account_id")["verdict_score"].astype(float)
    assert (answered == scores.reindex(answered.index)).all()
    statuses = {c["case_id"]: c["status"] for c in _queue(queue_state)}
    assert statuses[cid] == "confirmed"


def test_suppress_and_unsuppress_a_case(queue_state: Path) -> None:
    cid = _cluster(queue_state)["case_id"]
    _ok("suppress", cid, "--until", "2999-01-01", "--reason", "partner", "--state", queue_state)
    assert {c["case_id"] for c in _queue(queue_state, "--status", "suppressed")} >= {cid}
    lifted = json.loads(_ok("unsuppress", cid, "--state", queue_state, "--json").stdout)
    assert lifted["lifted"] == _cluster(queue_state)["size"]


def test_the_case_file_has_members_evidence_infrastructure_and_timeline(
    queue_state: Path,
) -> None:
    cid = _cluster(queue_state)["case_id"]
    info = json.loads(_ok("case", cid, "--state", queue_state, "--on", ON, "--json").stdout)
    assert info["case_id"] == cid and info["size"] == len(info["members"])
    assert {"account_id", "score", "flagged", "verdict", "status"} <= set(info["members"][0])
    assert info["evidence"]["evidence"] and info["evidence"]["members"] == info["size"]
    shared = info["infrastructure"]["shared"]
    linked_by_card = "payment" in info["evidence"]["evidence_counts"]
    assert (max(shared["payment_fingerprint"]["shared_by"].values(), default=0) >= 2) == (
        linked_by_card
    )
    assert [t["run_date"] for t in info["timeline"]] == ["2026-11-07", ON]
    assert all(t["scored"] == info["size"] for t in info["timeline"][1:])
    queued = next(c for c in _queue(queue_state) if c["case_id"] == cid)
    assert info["timeline"][-1]["case_score"] == queued["case_score"]  # the score it is queued at
    text = _ok("case", cid, "--state", queue_state, "--on", ON).stdout
    assert "Linked because they" in text and "Timeline" in text
    single = json.loads(
        _ok(
            "case", _queue(queue_state)[-1]["case_id"], "--state", queue_state, "--on", ON, "--json"
        ).stdout
    )
    assert single["evidence"] is None or single["size"] > 1


def test_unknown_or_ambiguous_ids_are_one_error_line(queue_state: Path) -> None:
    for args in (
        ("case", "c-nope", "--state", queue_state),
        ("label", "c-nope", "--verdict", "benign", "--note", "x", "--state", queue_state),
        ("cases", "--state", queue_state, "--band", "urgent"),
    ):
        result = _cli(*args)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1, args
    cid = _cluster(queue_state)["case_id"]
    with Store.open(queue_state) as store:  # an account whose id is also a case id
        store.record_scores(
            "2026-11-01", pd.DataFrame({"account_id": [cid], "score": [1.0], "flagged": [False]})
        )
    both = _cli("label", cid, "--verdict", "benign", "--note", "x", "--state", queue_state)
    assert both.exit_code == 1 and "both an account id and a case id" in both.stderr
    as_case = _ok(
        "label",
        cid,
        "--case",
        "--verdict",
        "benign",
        "--note",
        "x",
        "--state",
        queue_state,
        "--json",
    )
    assert json.loads(as_case.stdout)["case_id"] == cid
    as_account = _ok(
        "label",
        f"acct:{cid}",
        "--verdict",
        "benign",
        "--note",
        "x",
        "--state",
        queue_state,
        "--json",
    )
    assert json.loads(as_account.stdout)["members"] == [cid]


def test_hostile_ids_are_inert_in_the_terminal(queue_state: Path) -> None:
    hostile = "[red]boom[/red]\x1b[2J\x1b]8;;http://x\x07\r"
    with Store.open(queue_state) as store:
        store.record_scores(
            "2026-11-09",
            pd.DataFrame(
                {
                    "account_id": [hostile],
                    "score": [99.0],
                    "flagged": [True],
                    "reasons": ["\x1b[31m=cmd()[/b]"],
                }
            ),
        )
        store.record_alerts(
            "2026-11-09",
            [
                {
                    "account_id": hostile,
                    "score": 99.0,
                    "band": "critical",
                    "reasons": "x",
                    "kind": "new",
                }
            ],
        )
    text = _ok("cases", "--state", queue_state, "--on", "2026-11-09").stdout
    assert "\x1b" not in text and "\r" not in text
    assert "\x07" not in text and "acct:[red" in text  # markup printed literally, not applied
    assert "NEW" in text


def test_a_version_1_store_upgrades_and_lists_its_accounts_as_cases_of_one(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path, create=True, migrations=MIGRATIONS[:1]) as old:
        old.record_alerts(
            ON, [{"account_id": "a1", "score": 80.0, "band": "high", "reasons": "r", "kind": "new"}]
        )
        old._conn.execute(  # a v1 scores row, as the old code wrote it
            "INSERT INTO scores (run_date, account_id, score, flagged) VALUES (?, ?, ?, ?)",
            (ON, "a1", 80.0, 1),
        )
        old._conn.execute(
            "INSERT INTO verdicts (account_id, verdict, note, analyst, created_at)"
            " VALUES ('a1', 'benign', 'old', 'ana', '2026-11-08T00:00:00.000000+00:00')"
        )
    with Store.open(tmp_path) as store:
        assert store.schema_version == len(MIGRATIONS) == 2
        queue = store.case_queue(ON)
        details = store.verdict_details()
    assert queue["case_id"].tolist() == ["acct:a1"] and queue["status"].tolist() == ["cleared"]
    assert details["expires"].isna().all()  # an old verdict never lapses by itself
    tables = {
        r[0]
        for r in sqlite3.connect(tmp_path / "state.sqlite").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {"rules", "nightly_inputs"} <= tables


def test_the_queue_is_one_snapshot_while_a_nightly_run_commits(
    queue_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run committed between the queue's reads must not mix into it (WAL lets it in)."""
    with Store.open(queue_state) as store:
        before = store.case_queue(ON)
    assert before["trend"].notna().any(), "the season has a run before ON to trend against"
    with Store.open(queue_state) as store:
        original = store.previous_run_date

        def previous_after_a_concurrent_commit(when: object) -> str | None:
            # another process (a nightly re-run) drops the run before ON meanwhile
            other = sqlite3.connect(store.path, isolation_level=None)
            try:
                other.execute("DELETE FROM scores WHERE run_date < ?", (ON,))
            finally:
                other.close()
            return original(when)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "previous_run_date", previous_after_a_concurrent_commit)
        during = store.case_queue(ON)
        monkeypatch.undo()
        after = store.case_queue(ON)
    pd.testing.assert_frame_equal(during, before)
    assert after["trend"].isna().all()  # the commit did land, for the next reader
