"""Output paths that would destroy something are refused before anything is written.

Each case is a red-team reproduction: an ``--out`` beside the log it reads replaced the
log with the Parquet twin of the scores, two options named one file, a report replaced
its own scores, a FIFO was replaced by a regular file -- all with exit 0. Every one must
now fail with exit 1 and one stderr line naming the option and the path, and leave the
inputs byte for byte as they were, with no new file inside the log directory.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from detector.errors import UserError
from detector.output_paths import Input, Output, check_paths, partitioned_log_around
from tests.cli_run import clean_failure as refused
from tests.cli_run import ok, run

LOG_ROWS = 3000


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` (hidden ones too) and the SHA-256 of its bytes."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A simulated population, a flat one-file log cut from it, and a model trained on it."""
    root = tmp_path_factory.mktemp("outputs")
    sim = root / "sim"
    ok("simulate", sim, "--accounts", 300, "--days", 4, "--seed", 5, "--quiet")
    first = sorted((sim / "requests").rglob("part-*.parquet"))[0]
    small = root / "small.parquet"
    pq.write_table(pq.read_table(first).slice(0, LOG_ROWS), small)
    model = root / "model.bundle"
    accounts = sim / "accounts.parquet"
    ok("train", small, "--model", model, "--accounts", accounts, "--quiet")
    return {"sim": sim, "small": small, "model": model, "accounts": accounts}


