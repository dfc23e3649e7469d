"""Crash safety of the nightly job: kill it, fail its store writes, fill its disk.

After every fault, the next run must publish the night exactly once (one
``runs/DATE`` equal to a clean run's), alert nothing twice (the store's alerts equal a
clean run's) and lose no verdict.

One small simulated log (60 accounts, 4 days) and one base state (night 3 run, two
verdicts given) are built per module; a clean run of night 4 on a copy of it is the
reference every recovered night is compared with. Kills go through the real
``detector nightly`` command: at each point of :data:`detector.faults.POINTS` in child
processes forked from a forkserver that has imported the detector once (a fresh
interpreter would spend ~3 s importing per kill), and at random moments in plain
subprocesses. The long parts are marked ``slow``; CI runs them too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import multiprocessing as mp
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from detector import faults
from detector import schema as S
from detector.config import Config
from detector.errors import UserError
from detector.nightly import (
    LOCK_NAME,
    PublishError,
    RunLock,
    failure_recorded,
    output_stages,
    run_nightly,
)
from detector.nightly import alerts as alerting
from detector.simulate import simulate
from detector.store import Store

D3, D4 = dt.date(2026, 11, 3), dt.date(2026, 11, 4)
WINDOW = {"window_days": 2, "alert_budget": "8", "psi_threshold": 1000.0}
"""Two-day windows, eight flags a night, no drift retraining: small, fast, deterministic."""
SMALL_MODEL = Config(n_estimators=30, family_estimators=5)
"""The base state's model: a fifth of the default trees, so every run loads and scores it fast
(later runs reuse it; crash safety does not depend on the forest's size)."""
COMPARED = ("scores.csv", "alerts.jsonl")
PRE_COMMIT = faults.POINTS[: faults.POINTS.index("commit") + 1]


@dataclass(frozen=True)
class World:
    logs: Path
    base: Path
    """State after night 3, with two verdicts: every test starts from a copy of it."""
    night4: Path
    """``base`` plus a clean night 4: what a recovered night 4 must equal."""
    rerun3: Path
    """``base`` plus a clean re-run of night 3."""
    clean_seconds: float


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def _no_report() -> None:
    return None


@pytest.fixture(autouse=True)
def _report_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process the report is skipped (it is not compared); killed children write it."""
    monkeypatch.setattr(output_stages, "load_report_writer", _no_report)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("faults")
    simulate(root / "sim", accounts=60, days=4, seed=3)
    logs = root / "sim" / "requests"
    base = root / "base"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(output_stages, "load_report_writer", _no_report)
        run_nightly(
            logs=logs,
            date=D3,
            state=base,
            quiet=True,
            config=SMALL_MODEL,
            **WINDOW,  # type: ignore[arg-type]
        )
        with Store.open(base) as store:
            alerted = store.alerts_frame(D3)[S.ACCOUNT_ID].tolist()
            assert len(alerted) >= 2, "night 3 must alert"
            store.add_verdict(alerted[0], S.LABEL_EXTRACTION, "pulls", analyst="t")
            store.add_verdict(alerted[1], S.LABEL_BENIGN, "batch customer", analyst="t")
        night4 = _copy(base, root / "night4")
        started = time.perf_counter()
        run_nightly(logs=logs, date=D4, state=night4, quiet=True, **WINDOW)  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
        with Store.open(night4) as store:
            assert not store.alerts_frame(D4).empty, "night 4 must raise a new alert"
        rerun3 = _copy(base, root / "rerun3")
        run_nightly(logs=logs, date=D3, state=rerun3, quiet=True, **WINDOW)  # type: ignore[arg-type]
    return World(logs, base, night4, rerun3, seconds)


def _args(world: World, state: Path, day: dt.date, *extra: str, quiet: bool = True) -> list[str]:
    return [
        "nightly",
        "--logs",
        str(world.logs),
        "--date",
        day.isoformat(),
        "--state",
        str(state),
        "--window-days",
        str(WINDOW["window_days"]),
        "--alert-budget",
        str(WINDOW["alert_budget"]),
        "--psi-threshold",
        str(WINDOW["psi_threshold"]),
        *(["--quiet"] if quiet else []),
        *extra,
    ]


def _next_run(world: World, state: Path, day: dt.date) -> None:
    """The next run, in this process, on the same state."""
    run_nightly(logs=world.logs, date=day, state=state, quiet=True, **WINDOW)  # type: ignore[arg-type]


def _store_view(state: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, set[str]]:
    with Store.open(state) as store:
        alerts = store.alerts_frame()[["run_date", S.ACCOUNT_ID, "kind", S.SCORE]]
        verdicts = store.verdict_history()
        runs = store.runs_frame(limit=1000)
        versions = set(store.models_frame()["version"])
    return alerts, verdicts, runs, versions


def assert_recovered(state: Path, reference: Path, day: dt.date) -> None:
    """One published directory per night, equal to the reference's; store alerts and
    verdicts equal the reference's; no run left running; no stray model or lock."""
    runs = state / "runs"
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        p.name for p in (reference / "runs").iterdir()
    ), "a night is published once, with no staging or moved-aside directory left"
    for name in COMPARED:
        got = (runs / day.isoformat() / name).read_bytes()
        assert got == (reference / "runs" / day.isoformat() / name).read_bytes(), name
    alerts, verdicts, history, versions = _store_view(state)
    ref_alerts, ref_verdicts, _, _ = _store_view(reference)
    pd.testing.assert_frame_equal(alerts, ref_alerts)  # nothing alerted twice, nothing lost
    pd.testing.assert_frame_equal(
        verdicts.drop(columns="created_at"), ref_verdicts.drop(columns="created_at")
    )
    assert "running" not in set(history["status"])
    ok = history[(history["run_date"] == day.isoformat()) & (history["status"] == "ok")]
    summary = (runs / day.isoformat() / "summary.json").read_text(encoding="utf-8")
    assert f'"run_id": {int(ok["run_id"].max())},' in summary, "the directory is the last commit's"
    bundles = {p.name.removesuffix(".bundle") for p in (state / "models").glob("*.bundle")}
    assert bundles == versions, "only registered models are kept"
    with RunLock(state / LOCK_NAME, hung_after_s=3600):  # nobody holds the lock
        pass


