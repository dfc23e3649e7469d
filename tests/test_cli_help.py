"""Help that reads like a well-kept typer/click CLI, and usage mistakes answered with one
line and exit 1 (issue 11, "Help").
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from typing import Any, get_args

import pytest
import typer
from typer.testing import CliRunner, Result

from detector import schema as S
from detector.cli import app, cases_cmds, simulate_cmd
from detector.store import CASE_STATUSES

ROOT = typer.main.get_command(app)
COMMANDS = sorted(ROOT.commands)  # type: ignore[attr-defined]
WIDE = {"COLUMNS": "250", "TERMINAL_WIDTH": "250"}


def run(*args: object, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def assert_clean_failure(result: Result, *needles: str) -> str:
    """Exit 1, exactly one ``error:`` line on stderr naming ``needles``, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def help_text(*command: str) -> str:
    result = run(*command, "--help", env=WIDE)
    assert result.exit_code == 0, result.output
    return result.stdout


def params(command: str) -> list[Any]:
    return list(ROOT.commands[command].params)  # type: ignore[attr-defined]


# --- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_shows_no_type_label_for_flags_and_no_braces(command: str) -> None:
    text = help_text(*([command] if command else []))
    assert "<bool>" not in text
    usage = next(line for line in text.splitlines() if "Usage: detector" in line)
    assert "{" not in usage and "}" not in usage, usage


@pytest.mark.parametrize("command", COMMANDS)
def test_usage_line_names_arguments_in_capitals(command: str) -> None:
    usage = next(line for line in help_text(command).splitlines() if "Usage:" in line)
    for param in params(command):
        if param.param_type_name != "argument":
            continue
        name = param.name.upper()
        assert (name if param.required else f"[{name}]") in usage, usage
        assert param.name not in usage.split(command, 1)[1], usage


@pytest.mark.parametrize("command", COMMANDS)
def test_required_parameters_are_marked_and_only_they(command: str) -> None:
    text = help_text(command)
    required = [p for p in params(command) if p.required]
    assert text.count("[required]") == len(required), text
    # a "(required)" in prose means a check click does not know about
    assert "(required" not in text and "required)" not in text, text


@pytest.mark.parametrize(
    ("command", "option", "choices"),
    [
        ("simulate", "--format", ("parquet", "jsonl", "csv")),
        ("label", "--verdict", S.LABELS),
        ("cases", "--status", CASE_STATUSES),
        ("score", "--engine", ("local", "spark")),
    ],
)
def test_choice_options_show_their_choices(command: str, option: str, choices: Any) -> None:
    rows = help_text(command).split("Options")[-1].splitlines()
    line = next(line for line in rows if f" {option} " in line)
    assert "<" + "|".join(choices) + ">" in line, line
    assert "<str>" not in line


def test_the_simulate_format_choices_are_the_writers_formats() -> None:
    from detector.simulate.writer import FORMATS

    assert get_args(simulate_cmd.LogFormat) == FORMATS
    assert get_args(cases_cmds.Verdict) == S.LABELS


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_dash_h_is_help(command: str) -> None:
    words = [command] if command else []
    assert run(*words, "-h", env=WIDE).stdout == help_text(*words)


def test_version_is_the_package_version() -> None:
    result = run("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"detector {importlib.metadata.version('detector')}"


def test_detector_alone_prints_the_help() -> None:
    result = run(env=WIDE)
    assert result.exit_code == 0, result.output
    assert result.stdout == help_text()


def test_help_paragraphs_are_not_hard_wrapped() -> None:
    """A docstring paragraph wrapped in the source is reflowed to the terminal's width."""
    text = help_text("explain")
    assert "and up to five sample prompts." in text, text
    # a paragraph marked "do not rewrap" keeps its lines, without the marker
    nightly = help_text("nightly")
    assert re.search(r"Exit codes:\s*\n\s+0\s+ok\s*\n", nightly), nightly
    assert "\b" not in nightly


# --- usage errors: one line, exit 1, for the console script and CliRunner alike -------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["score"], "LOG"),
        (["bogus"], "bogus"),
        (["report", "scores.csv"], "--out"),
        (["simulate", "x", "--format", "xml"], "--format"),
        (["label", "a", "--verdict", "maybe", "--note", "n", "--state", "s"], "--verdict"),
        (["cases", "--status", "pending", "--state", "s"], "--status"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_1(args: list[str], needle: str) -> None:
    assert_clean_failure(run(*args), needle)


def test_the_cli_starts_without_loading_the_scorer() -> None:
    """An analyst's `detector cases` or `--help` must not wait for scikit-learn, SciPy and
    Jinja2 to load (seconds on a busy machine): each command imports what it runs."""
    heavy = ("sklearn", "scipy", "jinja2", "detector.scoring", "detector.model")
    code = f"import sys, detector.cli; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
