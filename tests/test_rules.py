"""Suppression rules (account, case, org, card, user-agent / template patterns) and the
expiry of benign verdicts, in the nightly alert selection and on the command line."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import QueueSeason
from typer.testing import CliRunner, Result

from detector import schema as S
from detector.cli import app
from detector.errors import UserError
from detector.nightly import output_stages, run_nightly, select_alerts
from detector.nightly.alerts import alerts_for_tonight
from detector.rules import check_rule, covered_by_rules, pattern_coverage
from detector.store import Store

D1, D2 = dt.date(2026, 11, 7), dt.date(2026, 11, 8)


def _cli(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _scores(
    rows: list[tuple[str, float, bool]], case: dict[str, str] | None = None
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[S.ACCOUNT_ID, S.SCORE, S.FLAGGED])
    frame[S.RANK] = np.arange(1, len(frame) + 1)
    frame[S.CLUSTER_ID] = ""
    frame[S.CASE_ID] = [(case or {}).get(a, f"acct:{a}") for a in frame[S.ACCOUNT_ID]]
    frame[S.REASONS] = "r1; r2"
    frame[S.BAND] = "high"
    frame[S.SUPPRESSED] = False
    return frame


# --- verdicts: a benign one expires, and a rise over the score it answered re-alerts ---------


def test_select_alerts_benign_rise_over_the_answered_score_and_expiry() -> None:
    scores = _scores(
        [
            ("cleared_up", 90.0, True),  # benign at 60, now 90: rise
            ("cleared_flat", 88.0, True),  # benign at 80, now 88: quiet
            ("lapsed", 87.0, True),  # benign expired, alerted before: new again
            ("confirmed_up", 86.0, True),  # extraction, previous 50: rise (as before)
        ]
    )
    alerts = select_alerts(
        scores,
        alerted_before=["cleared_up", "cleared_flat", "lapsed", "confirmed_up"],
        verdicts=pd.Series(
            {
                "cleared_up": "benign",
                "cleared_flat": "benign",
                "lapsed": "benign",
                "confirmed_up": "extraction",
            }
        ),
        previous=pd.Series({"cleared_up": 89.0, "cleared_flat": 70.0, "confirmed_up": 50.0}),
        suppressed=set(),
        rise_margin=15.0,
        verdict_scores=pd.Series({"cleared_up": 60.0, "cleared_flat": 80.0}),
        expired=["lapsed"],
    )
    kinds = dict(zip(alerts[S.ACCOUNT_ID], alerts["kind"], strict=True))
    assert kinds == {"cleared_up": "rise", "lapsed": "new", "confirmed_up": "rise"}


def _store_with_history(tmp_path: Path, verdict_clock: dt.datetime) -> Store:
    """Accounts a, b alerted on D1 at 50; a cleared then (clock ``verdict_clock``)."""
    store = Store.open(tmp_path, create=True, now=lambda: verdict_clock)
    store.record_scores(D1, _scores([("a", 50.0, True), ("b", 50.0, True)]))
    store.record_alerts(
        D1,
        [
            {S.ACCOUNT_ID: x, S.SCORE: 50.0, S.BAND: "high", S.REASONS: "r", "kind": "new"}
            for x in ("a", "b")
        ],
    )
    store.add_verdict("a", S.LABEL_BENIGN, note="lab", benign_days=90)
    store.add_verdict("b", S.LABEL_BENIGN, note="lab", benign_days=90)
    return store


def test_a_benign_verdict_holds_then_expires(tmp_path: Path) -> None:
    tonight = _scores([("a", 55.0, True), ("b", 70.0, True)])
    # given on D1: holds on D2; a rose 5 (quiet), b rose 20 over the answered 50 (rise)
    with _store_with_history(tmp_path / "recent", dt.datetime(2026, 11, 7, tzinfo=dt.UTC)) as s:
        alerts, _ = alerts_for_tonight(s, tonight, D2, set(), 15.0)
        assert dict(zip(alerts[S.ACCOUNT_ID], alerts["kind"], strict=True)) == {"b": "rise"}
        assert s.verdict_details(latest=True)["expires"].tolist() == ["2027-02-05"] * 2
    # given 91+ days before D2: both lapsed, both flagged again as new
    with _store_with_history(tmp_path / "old", dt.datetime(2026, 8, 1, tzinfo=dt.UTC)) as s:
        alerts, _ = alerts_for_tonight(s, tonight, D2, set(), 15.0)
        assert sorted(alerts[S.ACCOUNT_ID]) == ["a", "b"] and set(alerts["kind"]) == {"new"}
        assert s.cases(D2).set_index(S.ACCOUNT_ID)["status"].to_dict() == {"a": "open", "b": "open"}


# --- rules: what they cover ----------------------------------------------------------------


def _rules(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [(i + 1, f, v) for i, (f, v) in enumerate(rows)], columns=["rule_id", "field", "value"]
    )


def test_exact_rules_cover_by_account_case_org_and_card() -> None:
    candidates = _scores(
        [
            ("a1", 90.0, True),
            ("a2", 90.0, True),
            ("a3", 90.0, True),
            ("a4", 90.0, True),
            ("a5", 90.0, True),
        ],
        case={"a2": "c-hydra", "a5": "c-hydra"},
    )
    accounts = pd.DataFrame(
        {S.ORG_ID: ["org_lab", "", ""], S.PAYMENT_FINGERPRINT: ["", "", "pf_x"]},
        index=pd.Index(["a3", "a1", "a4"], name=S.ACCOUNT_ID),
    )
    rules = _rules(("account", "a1"), ("case", "c-hydra"), ("org", "org_lab"), ("card", "pf_x"))
    covered = covered_by_rules(candidates, rules, accounts, None)
    assert covered.tolist() == [1, 2, 3, 4, 2]
    assert covered_by_rules(candidates, _rules(("org", "org_lab")), None, None).tolist() == [0] * 5


def test_pattern_rules_need_every_request_to_match() -> None:
    rows = pd.DataFrame(
        {
            S.ACCOUNT_ID: ["eval", "eval", "mixed", "mixed", "none"],
            S.USER_AGENT: ["acme-evals/2.1", "acme-evals/2.2", "acme-evals/2.1", "sdk-py/1", None],
            S.PROMPT: [
                "Grade this answer: 1",
                "Grade this answer: 2",
                "Grade this answer: 3",
                "hello",
                "Grade this answer: 4",
            ],
        }
    )
    assert list(pattern_coverage(rows, "user_agent", r"^acme-evals/")) == ["eval"]
    assert sorted(pattern_coverage(rows, "template", r"^Grade this answer")) == ["eval", "none"]
    asked: list[list[str]] = []

    def log_rows(ids: list[str]) -> pd.DataFrame:
        asked.append(ids)
        return rows

    candidates = _scores([("eval", 90.0, True), ("mixed", 90.0, True)])
    covered = covered_by_rules(candidates, _rules(("user_agent", "^acme-evals/")), None, log_rows)
    assert covered.tolist() == [1, 0] and asked == [["eval", "mixed"]]
    assert covered_by_rules(candidates, _rules(("account", "x")), None, log_rows).tolist() == [0, 0]
    assert len(asked) == 1  # the log is read only when a pattern rule is active


def test_a_backtracking_pattern_cannot_stall_on_hostile_text() -> None:
    rows = pd.DataFrame({S.ACCOUNT_ID: ["x"] * 200, S.USER_AGENT: ["a" * 5000 + "!"] * 200})
    start = time.perf_counter()
    assert list(pattern_coverage(rows, "user_agent", r"^(a+)+$")) == []
    assert time.perf_counter() - start < 2.0  # Python re would take longer than the universe


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("ip", "1.2.3.4", "not one of"),
        ("org", "  ", "non-empty"),
        ("user_agent", "x" * 201, "at most 200"),
        ("template", "(unclosed", "not a regular expression"),
        ("user_agent", r"(a)\1", "RE2"),
    ],
)
def test_bad_rules_are_refused(field: str, value: str, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        check_rule(field, value)


def test_the_store_keeps_rules_with_expiry_and_binds_every_value(tmp_path: Path) -> None:
    clock = dt.datetime(2026, 11, 8, 12, tzinfo=dt.UTC)
    hostile = "x'); DROP TABLE rules; --"
    with Store.open(tmp_path, create=True, now=lambda: clock) as store:
        first = store.add_rule("org", hostile, "2026-11-20", "partner")
        second = store.add_rule("user_agent", "^acme/", "2026-12-31", "vendor", analyst="ana")
        for until, reason, needle in (
            ("2026-11-01", "r", "in the past"),
            ("2028-01-01", "r", "days away"),
            ("2026-11-20", " ", "reason"),
        ):
            with pytest.raises(ValueError, match=needle):
                store.add_rule("org", "o", until, reason)
        assert store.rules_frame("2026-11-20")["value"].tolist() == [hostile, "^acme/"]
        assert store.rules_frame("2026-11-21")["rule_id"].tolist() == [second]
        assert store.remove_rule(first) and not store.remove_rule(first)
        assert store.rules_frame()["rule_id"].tolist() == [second]
        audit = store.rules_frame(include_removed=True)
        assert audit["removed_at"].notna().tolist() == [True, False]


def test_rules_on_the_command_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert _cli("init", "--state", state).exit_code == 0
    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    added = _cli(
        "rules",
        "add",
        "--field",
        "card",
        "--value",
        "pf_1",
        "--until",
        until,
        "--reason",
        "shared corporate card",
        "--state",
        state,
        "--json",
    )
    assert added.exit_code == 0, added.output
    rule_id = json.loads(added.stdout)["rule_id"]
    listed = json.loads(_cli("rules", "list", "--state", state, "--json").stdout)["rules"]
    assert [(r["rule_id"], r["field"], r["value"]) for r in listed] == [(rule_id, "card", "pf_1")]
    for args in (
        (
            "rules",
            "add",
            "--field",
            "template",
            "--value",
            "(x",
            "--until",
            until,
            "--reason",
            "r",
            "--state",
            state,
        ),
        (
            "rules",
            "add",
            "--field",
            "org",
            "--value",
            "o",
            "--until",
            "2001-01-01",
            "--reason",
            "r",
            "--state",
            state,
        ),
        ("rules", "remove", "999", "--state", state),
    ):
        result = _cli(*args)
        assert result.exit_code == 1 and "Traceback" not in result.output, args
        assert len(result.stderr.strip().splitlines()) == 1
    assert _cli("rules", "remove", str(rule_id), "--state", state).exit_code == 0
    assert json.loads(_cli("rules", "list", "--state", state, "--json").stdout)["rules"] == []


# --- in the nightly job ----------------------------------------------------------------------


def test_nightly_applies_the_rules_when_it_selects_alerts(
    queue_season: QueueSeason, queue_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule added since covers a would-be alert when a night is re-run; the alert that
    night already published stays published (an alert is never retracted)."""
    monkeypatch.setattr(output_stages, "load_report_writer", lambda: None)
    until = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)  # active on D2 too
    with Store.open(queue_state) as store:
        alerted = store.alerts_frame(D2)[S.ACCOUNT_ID].tolist()
        assert alerted, "the season alerts someone on its second night"
        store.add_rule("account", alerted[0], until, "known partner")
        store.add_rule("user_agent", "^no-such-agent/", until, "vendor")
    lines = queue_state / "runs" / D2.isoformat() / "alerts.jsonl"
    published = [json.loads(line) for line in lines.read_text().splitlines()]
    summary = run_nightly(logs=queue_season.logs, date=D2, state=queue_state, quiet=True)
    assert summary.suppressed_by_rules == 1
    again = {r["account_id"]: r for r in map(json.loads, lines.read_text().splitlines())}
    kept = next(r for r in published if r["account_id"] == alerted[0])
    assert again[alerted[0]] == kept  # the published line, verbatim
    with Store.open(queue_state) as store:
        assert sorted(store.alerts_frame(D2)[S.ACCOUNT_ID]) == sorted(alerted)
    written = json.loads((queue_state / "runs" / D2.isoformat() / "summary.json").read_text())
    assert written["suppressed_by_rules"] == 1
