"""The README's usage block is a script a new analyst runs top to bottom: every line must
name a real command with real options, and a line that reads the state store must come
after the line that creates it (session 26 found `train --state state/` before any
nightly run had made `state/`)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from detector.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def usage_lines() -> list[list[str]]:
    """The ``detector`` lines of the README's "Using it" block, as argument lists
    (continuation lines joined, trailing comments dropped)."""
    text = README.read_text(encoding="utf-8")
    block = text.split("## Using it", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines, current = [], ""
    for raw in block.splitlines():
        line = re.sub(r"\s+#.*$", "", raw).rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip().startswith("detector "):
            lines.append(shlex.split(current))
        current = ""
    return lines


def resolve(argv: list[str]) -> tuple[Any, list[str]]:
    """The command a README line runs, and the arguments left after its name (typer
    vendors its click: commands are told from groups by their ``commands``)."""
    command: Any = typer.main.get_command(app)
    rest = argv[1:]
    while rest and rest[0] in getattr(command, "commands", {}):
        command, rest = command.commands[rest[0]], rest[1:]
    return command, rest


def test_the_usage_block_has_the_commands_an_analyst_needs() -> None:
    used = {resolve(line)[0].name for line in usage_lines()}
    for needed in ("simulate", "train", "score", "evaluate", "nightly", "cases", "label"):
        assert needed in used, needed


@pytest.mark.parametrize("line", usage_lines(), ids=lambda argv: " ".join(argv[:3]))
def test_every_readme_line_names_a_real_command_and_real_options(line: list[str]) -> None:
    command, rest = resolve(line)
    assert not hasattr(command, "commands"), f"{' '.join(line)}: no such command"
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    used = {arg.split("=", 1)[0] for arg in rest if arg.startswith("-") and arg != "-"}
    assert used <= known, f"{' '.join(line)}: unknown options {sorted(used - known)}"


def test_a_line_reads_a_state_dir_only_after_one_that_creates_it() -> None:
    created: set[str] = set()
    for line in usage_lines():
        command, rest = resolve(line)
        if "--state" not in rest:
            continue
        state = rest[rest.index("--state") + 1]
        if command.name in ("nightly", "init"):  # the commands that create a store
            created.add(state)
        assert state in created, f"{' '.join(line)}: reads {state} before any line creates it"