# --- kill at every point: the real command in a forked child -------------------------------


def _nightly_child(argv: list[str], fault: str) -> None:
    """A child process: ``detector nightly`` with ``$DETECTOR_FAULT`` set."""
    os.environ[faults.ENV] = fault
    from detector.cli import app

    code = app(argv, standalone_mode=False)
    sys.exit(code if isinstance(code, int) else 0)


@pytest.fixture(scope="module")
def forkserver() -> mp.context.ForkServerContext:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["detector.cli", "detector.nightly"])
    return ctx


def _kill_at(ctx: mp.context.ForkServerContext, argv: list[str], point: str) -> None:
    child = ctx.Process(target=_nightly_child, args=(argv, point))
    child.start()
    child.join(timeout=180)
    assert child.exitcode == -signal.SIGKILL, f"not killed at {point}: exit {child.exitcode}"


@pytest.mark.slow
@pytest.mark.parametrize("point", [p for p in faults.POINTS if p not in ("trained", "aside")])
def test_killed_at_each_point_the_next_run_publishes_exactly_once(
    world: World, forkserver: mp.context.ForkServerContext, tmp_path: Path, point: str
) -> None:
    state = _copy(world.base, tmp_path / "state")
    _kill_at(forkserver, _args(world, state, D4), point)
    _next_run(world, state, D4)
    assert_recovered(state, world.night4, D4)


