"""The nightly job: window, model lifecycle, alerts, atomic publish, lock, run history.

One simulated 10-day population is built per module; one season (nights 7-10 and a
re-run of night 8) runs once on it, and the other tests work on copies of that state
so each costs a single scoring. The report module is replaced by "unavailable" so
these tests do not depend on it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from detector import schema as S
from detector.artifacts import load_bundle
from detector.cli import app
from detector.config import DEFAULT
from detector.errors import UserError
from detector.nightly import (
    CACHE_DIR,
    LOCK_NAME,
    LockHeldError,
    NightlyOptions,
    NightlySummary,
    RunLock,
    day_ranges,
    output_stages,
    population_stability,
    psi_reference,
    registry_mismatch,
    run_nightly,
    select_alerts,
)
from detector.scoring import TOPIC_MODEL_KEY, read_scores
from detector.simulate import simulate
from detector.store import Store
from detector.topics import TopicModel
from tests.cli_run import refusal_line

REPO = Path(__file__).resolve().parents[1]
D7, D8, D9, D10 = (dt.date(2026, 11, d) for d in (7, 8, 9, 10))
NIGHTS = (D7, D8, D9, D10)
OUTPUTS = ("scores.csv", "alerts.jsonl", "summary.json", "quarantine.csv", "scores.meta.json")


def _no_report() -> None:
    return None


@dataclass
class Season:
    """Nights 7-10 run in order, then night 8 again."""

    sim: Path
    logs: Path
    state: Path
    summaries: dict[dt.date, NightlySummary]
    first8_scores: bytes
    first8_alerts: bytes
    first8_store_alerts: pd.DataFrame
    rerun8: NightlySummary


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Season:
    sim = tmp_path_factory.mktemp("nightly-sim")
    simulate(sim, accounts=250, days=10, seed=5)
    state = tmp_path_factory.mktemp("nightly-season") / "state"
    logs = sim / "requests"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(output_stages, "load_report_writer", _no_report)
        summaries = {}
        for day in NIGHTS:
            summaries[day] = run_nightly(logs=logs, date=day, state=state, quiet=True)
            if day == D8:
                out = state / "runs" / D8.isoformat()
                first8_scores = (out / "scores.csv").read_bytes()
                first8_alerts = (out / "alerts.jsonl").read_bytes()
                with Store.open(state) as store:
                    first8_store_alerts = store.alerts_frame(D8)
        rerun8 = run_nightly(logs=logs, date=D8, state=state, quiet=True)
    return Season(
        sim,
        logs,
        state,
        summaries,
        first8_scores,
        first8_alerts,
        first8_store_alerts,
        rerun8,
    )


@pytest.fixture(autouse=True)
def _report_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output_stages, "load_report_writer", _no_report)


@pytest.fixture
def state_copy(season: Season, tmp_path: Path) -> Path:
    """A private copy of the season's state (store, models, runs)."""
    target = tmp_path / "state"
    shutil.copytree(season.state, target)
    return target


