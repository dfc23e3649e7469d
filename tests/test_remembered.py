"""Nightly remembers its inputs: the account table given once is reused, and a run
with reduced features says so in its summary line, summary.json, log and report."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import QUEUE_NIGHTS, QueueSeason
from typer.testing import CliRunner, Result

from detector.cli import app
from detector.store import Store


def _nightly(season: QueueSeason, state: Path, *args: str) -> Result:
    """``detector nightly`` on the season's log for 2026-11-09."""
    base = ["nightly", "--logs", str(season.logs), "--date", "2026-11-09", "--state", str(state)]
    return CliRunner().invoke(app, [*base, *args])


def _summary(state: Path, day: str) -> dict:
    return json.loads((state / "runs" / day / "summary.json").read_text(encoding="utf-8"))


def test_the_first_run_records_the_account_table_and_a_later_run_reuses_it(
    queue_season: QueueSeason,
) -> None:
    first, second = (d.isoformat() for d in QUEUE_NIGHTS)
    with Store.open(queue_season.state) as store:
        recorded = store.recorded_inputs()
    assert recorded == {"accounts": os.path.abspath(queue_season.accounts)}
    given, reused = _summary(queue_season.state, first), _summary(queue_season.state, second)
    assert given["inputs"]["accounts"]["source"] == "given"
    assert reused["inputs"]["accounts"] == {"value": recorded["accounts"], "source": "recorded"}
    assert reused["params"]["accounts"] == recorded["accounts"]
    assert given["reduced_features"] == [] and reused["reduced_features"] == []


def test_a_run_without_the_account_table_says_so_everywhere(
    queue_season: QueueSeason, queue_state: Path
) -> None:
    runner = CliRunner()
    args = ["nightly", "--logs", str(queue_season.logs), "--state", str(queue_state)]
    forgot = runner.invoke(app, [*args, "--date", "2026-11-09", "--no-accounts"])
    assert forgot.exit_code == 0, forgot.output
    summary = [line for line in forgot.stdout.splitlines() if line.startswith("nightly ")]
    assert len(summary) == 1, forgot.stdout  # one line, however narrow the terminal
    assert "; REDUCED FEATURES: no account table: " in summary[0], summary[0]
    assert "REDUCED FEATURES" in forgot.stderr  # the stage log's warning too
    records = [json.loads(line) for line in forgot.stderr.splitlines() if line.startswith("{")]
    done = next(r for r in records if r.get("stage") == "done")  # the one-line summary on stderr
    assert done["reduced_features"][0].startswith("no account table")
    summary = _summary(queue_state, "2026-11-09")
    assert summary["inputs"]["accounts"] == {"value": None, "source": "forgotten"}
    assert summary["reduced_features"][0].startswith("no account table")
    report = (queue_state / "runs" / "2026-11-09" / "report.html").read_text(encoding="utf-8")
    assert '<p class="reduced">Reduced features: no account table' in report
    with Store.open(queue_state) as store:
        assert "accounts" not in store.recorded_inputs()
        runs = store.runs_frame(limit=1)
    assert json.loads(runs["counts"].iloc[0])["reduced_features"] == 1

    # forgotten stays forgotten: the next night has no table either, and says so
    later = runner.invoke(app, [*args, "--date", "2026-11-10", "-q"])
    assert later.exit_code == 0, later.output
    assert _summary(queue_state, "2026-11-10")["inputs"]["accounts"]["source"] == "none"
    assert _summary(queue_state, "2026-11-10")["reduced_features"]


def test_a_recorded_account_table_that_is_gone_is_one_error_line(
    queue_season: QueueSeason, queue_state: Path, tmp_path: Path
) -> None:
    gone = tmp_path / "moved-away.parquet"
    with Store.open(queue_state) as store:
        store.record_inputs("2026-11-08", {"accounts": str(gone)})
    result = _nightly(queue_season, queue_state, "-q")
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert str(gone) in lines[0] and "--accounts FILE" in lines[0]
    assert not (queue_state / "runs" / "2026-11-09").exists()


def test_accounts_and_no_accounts_together_are_refused(
    queue_season: QueueSeason, tmp_path: Path
) -> None:
    result = _nightly(
        queue_season, tmp_path / "st", "--accounts", str(queue_season.accounts), "--no-accounts"
    )
    assert result.exit_code == 1
    assert "contradict" in result.stderr and not (tmp_path / "st").exists()


def test_a_changed_account_table_is_recorded_and_warned_about(
    queue_season: QueueSeason, queue_state: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "accounts-v2.parquet"
    moved.write_bytes(queue_season.accounts.read_bytes())
    result = _nightly(queue_season, queue_state, "-q", "--accounts", str(moved))
    assert result.exit_code == 0, result.output
    assert "account table changed" in result.stderr
    with Store.open(queue_state) as store:
        assert store.recorded_inputs()["accounts"] == str(moved)