@pytest.mark.slow
def test_killed_after_training_the_unregistered_model_is_removed(
    world: World, forkserver: mp.context.ForkServerContext, tmp_path: Path
) -> None:
    state = _copy(world.base, tmp_path / "state")
    before = {p.name for p in (state / "models").iterdir()}
    _kill_at(forkserver, _args(world, state, D4, "--force-retrain"), "trained")
    assert {p.name for p in (state / "models").iterdir()} > before  # the orphan bundle
    _next_run(world, state, D4)
    assert_recovered(state, world.night4, D4)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["staged", "committed", "aside", "published"])
def test_a_rerun_killed_at_publish_keeps_one_directory_per_night(
    world: World, forkserver: mp.context.ForkServerContext, tmp_path: Path, point: str
) -> None:
    state = _copy(world.base, tmp_path / "state")
    _kill_at(forkserver, _args(world, state, D3), point)
    _next_run(world, state, D3)
    assert_recovered(state, world.rerun3, D3)


# --- kill at random moments: the real command in a plain subprocess ------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_at_a_random_moment_the_next_run_recovers(
    world: World, tmp_path: Path, seed: int
) -> None:
    state = _copy(world.base, tmp_path / "state")
    argv = [sys.executable, "-c", "from detector.cli import main; main()"]
    argv += _args(world, state, D4, "--log-json", quiet=False)
    child = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert child.stderr is not None
    first = child.stderr.readline()  # the lock is taken: the run has begun
    assert b'"stage": "lock"' in first, first
    time.sleep(random.Random(seed).uniform(0.0, world.clean_seconds))
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=180)
    _next_run(world, state, D4)
    assert_recovered(state, world.night4, D4)


# --- an ordinary failure before or after the commit ---------------------------------------


