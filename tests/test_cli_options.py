"""Every option checked before any work is done (issue 11, "Exit codes and checks").

No population is simulated here: commands that would start work have their work
functions replaced by ones that fail the test, so an option rejected only after work
started is caught however fast the machine is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.cli import app
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


# --- number options: finite, and refused by name ---------------------------------------------


def float_options() -> list[tuple[list[str], str]]:
    """Every float option of every command: (the command's words, the option)."""
    import typer

    def walk(command: object, words: list[str]) -> list[tuple[list[str], object]]:
        subs = getattr(command, "commands", None)
        if subs is None:
            return [(words, command)]
        return [found for name, sub in subs.items() for found in walk(sub, [*words, name])]

    return [
        (words, param.opts[0])
        for words, command in walk(typer.main.get_command(app), [])
        for param in command.params  # type: ignore[attr-defined]
        if getattr(param, "type_descriptor", None) is not None
        and param.type_descriptor.annotation is float
    ]


def test_every_float_option_is_found() -> None:
    """The walk below sees the options it must, so it cannot pass by finding none."""
    found = {option for _, option in float_options()}
    assert {"--threshold", "--min-overlap", "--psi-threshold", "--volume-scale"} <= found


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_no_float_option_takes_nan_or_inf(no_work: None, value: str) -> None:
    """Red team: ``--threshold nan`` was refused as "less than or equal to 100" (nan
    compares false to everything) and ``--psi-threshold inf`` was taken. Every float
    option, today's and any added later, must refuse both as not finite, by name."""
    for words, option in float_options():
        result = run(*words, option, value)
        assert_clean_failure(result, option, "must be a finite number", f"(got {value})")


def test_threshold_nan_names_the_range() -> None:
    line = assert_clean_failure(run("score", "x", "--model", "m", "--threshold", "nan"))
    assert line.startswith(
        "error: Invalid value for '--threshold': must be a finite number in the range "
        "0<=x<=100 (got nan)"
    ), line


def test_finite_float_keeps_numbers_in_range() -> None:
    from detector.cli.common import finite_float

    assert finite_float(0, 100)("5.5") == 5.5
    assert finite_float(0, 100)("0") == 0.0 and finite_float(0, 100)("100") == 100.0
    assert finite_float()("-1e9") == -1e9
    for bad in ("100.5", "-0.1", "nan", "1e400", "x"):
        with pytest.raises(Exception, match="must be a finite number in the range 0<=x<=100"):
            finite_float(0, 100)(bad)
