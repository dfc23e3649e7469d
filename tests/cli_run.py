"""Running the ``detector`` CLI in-process from tests, and what a clean refusal looks like.

The contract: every command exits 0 on success and, on bad input, 1 with one line on
stderr starting ``error:`` and no traceback. These helpers hold that check once.
"""

from __future__ import annotations

from click.testing import Result
from typer.testing import CliRunner

from detector.cli import app


def run(*args: object) -> Result:
    """Invoke ``detector ARGS...`` in-process (every argument as text)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def ok(*args: object) -> Result:
    """Run a command that must succeed, without a traceback on stderr (stdout may quote
    a prompt that holds one: logs carry developers' pasted errors)."""
    result = run(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def refusal_line(result: Result, *needles: object) -> str:
    """Check a refused run: exit 1 through ``SystemExit`` (not an exception the command
    let escape, which the in-process runner would also report as 1), one ``error:`` line
    on stderr holding every needle, no traceback. Returns the line."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
    return lines[0]


def clean_failure(*args: object, needles: tuple[object, ...] = ()) -> str:
    """Run a command that must be refused (:func:`refusal_line`). Returns the line."""
    return refusal_line(run(*args), *needles)
