"""Context around a score: `detector history`, `detector pivot`, and `explain`'s actual vs
typical, account metadata, decisions and score timeline."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from conftest import QueueSeason
from typer.testing import CliRunner, Result

from detector import schema as S
from detector.cli import app
from detector.context import score_sparkline
from detector.store import Store

ON = "2026-11-08"


def _cli(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _ok(*args: object) -> Result:
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    return result


def _scores(state: Path) -> Path:
    return state / "runs" / ON / "scores.csv"


def _top_clustered(state: Path) -> str:
    with Store.open(state) as store:
        frame = store.score_timeline(store.scores_frame(ON)[S.ACCOUNT_ID].tolist(), ON)
    night = frame[(frame["run_date"] == ON) & ~frame[S.CASE_ID].str.startswith("acct:")]
    return str(night.sort_values(S.SCORE, ascending=False)[S.ACCOUNT_ID].iloc[0])


def test_the_sparkline_is_on_the_fixed_0_to_100_scale() -> None:
    assert score_sparkline([0.0, 12.4, 50.0, 87.5, 100.0, 140.0]) == "▁▁▅███"
    assert score_sparkline([]) == ""


def test_history_shows_the_score_over_the_runs(queue_state: Path) -> None:
    account = _top_clustered(queue_state)
    info = json.loads(_ok("history", account, "--state", queue_state, "--json").stdout)
    assert [r["run_date"] for r in info["runs"]] == ["2026-11-07", ON]
    with Store.open(queue_state) as store:
        expected = store.score_timeline([account])[S.SCORE].tolist()
    assert [r[S.SCORE] for r in info["runs"]] == expected
    assert info["sparkline"] == score_sparkline(expected) and len(info["sparkline"]) == 2
    assert all(r[S.CASE_ID] and r[S.BAND] for r in info["runs"])
    text = _ok("history", account, "--state", queue_state).stdout
    assert info["sparkline"] in text and "2 run(s)" in text
    missing = _cli("history", "nobody", "--state", queue_state)
    assert missing.exit_code == 1 and len(missing.stderr.strip().splitlines()) == 1


def test_explain_shows_actual_vs_typical_metadata_decisions_and_timeline(
    queue_season: QueueSeason, queue_state: Path
) -> None:
    account = _top_clustered(queue_state)
    _ok("label", account, "--verdict", "benign", "--note", "lab", "--state", queue_state)
    card = (
        pd.read_parquet(queue_season.accounts)
        .set_index(S.ACCOUNT_ID)
        .at[account, S.PAYMENT_FINGERPRINT]
    )
    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    _ok(
        "rules",
        "add",
        "--field",
        "card",
        "--value",
        card,
        "--until",
        until,
        "--reason",
        "shared card",
        "--state",
        queue_state,
    )
    _ok("suppress", account, "--until", until, "--reason", "partner", "--state", queue_state)
    info = json.loads(
        _ok(
            "explain", account, "--scores", _scores(queue_state), "--state", queue_state, "--json"
        ).stdout
    )
    context = info["context"]
    table = pd.read_parquet(queue_season.accounts).set_index(S.ACCOUNT_ID)
    plan = table.at[account, S.PLAN]
    assert context["metadata"][S.PLAN] == plan and context["metadata"]["in_account_table"]
    assert context["typical"]["peer_group"]["plan"] == plan
    features = pd.read_parquet(_scores(queue_state).with_name("scores.features.parquet"))
    first = context["typical"]["features"][0]
    column = features[first["feature"]].astype(float)
    peers = column[column.index.isin(table.index[table[S.PLAN] == plan])]
    assert first["actual"] == round(float(column[account]), 4)
    assert first["population_median"] == round(float(column.median()), 4)
    assert first["peer_median"] == round(float(peers.median()), 4)
    assert context["typical"]["peer_group"]["accounts"] == len(peers)
    verdict = context["decisions"]["verdicts"][-1]
    assert verdict["verdict"] == "benign" and verdict["expires"]
    assert verdict["verdict_score"] == context["history"]["runs"][-1][S.SCORE]
    assert [a["run_date"] for a in context["decisions"]["alerts"]]
    assert [(r["field"], r["value"]) for r in context["decisions"]["rules"]] == [("card", card)]
    assert [s["reason"] for s in context["decisions"]["suppressions"]] == ["partner"]
    assert len(context["history"]["runs"]) == 2
    text = _ok("explain", account, "--scores", _scores(queue_state), "--state", queue_state)
    assert "Actual vs typical" in text.stdout and "verdict benign" in text.stdout
    # without --state: metadata only from --accounts, no decisions or history
    plain = json.loads(
        _ok(
            "explain",
            account,
            "--scores",
            _scores(queue_state),
            "--accounts",
            queue_season.accounts,
            "--json",
        ).stdout
    )["context"]
    assert plain["metadata"][S.PLAN] == plan and plain["decisions"] is None


def test_pivot_on_card_network_user_agent_and_template(
    queue_season: QueueSeason, queue_state: Path
) -> None:
    account = _top_clustered(queue_state)
    scores = _scores(queue_state)
    table = pd.read_parquet(queue_season.accounts).set_index(S.ACCOUNT_ID)
    card = table.at[account, S.PAYMENT_FINGERPRINT]
    scored = set(pd.read_parquet(scores.with_suffix(".parquet"))[S.ACCOUNT_ID])
    by_card = json.loads(
        _ok(
            "pivot",
            "--card",
            card,
            "--scores",
            scores,
            "--accounts",
            queue_season.accounts,
            "--json",
        ).stdout
    )["accounts"]
    assert {a[S.ACCOUNT_ID] for a in by_card} == set(
        table.index[table[S.PAYMENT_FINGERPRINT] == card]
    ) & scored
    log = pq.read_table(
        queue_season.logs, columns=[S.ACCOUNT_ID, S.CLIENT_IP, S.USER_AGENT, S.PROMPT, "date"]
    ).to_pandas()
    log = log[(log["date"].astype(str) >= "2026-11-02") & (log["date"].astype(str) <= ON)]
    mine = log[log[S.ACCOUNT_ID] == account].iloc[0]
    prefix = ".".join(str(mine[S.CLIENT_IP]).split(".")[:3])
    on_network = log[log[S.CLIENT_IP].astype(str).str.startswith(prefix + ".")]
    net = json.loads(
        _ok(
            "pivot",
            "--network",
            f"{prefix}.0/24",
            "--scores",
            scores,
            "--log",
            queue_season.logs,
            "--json",
        ).stdout
    )["accounts"]
    counts = on_network[S.ACCOUNT_ID].value_counts()
    assert {a[S.ACCOUNT_ID]: a["requests"] for a in net} == {
        k: int(v) for k, v in counts.items() if k in scored
    }
    assert [a[S.SCORE] for a in net] == sorted((a[S.SCORE] for a in net), reverse=True)
    template = json.loads(
        _ok(
            "pivot",
            "--template",
            mine[S.PROMPT],
            "--scores",
            scores,
            "--log",
            queue_season.logs,
            "--json",
        ).stdout
    )["accounts"]
    assert account in {a[S.ACCOUNT_ID] for a in template}


def test_pivot_refuses_what_it_cannot_answer(queue_season: QueueSeason, queue_state: Path) -> None:
    scores = _scores(queue_state)
    for args in (
        ("pivot", "--scores", scores),
        ("pivot", "--ip", "1.2.3.4", "--card", "x", "--scores", scores),
        ("pivot", "--ip", "1.2.3.4", "--scores", scores),
        ("pivot", "--card", "x", "--scores", scores),
        ("pivot", "--network", "10.0.0.0/8", "--scores", scores, "--log", queue_season.logs),
        ("pivot", "--network", "not-an-ip", "--scores", scores, "--log", queue_season.logs),
        ("pivot", "--ip", "1.2.3.4", "--scores", queue_state / "nope.csv"),
    ):
        result = _cli(*args)
        assert result.exit_code == 1 and "Traceback" not in result.output, args
        assert len(result.stderr.strip().splitlines()) == 1, args