def test_a_failure_before_the_commit_changes_nothing_and_is_recorded(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _copy(world.base, tmp_path / "state")
    monkeypatch.setenv(faults.ENV, "staged:raise")
    with pytest.raises(faults.InjectedFault) as caught:
        _next_run(world, state, D4)
    run_id = failure_recorded(caught.value)
    assert run_id is not None
    with Store.open(state) as store:
        assert store.run_status(run_id) == "failed"
        assert store.alerts_frame(D4).empty and store.scores_frame(D4).empty
    assert sorted(p.name for p in (state / "runs").iterdir()) == [D3.isoformat()]
    monkeypatch.delenv(faults.ENV)
    _next_run(world, state, D4)
    assert_recovered(state, world.night4, D4)


def test_a_failure_after_the_commit_is_completed_by_the_next_run(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _copy(world.base, tmp_path / "state")
    monkeypatch.setenv(faults.ENV, "committed:raise")
    with pytest.raises(PublishError, match="committed in the store"):
        _next_run(world, state, D4)
    with Store.open(state) as store:
        assert not store.alerts_frame(D4).empty  # committed: the alerts are recorded
    monkeypatch.delenv(faults.ENV)
    _next_run(world, state, D4)
    assert_recovered(state, world.night4, D4)


def test_a_run_left_running_is_recorded_as_failed(world: World, tmp_path: Path) -> None:
    state = _copy(world.base, tmp_path / "state")
    with Store.open(state) as store:
        ghost = store.start_run(D4, {"note": "killed before this test began"})
    _next_run(world, state, D4)
    with Store.open(state) as store:
        assert store.run_status(ghost) == "failed"
    assert_recovered(state, world.night4, D4)


# --- every store write fails once -----------------------------------------------------------

_WRITES = ("BEGIN", "INSERT", "UPDATE", "DELETE", "COMMIT")


class _Connection:
    """An sqlite3 connection whose ``n``-th write statement fails (``n = -1``: none)."""

    def __init__(self, conn: sqlite3.Connection, plan: dict[str, Any]) -> None:
        self._conn = conn
        self._plan = plan

    def _tick(self, sql: str) -> None:
        if sql.lstrip().split(" ", 1)[0].upper() not in _WRITES:
            return
        self._plan["writes"].append(sql.split("(")[0].strip()[:60])
        if len(self._plan["writes"]) - 1 == self._plan["fail_at"]:
            error = sqlite3.OperationalError("disk I/O error (injected)")
            error.sqlite_errorcode = sqlite3.SQLITE_IOERR  # type: ignore[attr-defined]
            raise error

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._tick(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._tick(sql)
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@contextlib.contextmanager
def _failing_writes(fail_at: int) -> Iterator[list[str]]:
    plan: dict[str, Any] = {"fail_at": fail_at, "writes": []}
    connect = sqlite3.connect

    def flaky(*args: Any, **kwargs: Any) -> Any:
        return _Connection(connect(*args, **kwargs), plan)

    with pytest.MonkeyPatch.context() as mp_:
        mp_.setattr(sqlite3, "connect", flaky)
        yield plan["writes"]


@pytest.mark.slow
def test_each_store_write_failing_leaves_a_state_the_next_run_completes(
    world: World, tmp_path: Path
) -> None:
    with _failing_writes(-1) as writes:
        _next_run(world, _copy(world.base, tmp_path / "count"), D4)
    assert any("INTO alerts" in w for w in writes), writes  # the night is in the list
    assert writes[-1] == "COMMIT" and len(writes) < 30, writes
    for index, statement in enumerate(writes):
        state = _copy(world.base, tmp_path / f"s{index}")
        with _failing_writes(index), pytest.raises((sqlite3.Error, UserError)):
            _next_run(world, state, D4)
        published = (state / "runs" / D4.isoformat()).exists()
        assert not published, f"write {index} ({statement}) failed, yet the night was published"
        _next_run(world, state, D4)
        assert_recovered(state, world.night4, D4)


# --- a full disk, and a read-only state -----------------------------------------------------


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at ``where`` (root only); skip when this machine cannot mount one."""
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` to ``leave`` free bytes with one file; return it (delete to free)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 4096)
            stat = os.statvfs(disk)
            if stat.f_bavail * stat.f_frsize <= leave + 4096:
                break
    return filler


@pytest.mark.slow
def test_a_full_disk_at_any_point_leaves_a_state_the_next_run_completes(
    world: World, tmp_path: Path
) -> None:
    out = sum(f.stat().st_size for f in (world.night4 / "runs" / D4.isoformat()).iterdir())
    with _tmpfs(tmp_path / "disk", "16m") as disk:
        for leave in (0, 32 * 1024, 64 * 1024, out + 64 * 1024):  # store, store, staging x2
            state = _copy(world.base, disk / f"state-{leave}")
            filler = _fill(disk, leave)
            try:
                _next_run(world, state, D4)
            except (OSError, sqlite3.Error, UserError):
                assert not (state / "runs" / D4.isoformat()).exists(), leave
            filler.unlink()
            _next_run(world, state, D4)
            assert_recovered(state, world.night4, D4)
            shutil.rmtree(state)


def test_a_full_disk_while_staging_changes_nothing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same without a tmpfs: the writer of alerts.jsonl raises ENOSPC."""
    state = _copy(world.base, tmp_path / "state")
    real: Callable[..., Path] = alerting.atomic_write_text

    def full(path: Any, text: str, *args: Any) -> Path:
        if Path(path).name == "alerts.jsonl":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text, *args)

    monkeypatch.setattr(alerting, "atomic_write_text", full)
    with pytest.raises(OSError, match="No space left"):
        _next_run(world, state, D4)
    monkeypatch.undo()
    _next_run(world, state, D4)
    assert_recovered(state, world.night4, D4)


@pytest.mark.slow
def test_a_read_only_state_says_nothing_was_recorded(world: World, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from detector.cli import app

    with _tmpfs(tmp_path / "disk", "16m") as disk:
        state = _copy(world.base, disk / "state")
        before = (state / "state.sqlite").read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        result = CliRunner().invoke(app, _args(world, state, D4))
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert result.exit_code == 1, result.output
        assert "nothing was run or recorded" in result.stderr
        assert "recorded as failed" not in result.stderr
        assert (state / "state.sqlite").read_bytes() == before
        _next_run(world, state, D4)
        assert_recovered(state, world.night4, D4)