@pytest.fixture
def log(world: dict[str, Path], tmp_path: Path) -> Path:
    """A flat log directory ``L`` holding one Parquet file."""
    directory = tmp_path / "L"
    directory.mkdir()
    (directory / "log.parquet").write_bytes(world["small"].read_bytes())
    return directory


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty output directory beside the log."""
    directory = tmp_path / "o"
    directory.mkdir()
    return directory


def score_args(world: dict[str, Path], log: Path) -> list[object]:
    return ["score", log, "--model", world["model"], "--accounts", world["accounts"], "-q"]


# --- the reproductions ---------------------------------------------------------------------


def test_score_out_beside_the_log_keeps_the_log(world: dict[str, Path], log: Path) -> None:
    """Repro 1: the twin of L/log.csv is L/log.parquet, the log itself."""
    before = snapshot(log)
    refused(*score_args(world, log), "--out", log / "log.csv", needles=("--out", log / "log.csv"))
    assert snapshot(log) == before
    ok("validate", log, "-q")  # no sidecar landed in the log


def test_any_output_inside_the_log_directory_is_refused(
    world: dict[str, Path], log: Path, out: Path
) -> None:
    """Repro 6: a quarantine file inside L would be read back as part of the log."""
    before = snapshot(log)
    quarantine = log / "q.csv"
    args = (*score_args(world, log), "--out", out / "s.csv", "--quarantine", quarantine)
    line = refused(*args, needles=("--quarantine", quarantine))
    assert "inside the log directory" in line
    refused("validate", log, "--quarantine", quarantine, needles=("--quarantine", quarantine))
    refused("train", log, "--model", log / "m.bundle", needles=("--model", log / "m.bundle"))
    assert snapshot(log) == before
    assert snapshot(out) == {}


def test_an_output_through_a_link_into_the_log_is_refused(
    world: dict[str, Path], log: Path, out: Path
) -> None:
    """Paths are compared resolved: a symlink to L, or a hard link to its file."""
    before = snapshot(log)
    (out / "link").symlink_to(log, target_is_directory=True)
    refused(*score_args(world, log), "--out", out / "link" / "s.csv", needles=("--out",))
    os.link(log / "log.parquet", out / "hard.parquet")
    flat = log / "log.parquet"  # LOG given as the file itself: its hard link is the same file
    args = ("features", flat, "--out", out / "hard.parquet")
    refused(*args, needles=("--out", out / "hard.parquet", "is the input LOG"))
    assert snapshot(log) == before


def test_features_out_onto_the_log_keeps_the_log(log: Path) -> None:
    """Repro 2: features --out L/log.parquet replaced the log with the feature table."""
    before = snapshot(log)
    target = log / "log.parquet"
    refused("features", log, "--out", target, needles=("--out", target))
    refused("features", target, "--out", target, needles=("--out", target, "is the input LOG"))
    assert snapshot(log) == before


def test_features_out_must_be_parquet(log: Path, out: Path) -> None:
    """A .csv --out got Parquet bytes."""
    refused("features", log, "--out", out / "f.csv", needles=("--out", out / "f.csv", ".parquet"))
    assert snapshot(out) == {}


def test_report_never_replaces_the_scores_it_reads(
    world: dict[str, Path], log: Path, out: Path
) -> None:
    """Repro 3: report s.csv --out s.csv replaced the scores with HTML (and its twin too)."""
    scores = out / "s.csv"
    ok(*score_args(world, log), "--out", scores)
    before = snapshot(out)
    refused("report", scores, "--out", scores, needles=("--out", scores, "is the input SCORES"))
    twin = out / "s.parquet"
    refused("report", scores, "--out", twin, needles=("--out", twin, "Parquet twin"))
    refused("report", scores, "--log", log, "--out", log / "r.html", needles=(log / "r.html",))
    assert snapshot(out) == before


def test_two_outputs_on_one_path_are_refused(world: dict[str, Path], log: Path, out: Path) -> None:
    """Repros 4 and 5: --quarantine or --scores-parquet on --out (or on its twin)."""
    same = out / "y.csv"
    args = score_args(world, log)
    line = refused(*args, "--out", same, "--quarantine", same, needles=("--quarantine", same))
    assert "--out" in line and "same file" in line
    refused(*args, "--out", same, "--scores-parquet", same, needles=("--scores-parquet", same))
    twin = out / "y.parquet"
    line = refused(*args, "--out", same, "--scores-parquet", twin, needles=("--scores-parquet",))
    assert "Parquet twin" in line
    sidecar = out / "y.meta.json"
    refused(*args, "--out", same, "--quarantine", sidecar, needles=("--quarantine", sidecar))
    assert snapshot(out) == {}


def test_an_output_onto_an_input_table_is_refused(world: dict[str, Path], log: Path) -> None:
    """--model onto --accounts, --quarantine onto --accounts: the table would be gone."""
    accounts = world["accounts"]
    digest = hashlib.sha256(accounts.read_bytes()).hexdigest()
    args = ("train", log, "--accounts", accounts)
    refused(*args, "--model", accounts, needles=("--model", accounts, "--accounts"))
    refused(
        *args,
        "--model",
        log.parent / "m.bundle",
        "--quarantine",
        accounts,
        needles=("--quarantine",),
    )
    assert hashlib.sha256(accounts.read_bytes()).hexdigest() == digest


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="the platform has no FIFOs")
def test_a_fifo_is_never_replaced(world: dict[str, Path], log: Path, out: Path) -> None:
    """Repro 7: the atomic rename replaced a FIFO (as root, a device) with a regular file."""
    fifo = out / "f.csv"
    os.mkfifo(fifo)
    needles = ("--out", fifo, "FIFO")
    refused(*score_args(world, log), "--out", fifo, needles=needles)
    scores = out / "s.csv"
    refused(*score_args(world, log), "--out", scores, "--quarantine", fifo, needles=(fifo,))
    os.mkfifo(out / "f.parquet")
    refused("features", log, "--out", out / "f.parquet", needles=("--out", "FIFO"))
    refused("catalogue", "--out", fifo, needles=("--out", fifo, "FIFO"))
    sim = out / "sim"
    sim.mkdir()
    os.mkfifo(sim / "labels.csv")
    refused("simulate", sim, "--accounts", 5, "--days", 1, needles=("OUT_DIR", "FIFO"))
    assert not (sim / "requests").exists()
    for path in (fifo, out / "f.parquet", sim / "labels.csv"):
        assert stat.S_ISFIFO(os.stat(path).st_mode), f"{path} was replaced"
    assert not scores.exists()


def test_a_directory_where_a_file_goes_is_refused(
    world: dict[str, Path], log: Path, out: Path
) -> None:
    (out / "q.csv").mkdir()
    args = (*score_args(world, log), "--out", out / "s.csv", "--quarantine", out / "q.csv")
    refused(*args, needles=("--quarantine", out / "q.csv", "is a directory"))
    assert not (out / "s.csv").exists()


def test_output_directories_are_refused_never_created(
    world: dict[str, Path], log: Path, out: Path, tmp_path: Path
) -> None:
    """The documented rule for --out holds for --quarantine and --model too."""
    missing = tmp_path / "nodir"
    args = (*score_args(world, log), "--out", out / "s.csv")
    refused(*args, "--quarantine", missing / "q.csv", needles=("--quarantine", missing))
    refused("train", log, "--model", missing / "sub" / "m.bundle", needles=("--model",))
    refused("train", log, "--model", missing / "sub" / "models/", needles=("--model",))
    assert not missing.exists()
    assert snapshot(out) == {}


def test_nightly_state_inside_the_logs_names_the_cause(world: dict[str, Path]) -> None:
    """It created the state and then failed on '4 file(s) of unknown format'."""
    logs = world["sim"] / "requests"
    before = snapshot(logs)
    state = logs / "state"
    args = ("nightly", "--logs", logs, "--date", "2026-11-04", "--state", state, "-q")
    result = run(*args)
    assert result.exit_code == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--state" in lines[0] and "inside the log directory" in lines[0]
    assert not state.exists()
    assert snapshot(logs) == before


@pytest.fixture
def hive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A date=-partitioned log ``gw`` (one JSONL row), the working directory its parent."""
    day = tmp_path / "gw" / "date=2026-11-01"
    day.mkdir(parents=True)
    row = '{"request_id":"r","account_id":"a","timestamp":"2026-11-01T01:00:00Z","model":"m",'
    (day / "part-0.jsonl").write_text(row + '"input_tokens":1,"output_tokens":1,"status":"ok"}\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path / "gw"


@pytest.mark.parametrize("state", ["gw/state", "gw", "gw/date=2026-11-01/st", "gw/_state/x"])
def test_init_state_inside_a_partitioned_log_is_refused(hive: Path, state: str) -> None:
    """Red team: ``init --state gw/state`` created gw/state/state.sqlite inside the log,
    and every later read of gw failed on '1 file(s) of unknown format'."""
    before = snapshot(hive)
    line = refused("init", "--state", state)
    assert line == (
        f"error: --state {state} lies inside gw, a log directory (it holds date= partitions), "
        "and every run reading that log would read what is written there as part of it; "
        "give a directory outside gw"
    )
    assert snapshot(hive) == before and not (hive / "state").exists()
    ok("validate", "gw", "-q")  # the log still reads


def test_nightly_state_inside_another_partitioned_log_is_refused(hive: Path) -> None:
    """--state inside a log other than --logs: found by its partitions, as for init."""
    other = hive.parent / "other"
    (other / "date=2026-11-01").mkdir(parents=True)
    args = ("nightly", "--logs", other, "--date", "2026-11-01", "--state", "gw/st", "-q")
    refused(*args, needles=("--state gw/st lies inside gw, a log directory",))
    assert not (hive / "st").exists()


def test_init_beside_a_partitioned_log_creates_the_state(hive: Path) -> None:
    ok("init", "--state", "state", "-q")  # a sibling of gw, not inside it
    assert (hive.parent / "state" / "state.sqlite").is_file()
    ok("init", "--state", hive.parent / "deeper" / "new" / "state", "-q")  # parents created


def test_partitioned_log_around_finds_the_root_above_a_partition(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    (root / "date=2026-11-01").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    assert partitioned_log_around(root / "date=2026-11-01" / "x" / "y") == root.resolve()
    assert partitioned_log_around(root) == root.resolve()
    assert partitioned_log_around(tmp_path / "elsewhere" / "state") is None
    assert partitioned_log_around(tmp_path) is None


# --- ordinary use still works ----------------------------------------------------------------


def test_outputs_in_their_own_directory_are_written(
    world: dict[str, Path], log: Path, out: Path
) -> None:
    before = snapshot(log)
    scores = out / "s.csv"
    ok(*score_args(world, log), "--out", scores, "--scores-parquet", out / "copy.parquet")
    expected = {"s.csv", "s.parquet", "s.features.parquet", "s.clusters.json", "s.meta.json"}
    expected |= {"s.space.parquet", "s.quarantine.csv", "copy.parquet"}
    assert set(snapshot(out)) == expected
    ok("features", log, "--out", out / "f.parquet", "-q")
    ok("report", scores, "--log", log, "--out", out / "r.html", "-q")
    ok("validate", log, "--quarantine", out / "q.csv", "-q")
    ok("train", log, "--model", out / "models", "-q")  # a new model directory, one level
    assert any((out / "models").glob("*.bundle"))
    again = ok(*score_args(world, log), "--out", scores)  # a regular file is replaced
    assert again.exit_code == 0
    assert snapshot(log) == before


# --- the rule itself -------------------------------------------------------------------------


def test_check_paths_skips_options_not_given_and_accepts_new_files(tmp_path: Path) -> None:
    check_paths([Output("--out", tmp_path / "a.csv"), None], [None, Input("LOG", tmp_path / "x")])


def test_check_paths_refuses_a_regular_file_where_a_directory_goes(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file")
    with pytest.raises(UserError, match=r"--state .* not a directory"):
        check_paths([Output("--state", tmp_path / "state", directory=True)])
