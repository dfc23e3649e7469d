"""Every option checked before any work is done (issue 11, "Exit codes and checks").

No population is simulated here: commands that would start work have their work
functions replaced by ones that fail the test, so an option rejected only after work
started is caught however fast the machine is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_run import refusal_line as assert_clean_failure
from tests.cli_run import run

# --- every option checked before any work ----------------------------------------------------


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every command's first piece of work fail the test."""

    def work(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("work started before the options were checked")

    import detector.report
    import detector.scoring
    from detector.cli import explain_cmd, features_cmd, validate_cmd

    # the commands import the scorer and the report when they run (a fast CLI start)
    monkeypatch.setattr(detector.scoring, "score", work)
    monkeypatch.setattr(detector.scoring, "train", work)
    monkeypatch.setattr(features_cmd, "feature_builder", work)
    monkeypatch.setattr(validate_cmd, "iter_clean", work)
    monkeypatch.setattr(detector.report, "render_report", work)
    monkeypatch.setattr(explain_cmd, "explanation", work)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "log"
    path.mkdir()
    return path


def bad_options(log: Path, tmp: Path) -> list[tuple[list[object], str]]:
    scores = tmp / "scores.csv"
    scores.write_text("account_id\n")
    model = ["--model", tmp / "m.bundle"]
    out = ["--out", tmp / "s.csv"]
    window = ["--start", "2026-11-05", "--end", "2026-11-01"]
    return [
        (["score", log, *model, *out, *window], "--start 2026-11-05 is after --end"),
        (["train", log, *model, *window], "is after --end"),
        (["features", log, "--out", tmp / "f.parquet", *window], "is after --end"),
        (["validate", log, *window], "is after --end"),
        (["report", scores, "--out", tmp / "r.html", *window], "is after --end"),
        (["explain", "a", "--scores", scores, *window], "is after --end"),
        (["score", log, *model, *out, "--threshold", 150], "--threshold"),
        (["score", log, *model, *out, "--threshold", -1], "--threshold"),
        (["score", log, *model, *out, "--alert-budget", "lots"], "--alert-budget"),
        (["score", log, *model, *out, "--alert-budget", "200%"], "--alert-budget"),
        (["train", log, *model, "--alert-budget", "lots"], "--alert-budget"),
        (["score", log, *model, "--out", tmp / "nope" / "dir" / "s.csv"], "nope"),
        (["score", log, *model, *out, "--scores-parquet", tmp / "nope" / "s.parquet"], "nope"),
        (["features", log, "--out", tmp / "nope" / "f.parquet"], "nope"),
        (["report", scores, "--out", tmp / "nope" / "r.html"], "nope"),
        (["catalogue", "--out", tmp / "nope" / "features.md"], "nope"),
        (["score", log, *model, "--out", tmp], "is a directory"),
        (["score", log, *model, "--out", tmp / "s.parquet"], "Parquet twin"),
        (["report", scores, "--out", tmp / "r.html", "--max-accounts", -1], "--max-accounts"),
    ]


def test_bad_options_fail_before_any_work(no_work: None, log: Path, tmp_path: Path) -> None:
    for args, needle in bad_options(log, tmp_path):
        assert_clean_failure(run(*args), needle)
    assert not (tmp_path / "nope").exists(), "an output directory was created"


def test_a_window_with_no_data_is_an_error(tmp_path: Path, make_requests, write_log) -> None:
    log = write_log(make_requests(30), tmp_path / "log", "parquet", partitioned=True)
    assert run("validate", log, "--json").exit_code == 0
    line = assert_clean_failure(
        run("validate", log, "--start", "2030-01-01", "--end", "2030-01-02"), str(log)
    )
    assert "2030-01-01" in line and "no valid request rows" in line