def _alerts(state: Path, day: dt.date) -> list[dict]:
    text = (state / "runs" / day.isoformat() / "alerts.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _summary(state: Path, day: dt.date) -> dict:
    return json.loads((state / "runs" / day.isoformat() / "summary.json").read_text())


def _partition_rows(logs: Path, days: list[dt.date]) -> int:
    return sum(
        pq.ParquetFile(f).metadata.num_rows
        for d in days
        for f in (logs / f"date={d.isoformat()}").glob("*.parquet")
    )


def _window(day: dt.date, n: int = 7) -> list[dt.date]:
    return [day - dt.timedelta(days=i) for i in range(n)]


# --- the season ---------------------------------------------------------------------------


def test_each_night_publishes_its_outputs_and_nothing_else(season: Season) -> None:
    runs = season.state / "runs"
    assert sorted(p.name for p in runs.iterdir()) == [d.isoformat() for d in NIGHTS]
    for day in NIGHTS:
        for name in OUTPUTS:
            assert (runs / day.isoformat() / name).is_file(), (day, name)
        assert _summary(season.state, day)["report"] == "unavailable"
    assert (season.state / LOCK_NAME).read_text() == ""  # released, holder details cleared
    with Store.open(season.state) as store:
        history = store.runs_frame()
    assert len(history) == 5 and set(history["status"]) == {"ok"}


def test_rerun_reproduces_scores_byte_for_byte_and_raises_no_alert_twice(season: Season) -> None:
    out = season.state / "runs" / D8.isoformat()
    assert (out / "scores.csv").read_bytes() == season.first8_scores
    assert (out / "alerts.jsonl").read_bytes() == season.first8_alerts
    assert season.rerun8.model["reason"].startswith("re-run of 2026-11-08")
    assert season.rerun8.model["version"] == season.summaries[D8].model["version"]
    with Store.open(season.state) as store:
        again = store.alerts_frame(D8)
        every = store.alerts_frame()
    cols = [S.ACCOUNT_ID, "kind", S.SCORE]
    pd.testing.assert_frame_equal(again[cols], season.first8_store_alerts[cols])
    # no verdicts were given, so no account may ever be alerted twice
    assert not every[S.ACCOUNT_ID].duplicated().any()
    assert len(every) == sum(sum(s.alerts.values()) for s in season.summaries.values())


def test_an_open_case_is_not_alerted_again(season: Season) -> None:
    alerted7 = {a["account_id"] for a in _alerts(season.state, D7)}
    assert alerted7, "the first night must raise alerts"
    scores8 = read_scores(season.state / "runs" / D8.isoformat() / "scores.csv")
    still_flagged = alerted7 & set(scores8.loc[scores8[S.FLAGGED], S.ACCOUNT_ID])
    assert still_flagged, "some accounts alerted on night 7 are still flagged on night 8"
    assert not alerted7 & {a["account_id"] for a in _alerts(season.state, D8)}
    for day in (D9, D10):
        assert not alerted7 & {a["account_id"] for a in _alerts(season.state, day)}


def _alerted_twice(state: Path) -> list[str]:
    with Store.open(state) as store:
        every = store.alerts_frame()
    return sorted(set(every.loc[every[S.ACCOUNT_ID].duplicated(), S.ACCOUNT_ID]))


def test_a_night_run_out_of_order_alerts_no_account_a_later_night_alerted(
    season: Season, state_copy: Path
) -> None:
    later = {a["account_id"] for day in NIGHTS for a in _alerts(state_copy, day)}
    d6 = D7 - dt.timedelta(days=1)
    run_nightly(logs=season.logs, date=d6, state=state_copy, window_days=5, quiet=True)
    scores6 = read_scores(state_copy / "runs" / d6.isoformat() / "scores.csv")
    flagged6 = set(scores6.loc[scores6[S.FLAGGED], S.ACCOUNT_ID])
    assert flagged6 & later, "the backfilled night must flag accounts later nights alerted"
    assert not later & {a["account_id"] for a in _alerts(state_copy, d6)}
    assert _alerted_twice(state_copy) == []  # no verdicts: nobody may be alerted twice


def test_a_rerun_never_retracts_a_published_alert(season: Season, state_copy: Path) -> None:
    published = {a["account_id"]: a for a in _alerts(state_copy, D7)}
    assert len(published) >= 2, "night 7 must have raised alerts"
    # fewer days, other scores, one alert at most: some of night 7's alerts are no
    # longer raised (the window alone is not sure to drop one: whether it does depends
    # on the features of the day) ...
    run_nightly(
        logs=season.logs, date=D7, state=state_copy, window_days=2, alert_budget="1", quiet=True
    )
    scores = read_scores(state_copy / "runs" / D7.isoformat() / "scores.csv")
    dropped = set(published) - set(scores.loc[scores[S.FLAGGED], S.ACCOUNT_ID])
    assert dropped, "the narrower window and budget must stop flagging some of night 7's alerts"
    again = {a["account_id"]: a for a in _alerts(state_copy, D7)}
    # ... but each is still published (those dropped record for record; those raised
    # again as tonight's run describes them) and still known to the store
    assert set(published) <= set(again)
    assert {a: again[a] for a in dropped} == {a: published[a] for a in dropped}
    with Store.open(state_copy) as store:
        assert set(published) <= set(store.alerts_frame(D7)[S.ACCOUNT_ID])
    run_nightly(logs=season.logs, date=D7, state=state_copy, quiet=True)
    assert _alerted_twice(state_copy) == []


def test_an_alert_kept_without_its_published_line_is_rebuilt_from_the_store(
    season: Season, state_copy: Path
) -> None:
    published = {a["account_id"] for a in _alerts(state_copy, D7)}
    (state_copy / "runs" / D7.isoformat() / "alerts.jsonl").write_text("not json\n")
    run_nightly(logs=season.logs, date=D7, state=state_copy, window_days=2, quiet=True)
    again = {a["account_id"]: a for a in _alerts(state_copy, D7)}
    assert published <= set(again)
    with Store.open(state_copy) as store:
        stored = store.alerts_frame(D7).set_index(S.ACCOUNT_ID)
    for account in published - {a for a, r in again.items() if r["model_version"]}:
        record = again[account]
        assert record["run_date"] == D7.isoformat() and record["cluster_id"] is None
        assert record["score"] == pytest.approx(stored.loc[account, S.SCORE])
        assert record["kind"] == stored.loc[account, "kind"]


def test_alert_lines_carry_the_contract_fields(season: Season) -> None:
    alerts = _alerts(season.state, D7)
    scores = read_scores(season.state / "runs" / D7.isoformat() / "scores.csv")
    flagged = set(scores.loc[scores[S.FLAGGED], S.ACCOUNT_ID])
    assert {a["account_id"] for a in alerts} == flagged  # night 7: every flag is new
    for a in alerts:
        assert set(a) >= {
            "account_id",
            "score",
            "band",
            "reasons",
            "cluster_id",
            "kind",
            "run_date",
            "model_version",
        }
        assert a["kind"] == "new" and a["run_date"] == "2026-11-07"
        assert isinstance(a["reasons"], list) and a["reasons"]
        assert a["model_version"] == season.summaries[D7].model["version"]


def test_summary_counts_reconcile(season: Season) -> None:
    for day in NIGHTS:
        summary = _summary(season.state, day)
        ingest = summary["ingest"]
        assert ingest["read"] == ingest["kept"] + ingest["duplicates"] + ingest["quarantined"]
        assert ingest["reconciles"] is True
        assert ingest["read"] == _partition_rows(season.logs, _window(day))
        scores = read_scores(season.state / "runs" / day.isoformat() / "scores.csv")
        assert summary["accounts"] == len(scores)
        assert summary["flagged"] == int(scores[S.FLAGGED].sum())
        kinds = pd.Series([a["kind"] for a in _alerts(season.state, day)], dtype=object)
        assert summary["alerts"] == {
            "new": int((kinds == "new").sum()),
            "rise": int((kinds == "rise").sum()),
        }
        assert summary["window"] == {
            "start": (day - dt.timedelta(days=6)).isoformat(),
            "end": day.isoformat(),
            "days": 7,
            "days_present": 7,
            "files": 7,
        }
        assert summary["missing_days"] == []
        meta = json.loads(
            (season.state / "runs" / day.isoformat() / "scores.meta.json").read_text()
        )
        assert summary["model"]["version"] == meta["model_version"]
        assert meta["ingest"]["quarantine_file"].endswith(f"runs/{day.isoformat()}/quarantine.csv")
        assert summary["drift"]["max_psi"] is not None and len(summary["drift"]["top"]) <= 5
        for stage in ("window", "ingest", "features", "score", "alerts", "write", "total"):
            assert summary["timings"][stage] >= 0
    with Store.open(season.state) as store:
        for day in NIGHTS:
            stored = store.scores_frame(day)
            assert len(stored) == _summary(season.state, day)["accounts"]


def test_first_night_trains_because_there_is_no_model(season: Season) -> None:
    first = season.summaries[D7].model
    assert first["reason"] == "no model" and first["retrained"]
    with Store.open(season.state) as store:
        models = store.models_frame().set_index("version")
    assert models.loc[first["version"], "reason"] == "no model"
    assert models.loc[first["version"], "window_end"] == "2026-11-07"
    stored = models.loc[first["version"], "path"]
    assert stored == f"models/{first['version']}.bundle"  # relative to the state dir
    bundle = season.state / stored
    psi = json.loads(bundle.with_name(f"{first['version']}.psi.json").read_text())
    assert psi["accounts"] == first["training_accounts"] and psi["features"]


def test_runs_command_lists_the_history(season: Season) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["runs", "--state", str(season.state), "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["run_date"] for r in rows] == ["2026-11-08", "2026-11-10", "2026-11-09"]
    assert all(r["status"] == "ok" and r["model_version"] for r in rows)
    assert rows[0]["counts"]["read"] == season.rerun8.ingest["read"]
    table = runner.invoke(app, ["runs", "--state", str(season.state)])
    assert table.exit_code == 0 and "2026-11-07" in table.stdout
    missing = runner.invoke(app, ["runs", "--state", str(season.state / "nope")])
    assert missing.exit_code == 1 and "no detector state" in missing.stderr


# --- alerts: suppressed, cleared, rise ------------------------------------------------------


def test_suppressed_and_cleared_accounts_are_never_alerted(
    season: Season, state_copy: Path
) -> None:
    top = read_scores(state_copy / "runs" / D10.isoformat() / "scores.csv").head(4)
    suppressed, cleared, confirmed = top[S.ACCOUNT_ID].iloc[:3]
    with Store.open(state_copy) as store:
        for day in NIGHTS:  # forget every alert: each flag is new again
            store.delete_alerts_for_run(day)
        store.suppress(suppressed, "2026-12-31", "known research partner", analyst="t")
        store.add_verdict(cleared, "benign", "batch pipeline", analyst="t")
        store.add_verdict(confirmed, "extraction", "distillation", analyst="t")
    summary = run_nightly(
        logs=season.logs, date=D10, state=state_copy, alert_budget="10", quiet=True
    )
    alerted = {a["account_id"]: a for a in _alerts(state_copy, D10)}
    scores = read_scores(state_copy / "runs" / D10.isoformat() / "scores.csv")
    row = scores.set_index(S.ACCOUNT_ID).loc[suppressed]
    assert str(row[S.SUPPRESSED]).lower() == "true" and not row[S.FLAGGED]
    assert suppressed not in alerted and cleared not in alerted
    assert alerted[confirmed]["kind"] == "new"
    flagged = set(scores.loc[scores[S.FLAGGED], S.ACCOUNT_ID])
    assert set(alerted) == flagged - {cleared}
    assert summary.suppressed == 1


def _scores_frame(rows: list[tuple[str, float, bool]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[S.ACCOUNT_ID, S.SCORE, S.FLAGGED])
    frame[S.RANK] = np.arange(1, len(frame) + 1)
    frame[S.CLUSTER_ID] = ""
    frame[S.REASONS] = "r1; r2"
    frame[S.BAND] = "high"
    frame[S.SUPPRESSED] = False
    return frame


def test_select_alerts_new_rise_and_exclusions() -> None:
    scores = _scores_frame(
        [
            ("new", 90.0, True),  # never alerted: new
            ("open", 89.0, True),  # alerted, no verdict yet: never again
            ("rise", 88.0, True),  # alerted, confirmed, +38: rise
            ("flat", 87.0, True),  # alerted, confirmed, +7: nothing
            ("muted", 86.0, True),  # suppressed
            ("cleared", 85.0, True),  # analyst said benign
            ("calm", 10.0, False),  # not flagged
        ]
    )
    alerts = select_alerts(
        scores,
        alerted_before=["open", "rise", "flat"],
        verdicts=pd.Series({"rise": "extraction", "flat": "extraction", "cleared": "benign"}),
        previous=pd.Series({"rise": 50.0, "flat": 80.0, "open": 10.0}),
        suppressed={"muted"},
        rise_margin=15.0,
    )
    assert alerts[S.ACCOUNT_ID].tolist() == ["new", "rise"]
    assert alerts["kind"].tolist() == ["new", "rise"]
    assert alerts["previous_score"].iloc[1] == 50.0 and np.isnan(alerts["previous_score"].iloc[0])


# --- failures: atomic publish, lock, missing partitions ----------------------------------------


def test_a_fault_mid_run_leaves_no_output_and_the_next_run_succeeds(
    season: Season, state_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = dt.date(2026, 11, 6)
    models_before = sorted(p.name for p in (state_copy / "models").iterdir())

    def broken_report(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected report failure")

    monkeypatch.setattr(output_stages, "load_report_writer", lambda: broken_report)
    args = ["nightly", "--logs", str(season.logs), "--date", day.isoformat()]
    args += ["--state", str(state_copy), "--window-days", "3", "--force-retrain", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "injected report failure" in result.stderr
    assert "Traceback" not in result.output
    runs = state_copy / "runs"
    assert not (runs / day.isoformat()).exists()
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]
    assert (state_copy / LOCK_NAME).read_text() == ""  # released
    # the model trained by the failed run is not adopted
    assert sorted(p.name for p in (state_copy / "models").iterdir()) == models_before
    with Store.open(state_copy) as store:
        last = store.runs_frame(limit=1).iloc[0]
        assert last["status"] == "failed" and "injected report failure" in last["error"]
        assert len(store.models_frame()) == len(set(p.split(".")[0] for p in models_before))

    monkeypatch.setattr(output_stages, "load_report_writer", _no_report)
    summary = run_nightly(
        logs=season.logs,
        date=day,
        state=state_copy,
        window_days=3,
        psi_threshold=1e9,
        quiet=True,
    )
    assert (runs / day.isoformat() / "scores.csv").is_file()
    assert summary.window["days"] == 3 and not summary.model["retrained"]


def test_a_held_lock_exits_2_naming_the_holder(season: Season, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with RunLock(state / LOCK_NAME, hung_after_s=3600):  # another run, holding the lock
        args = ["nightly", "--logs", str(season.logs), "--date", "2026-11-08"]
        result = CliRunner().invoke(app, [*args, "--state", str(state)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0] and "holds the lock" in lines[0]
    assert not (state / "state.sqlite").exists()  # a refused run is not a run


def test_a_lock_left_by_a_killed_run_does_not_block(season: Season, state_copy: Path) -> None:
    """flock dies with its holder: the file a `kill -9`ed run left is no lock at all."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(state_copy / LOCK_NAME)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    args = ["nightly", "--logs", str(season.logs), "--date", "2026-11-10"]
    held = CliRunner().invoke(app, [*args, "--state", str(state_copy), "-q"])
    assert held.exit_code == 2 and f"pid {holder.pid}" in held.stderr
    holder.kill()
    holder.wait()
    assert json.loads((state_copy / LOCK_NAME).read_text())["pid"] == holder.pid  # left behind
    result = CliRunner().invoke(app, [*args, "--state", str(state_copy), "--log-json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stderr.strip().splitlines()]
    stages_run = [r["stage"] for r in records if r["level"] == "info"]
    assert stages_run[0] == "lock" and stages_run[-1] == "done" and "ingest" in stages_run
    assert (state_copy / LOCK_NAME).read_text() == ""  # released: nobody holds it


_HOLD_LOCK = """
import sys, time
from pathlib import Path
from detector.nightly import RunLock
lock = RunLock(Path(sys.argv[1]), hung_after_s=3600)
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_lock_held_past_the_timeout_is_reported_as_hung_never_taken(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 8, 2, 15, tzinfo=dt.UTC)
    path = tmp_path / LOCK_NAME
    old = RunLock(path, hung_after_s=6 * 3600, now=lambda: now - dt.timedelta(hours=7))
    old.acquire()
    try:
        with pytest.raises(LockHeldError, match=r"7\.0 h, longer than the 6 h.*probably hung"):
            RunLock(path, hung_after_s=6 * 3600, now=lambda: now).acquire()
        with pytest.raises(LockHeldError, match="wait for it"):
            RunLock(path, hung_after_s=8 * 3600, now=lambda: now).acquire()
    finally:
        old.release()
    with RunLock(path, hung_after_s=6 * 3600, now=lambda: now):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert path.read_text() == ""


@pytest.fixture
def gappy_logs(season: Season, tmp_path: Path) -> Path:
    """The season's log without the partition of 2026-11-05."""
    root = tmp_path / "gappy"
    for part in sorted(season.logs.iterdir()):
        if part.name != "date=2026-11-05":
            shutil.copytree(part, root / part.name)
    return root


def test_a_missing_partition_fails_with_one_line(gappy_logs: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ["nightly", "--logs", str(gappy_logs), "--date", "2026-11-08", "--state", str(state)]
    result = CliRunner().invoke(app, [*args, "--quiet"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "date=2026-11-05" in lines[0] and str(gappy_logs) in lines[0]
    assert "--allow-missing" in lines[0]
    assert not (state / "runs" / "2026-11-08").exists()
    with Store.open(state) as store:
        run = store.runs_frame(limit=1).iloc[0]
    assert run["status"] == "failed" and "date=2026-11-05" in run["error"]


def test_allow_missing_scores_the_days_present(
    season: Season, gappy_logs: Path, state_copy: Path
) -> None:
    summary = run_nightly(
        logs=gappy_logs, date=D8, state=state_copy, allow_missing=True, quiet=True
    )
    assert summary.missing_days == ["2026-11-05"]
    assert summary.window["days"] == 7 and summary.window["days_present"] == 6
    present = [d for d in _window(D8) if d != dt.date(2026, 11, 5)]
    assert summary.ingest["read"] == _partition_rows(gappy_logs, present)
    assert _summary(state_copy, D8)["missing_days"] == ["2026-11-05"]


def test_bad_date_and_budget_are_bad_input(season: Season, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["nightly", "--logs", str(season.logs), "--state", str(tmp_path / "s")]
    bad_date = runner.invoke(app, [*base, "--date", "2026-13-01"])
    assert bad_date.exit_code == 1 and "YYYY-MM-DD" in bad_date.stderr
    bad_budget = runner.invoke(app, [*base, "--date", "2026-11-08", "--alert-budget", "lots"])
    assert bad_budget.exit_code == 1 and "--alert-budget" in bad_budget.stderr


# --- model lifecycle ----------------------------------------------------------------------------


def test_retrain_reasons_and_training_exclusions(season: Season, tmp_path: Path) -> None:
    state = tmp_path / "state"
    labels = pd.read_csv(season.sim / "labels.csv")
    confirmed = labels.loc[labels[S.LABEL] == S.LABEL_EXTRACTION, S.ACCOUNT_ID].head(2)
    with Store.open(state, create=True) as store:
        for account in confirmed:
            store.add_verdict(account, "extraction", analyst="t")
    # two-day windows: the reasons do not depend on the window, training time does
    short = {"logs": season.logs, "state": state, "window_days": 2, "quiet": True}
    first = run_nightly(date=D7, **short)
    assert first.model["reason"] == "no model"
    assert first.model["excluded_accounts"] == 2

    old = run_nightly(date=D9, retrain_days=1, **short)
    assert old.model["reason"].startswith("model older than 1 days")
    assert old.model["retrained"] and old.model["version"] != first.model["version"]

    # a date the model (trained through 9) is not too old for, against a zero-tolerance PSI
    drift = run_nightly(date=D8, psi_threshold=1e-9, **short)
    assert drift.model["reason"].startswith("drift: max PSI")
    assert drift.drift["triggered_retrain"] and drift.drift["model_version"] == old.model["version"]
    with Store.open(state) as store:
        reasons = store.models_frame()["reason"].tolist()
    assert reasons[2] == "no model"
    assert reasons[1].startswith("model older than 1 days")
    assert reasons[0].startswith("drift")


def test_a_night_tells_the_features_how_long_each_account_was_idle(
    season: Season, state_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account table a night trains and scores with carries ``idle_days`` from the
    runs before its window (detector.nightly.idle): what lets an old account that wakes
    from dormancy count as starting (detector.coordination.tokens.activations)."""
    from detector.nightly import model_stages

    given: list[object] = []
    real_score, real_train = model_stages.score, model_stages.train_model

    def spy_score(*args: object, **kwargs: object) -> object:
        given.append(kwargs["accounts"])
        return real_score(*args, **kwargs)  # type: ignore[arg-type]

    def spy_train(*args: object, **kwargs: object) -> object:
        given.append(kwargs["accounts"])
        return real_train(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(model_stages, "score", spy_score)
    monkeypatch.setattr(model_stages, "train_model", spy_train)
    # night 10 again, with a two-day window (9-10 November): the season's runs of the
    # 7th and 8th (7-day windows) covered 1-8 November, eight days before the window
    night = run_nightly(
        logs=season.logs, date=D10, state=state_copy, window_days=2,
        accounts=season.sim / "accounts.parquet", force_retrain=True, quiet=True,
    )  # fmt: skip
    assert "idle" in night.timings  # timed as its own stage
    assert given and all(isinstance(t, pd.DataFrame) for t in given)
    table = given[-1]
    assert isinstance(table, pd.DataFrame)
    with Store.open(state_copy) as store:
        seen = store.last_seen(dt.date(2026, 10, 1), dt.date(2026, 11, 9))
    idle = table[S.IDLE_DAYS]
    assert idle.notna().all() and idle.max() == 8.0  # never seen in 1-8 November
    assert (idle.reindex(seen[seen == "2026-11-08"].index) == 0).all()  # seen by the 8th
    assert (idle.reindex(seen[seen == "2026-11-07"].index) == 1).all()  # only by the 7th
    assert {0.0, 8.0} <= set(idle)  # both kinds are there
    assert len(table) == len(pd.read_parquet(season.sim / "accounts.parquet"))


def test_psi_is_zero_on_the_same_population_and_large_on_a_shift() -> None:
    rng = np.random.default_rng(0)
    base = pd.DataFrame(
        {
            "x": rng.normal(size=2000),
            "mass": np.where(rng.random(2000) < 0.6, 1.0, rng.random(2000)),
            "gaps": np.where(rng.random(2000) < 0.1, np.nan, rng.random(2000)),
        }
    )
    reference = psi_reference(base, bins=10)
    assert population_stability(reference, base).max() == pytest.approx(0.0, abs=1e-12)
    nudged = base.assign(mass=np.where(base["mass"] == 1.0, 1.0 + 1e-9, base["mass"]))
    assert population_stability(reference, nudged)["mass"] < 0.01  # a point mass, not drift
    shifted = base.assign(x=base["x"] + 2.0)
    psi = population_stability(reference, shifted)
    assert psi.index[0] == "x" and psi["x"] > 0.25 and psi["gaps"] < 0.01


# --- the wrapper ----------------------------------------------------------------------------------


@pytest.mark.skipif(not (REPO / ".venv/bin/detector").exists(), reason="needs the .venv")
def test_wrapper_help_works() -> None:
    result = subprocess.run(
        [str(REPO / "scripts/nightly"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Exit codes" in result.stdout and "yesterday" in result.stdout


def test_wrapper_without_venv_says_how_to_create_it(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "nightly"
    shutil.copy2(REPO / "scripts/nightly", script)
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "./scripts/demo or ./scripts/test" in result.stderr


# --- every option checked before any work (issue 11) -------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--date", "0001-01-01", "--window-days", "2"], "before the year 1"),
        (["--date", "2026-11-08", "--window-days", "100000"], "--window-days must be between 1"),
        (["--date", "2026-11-08", "--alert-budget", "lots"], "--alert-budget"),
    ],
)
def test_bad_options_exit_1_before_any_work(
    season: Season, tmp_path: Path, extra: list[str], expected: str
) -> None:
    state = tmp_path / "state"
    args = ["nightly", "--logs", str(season.logs), "--state", str(state), *extra]
    line = refusal_line(CliRunner().invoke(app, args))
    assert expected in line and len(line) < 300
    assert not state.exists()  # nothing locked, created or recorded


def test_validate_options_refuses_non_finite_numbers(season: Season, tmp_path: Path) -> None:
    good = {
        "logs": season.logs,
        "date": D8,
        "state": tmp_path / "s",
        "window_days": 7,
        "accounts": None,
        "retrain_days": 7,
        "psi_threshold": 0.25,
        "alert_budget": None,
        "lock_timeout_hours": 6.0,
    }
    NightlyOptions(**good).validate()  # type: ignore[arg-type]
    for key, value in (("psi_threshold", float("nan")), ("lock_timeout_hours", float("inf"))):
        with pytest.raises(UserError, match=key.split("_")[0]):
            NightlyOptions(**{**good, key: value}).validate()  # type: ignore[arg-type]
    with pytest.raises(UserError, match="--logs"):
        NightlyOptions(**{**good, "logs": tmp_path / "nope"}).validate()  # type: ignore[arg-type]


def test_a_state_path_that_is_a_file_is_bad_input(season: Season, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("a file")
    args = ["nightly", "--logs", str(season.logs), "--date", "2026-11-08", "--state", str(state)]
    line = refusal_line(CliRunner().invoke(app, args))
    assert "--state" in line and "not a directory" in line
    assert state.read_text() == "a file"


def test_a_long_window_names_its_missing_days_in_a_short_line(
    season: Season, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    args = ["nightly", "--logs", str(season.logs), "--date", "2026-11-10", "--state", str(state)]
    line = refusal_line(CliRunner().invoke(app, [*args, "--window-days", "366", "-q"]))
    assert "date=2025-11-10..2026-10-31 (356 days)" in line and len(line) < 400


def test_missing_day_ranges_are_bounded() -> None:
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=2 * i) for i in range(100)]
    text = day_ranges(days)
    assert text.startswith("date=2026-01-01, date=2026-01-03,") and "and 95 more day(s)" in text
    pair = "date=2026-11-07..2026-11-08 (2 days), date=2026-11-10"
    assert day_ranges([D7, D8, D10]) == pair


def test_an_unrecorded_failure_does_not_claim_to_be_recorded(
    season: Season, state_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that cannot take the failure record (read-only, full): say nothing was recorded."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(Store, "start_run", refuse)
    args = ["nightly", "--logs", str(season.logs), "--date", "2026-11-10"]
    result = CliRunner().invoke(app, [*args, "--state", str(state_copy), "-q"])
    assert result.exit_code == 3, result.output
    assert "nothing was recorded" in result.stderr and "recorded as failed" not in result.stderr

    def broken_report(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected report failure")

    monkeypatch.undo()
    monkeypatch.setattr(output_stages, "load_report_writer", lambda: broken_report)
    result = CliRunner().invoke(app, [*args, "--state", str(state_copy), "-q"])
    assert result.exit_code == 3 and "recorded as failed (run " in result.stderr


# --- the registry: digests compared, paths against the state dir (issue 11) --------------------


def test_a_registered_model_whose_file_changed_is_not_used(
    season: Season, state_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    version = season.summaries[D10].model["version"]
    with Store.open(state_copy) as store:
        record = store.current_model()
        assert record is not None and record.version == version
        bundle = store.model_path(record)
    # the file stays a valid bundle, but not the one the registry holds
    conn = sqlite3.connect(state_copy / "state.sqlite")
    with conn:
        conn.execute("UPDATE models SET digest = ? WHERE version = ?", ("0" * 64, version))
    conn.close()
    assert registry_mismatch(bundle, replace(record, digest="0" * 64)) is not None
    summary = run_nightly(
        logs=season.logs, date=D10, state=state_copy, psi_threshold=1e9, quiet=True
    )
    assert summary.model["retrained"], summary.model
    assert "unusable" in summary.model["reason"] and "replaced" in summary.model["reason"]
    assert summary.model["version"] != version
    assert "not reusing" in capsys.readouterr().err


def test_the_registry_resolves_against_the_state_dir_from_any_cwd(
    season: Season, state_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    summary = run_nightly(
        logs=season.logs, date=D10, state=state_copy, psi_threshold=1e9, quiet=True
    )
    assert not summary.model["retrained"] and summary.model["reused_for_date"]


# --- label / suppress: ids never scored are refused unless --force (issue 11) -------------------


def test_label_and_suppress_refuse_ids_never_scored(season: Season, state_copy: Path) -> None:
    runner = CliRunner()
    scored = read_scores(state_copy / "runs" / D10.isoformat() / "scores.csv")[S.ACCOUNT_ID]
    known, typo = str(scored.iloc[0]), str(scored.iloc[0]) + "x"
    base = ["--state", str(state_copy)]
    label = ["label", "--verdict", "benign", "--note", "n", *base]
    suppress = ["suppress", "--until", "2999-01-01", "--reason", "r", *base]
    for command in (label, suppress):
        line = refusal_line(runner.invoke(app, [command[0], typo, *command[1:]]))
        assert "ever scored this account" in line and "--force" in line
        assert runner.invoke(app, [command[0], known, *command[1:]]).exit_code == 0
        forced = runner.invoke(app, [command[0], typo, *command[1:], "--force"])
        assert forced.exit_code == 0, forced.output
        assert "--force" in runner.invoke(app, [command[0], "--help"]).stdout
    with Store.open(state_copy) as store:
        assert set(store.verdict_history()[S.ACCOUNT_ID]) == {known, typo}


def test_enough_new_verdicts_retrain_a_model_that_learns_from_them(
    season: Season, tmp_path: Path
) -> None:
    from detector.artifacts import read_manifest

    state = tmp_path / "state"
    short = {"logs": season.logs, "state": state, "window_days": 2, "quiet": True}
    first = run_nightly(date=D7, **short)
    scored = read_scores(state / "runs" / D7.isoformat() / "scores.csv")[S.ACCOUNT_ID]
    labels = pd.read_csv(season.sim / "labels.csv")
    labels = labels[labels[S.ACCOUNT_ID].isin(scored)]
    n = DEFAULT.retrain_new_verdicts
    chosen = pd.concat(
        [
            labels[labels[S.LABEL] == S.LABEL_EXTRACTION].head(8),
            labels[labels[S.LABEL] == S.LABEL_BENIGN].head(n - 8),
        ]
    )
    with Store.open(state) as store:
        for row in chosen.itertuples(index=False):
            store.add_verdict(row.account_id, row.label, analyst="t")
    again = run_nightly(date=D8, **short)
    assert again.model["reason"].startswith(f"{n} accounts got a verdict since")
    assert again.model["retrained"] and again.model["version"] != first.model["version"]
    learned = read_manifest(state / "models" / f"{again.model['version']}.bundle")["labels"]
    assert learned is not None and learned["source"] == f"state:{state}"
    assert 0 < learned["n_extraction"] <= 8 and learned["decided_from"] is not None


def test_each_night_replays_the_days_earlier_nights_annotated(season: Season) -> None:
    """Night 8 (window 2-8) reads only its new day; night 8 again reads nothing; both
    publish the same scores (test_rerun_reproduces_scores_byte_for_byte...)."""
    first = season.summaries[NIGHTS[0]].ingest
    assert first["files_replayed"] == 0 and first["files_read"] >= 7
    for day in NIGHTS[1:]:
        ingest = season.summaries[day].ingest
        if season.summaries[day].model.get("retrained"):
            continue  # a new topic model: a new key, every day read
        assert ingest["files_read"] == 1, (day, ingest)
        assert ingest["files_replayed"] >= 6
    assert season.rerun8.ingest["files_read"] == 0
    assert (season.state / CACHE_DIR).is_dir()


def _topics_of(state: Path, version: str) -> TopicModel:
    return load_bundle(state / "models" / f"{version}.bundle").text_models[TOPIC_MODEL_KEY]


def test_a_scheduled_retrain_keeps_a_recent_topic_model_and_replays_its_days(
    season: Season, tmp_path: Path
) -> None:
    """Retrained every night (``retrain_days`` 0): the first night fits the topic model;
    the next keeps it, so it replays the day the first night annotated and reads only
    its new one, and topic ids stay put; so does a forced retrain. Past
    ``topic_refit_days``, with ``refit_topics``, or when drift forces the retrain, the
    topic model is fitted again."""
    state = tmp_path / "state"
    short = {"logs": season.logs, "state": state, "window_days": 2, "quiet": True}
    first = run_nightly(date=D7, **short)
    fitted = _topics_of(state, first.model["version"])
    assert fitted.fitted_through_ == D7.isoformat()

    kept = run_nightly(date=D8, retrain_days=0, **short)
    assert kept.model["retrained"] and kept.model["version"] != first.model["version"]
    topics = _topics_of(state, kept.model["version"])
    assert topics.fingerprint() == fitted.fingerprint()
    assert topics.fitted_through_ == D7.isoformat()  # its own date, not the retrain's
    assert kept.ingest["files_replayed"] >= 1 and kept.ingest["files_read"] == 1
    forced = run_nightly(date=D8, force_retrain=True, **short)
    assert forced.ingest["files_read"] == 0  # every day replayed
    assert _topics_of(state, forced.model["version"]).fingerprint() == fitted.fingerprint()

    stale = run_nightly(
        date=D9, retrain_days=0, config=replace(DEFAULT, topic_refit_days=1), **short
    )
    assert _topics_of(state, stale.model["version"]).fitted_through_ == D9.isoformat()
    asked = run_nightly(date=D9, force_retrain=True, refit_topics=True, **short)
    assert _topics_of(state, asked.model["version"]).fitted_through_ == D9.isoformat()

    drift = run_nightly(date=D10, psi_threshold=1e-9, **short)
    assert drift.drift["triggered_retrain"]
    assert _topics_of(state, drift.model["version"]).fitted_through_ == D10.isoformat()
    notes = [night.model["topics"] for night in (first, kept, forced, stale, asked, drift)]
    assert notes[0] == "refit: no model"
    assert notes[1] == f"kept from {first.model['version']} (fitted on data through {D7})"
    assert notes[2] == f"kept from {kept.model['version']} (fitted on data through {D7})"
    assert notes[3].startswith(f"refit: the topic model of {forced.model['version']}")
    assert notes[4] == "refit: --refit-topics"
    assert notes[5].startswith("refit: drift: max PSI")
