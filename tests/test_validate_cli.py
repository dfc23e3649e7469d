"""Tests for ``detector validate``: counts, --json, --strict, --quarantine and clean errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import Result

from detector import schema as S
from tests import cli_run
from tests.cli_run import refusal_line as assert_clean_failure

# a warning would be one more line on the user's stderr (pytest captures it, so raise it)
pytestmark = pytest.mark.filterwarnings("error")

N_VALID = 20
N_DUP = 3
N_BAD = 2


def run(*args: object) -> Result:
    return cli_run.run("validate", *args)


def stderr_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def messy_log(tmp_path, make_requests, write_log) -> Path:
    """A JSONL log: N_VALID good rows, N_DUP replays of them, N_BAD broken rows."""
    df = make_requests(N_VALID, seed=11)
    path = write_log(pd.concat([df, df.iloc[:N_DUP]], ignore_index=True), tmp_path, "jsonl")
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"request_id": "bad-1", "account_id": "a", "status": "ok"\n')  # invalid JSON
        bad = {
            S.REQUEST_ID: "=bad-2",
            S.ACCOUNT_ID: "a",
            S.TIMESTAMP: "not a time",
            S.MODEL: "m",
            S.INPUT_TOKENS: 1,
            S.OUTPUT_TOKENS: 1,
            S.STATUS: "ok",
        }
        fh.write(json.dumps(bad) + "\n")
    return path


@pytest.fixture
def clean_log(tmp_path, make_requests, write_log) -> Path:
    return write_log(make_requests(N_VALID, seed=12), tmp_path / "clean", "csv", gz=True)


def table_value(stdout: str, key: str) -> str:
    """The value cell of the row ``key`` in the rich reconciliation table."""
    m = re.search(rf"^\W*{re.escape(key)}\s*\W\s*(.+?)\s*\W*$", stdout, re.MULTILINE)
    assert m, f"no {key!r} row in:\n{stdout}"
    return m.group(1)


def test_counts_are_printed(messy_log):
    result = run(messy_log)
    assert result.exit_code == 0, result.output
    assert table_value(result.stdout, "read") == str(N_VALID + N_DUP + N_BAD)
    assert table_value(result.stdout, "kept") == str(N_VALID)
    assert table_value(result.stdout, "duplicates") == str(N_DUP)
    assert table_value(result.stdout, "quarantined") == str(N_BAD)
    assert table_value(result.stdout, "reconciles") == "yes"
    assert "invalid JSON line" in result.stdout
    assert "unparseable timestamp: timestamp" in result.stdout
    assert result.stderr == ""


def test_json_output_parses_and_reconciles(messy_log):
    result = run(messy_log, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["read"], out["kept"], out["duplicates"], out["quarantined"]) == (
        N_VALID + N_DUP + N_BAD,
        N_VALID,
        N_DUP,
        N_BAD,
    )
    assert out["read"] == out["kept"] + out["duplicates"] + out["quarantined"]
    assert out["reconciles"] is True
    assert sum(out["quarantine_reasons"].values()) == out["quarantined"]
    assert out["files"] == 1
    assert out["missing_optional_columns"] == []
    assert [r["reason"] for r in out["first_reasons"]] == [
        "invalid JSON line",
        "unparseable timestamp: timestamp",
    ]
    assert {r["file"] for r in out["first_reasons"]} == {str(messy_log)}


def test_strict_fails_with_one_line_when_rows_are_quarantined(messy_log):
    result = run(messy_log, "--strict")
    line = assert_clean_failure(result)
    assert str(messy_log) in line
    assert f"{N_BAD} row(s) quarantined" in line
    assert "invalid JSON line" in line


def test_strict_passes_a_clean_log(clean_log):
    result = run(clean_log, "--strict", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quarantined"] == 0


def test_quarantine_option_writes_the_rows(messy_log, tmp_path):
    qpath = tmp_path / "q" / "quarantine.csv"
    qpath.parent.mkdir()
    result = run(messy_log, "--quarantine", qpath, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quarantine_file"] == str(qpath)
    q = pd.read_csv(qpath, dtype=str, keep_default_na=False)
    assert len(q) == N_BAD
    assert set(q[S.SOURCE_FILE]) == {str(messy_log)}
    assert "'=bad-2" in q[S.REQUEST_ID].tolist()  # neutralised for spreadsheets


def test_quiet_prints_nothing(clean_log):
    result = run(clean_log, "--quiet")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == ""


def test_nonexistent_path(tmp_path):
    missing = tmp_path / "no" / "such" / "log"
    line = assert_clean_failure(run(missing))
    assert str(missing) in line


def test_corrupt_parquet_names_the_file(tmp_path):
    bad = tmp_path / "log" / "part-0.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"PAR1 but not really")
    line = assert_clean_failure(run(bad.parent))
    assert str(bad) in line


def test_missing_required_header(tmp_path, make_requests, write_log):
    path = write_log(make_requests(3).drop(columns=[S.ACCOUNT_ID]), tmp_path, "csv")
    line = assert_clean_failure(run(path, "--json"))
    assert str(path) in line
    assert S.ACCOUNT_ID in line


def test_bad_date_option(clean_log):
    line = assert_clean_failure(run(clean_log, "--start", "2026-13-01"))
    assert "--start" in line


def test_window_prunes_partitions(tmp_path, make_requests, write_log):
    root = write_log(make_requests(30, seed=13), tmp_path / "log", "parquet", partitioned=True)
    corrupt = root / "date=2026-01-01" / "part-0.parquet"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"garbage")
    result = run(root, "--start", "2026-03-01", "--end", "2026-03-03", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["files"], out["pruned_files"], out["read"], out["kept"]) == (3, 1, 30, 30)
    # without the window the corrupt partition is read, and named
    line = assert_clean_failure(run(root))
    assert str(corrupt) in line


def test_console_script_usage_errors_are_one_line_and_exit_1() -> None:
    """The installed `detector` turns click usage errors into one stderr line and exit 1."""
    import subprocess
    import sys

    for args in (["score"], ["bogus"], ["evaluate", "/nonexistent.csv", "--labels", "x"]):
        proc = subprocess.run(
            [sys.executable, "-c", "from detector.cli import main; main()", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout


def test_quarantine_file_in_a_missing_directory_is_refused(
    tmp_path: Path, make_requests, write_log
) -> None:
    """Like every output, --quarantine's directory is refused, never created."""
    log = write_log(make_requests(20), tmp_path / "log", "parquet")
    line = assert_clean_failure(run(log, "--quarantine", tmp_path / "new" / "q.csv"))
    assert "--quarantine" in line and "does not exist" in line
    assert not (tmp_path / "new").exists()


def test_a_clean_log_still_publishes_its_empty_quarantine_file(
    tmp_path: Path, make_requests, write_log
) -> None:
    log = write_log(make_requests(20), tmp_path / "log", "parquet")
    result = run(log, "--quarantine", tmp_path / "q.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "q.csv").read_text().startswith("quarantine_reason,")
