"""The ``detector`` command: a typer app joined from one small module per command group."""

from __future__ import annotations

import sys

import typer

from detector.cli import (
    cases_cmds,
    catalogue_cmd,
    clusters_cmd,
    evaluate_cmd,
    explain_cmd,
    features_cmd,
    model_cmds,
    nightly_cmd,
    report_cmd,
    similar_cmd,
    simulate_cmd,
    validate_cmd,
)
from detector.cli.common import err_console

app = typer.Typer(
    name="detector",
    help="Find capability extraction (distillation, probing, hydra clusters) in LLM API logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Find capability extraction (distillation, probing, hydra clusters) in LLM API logs."""


for module in (
    validate_cmd,
    features_cmd,
    model_cmds,
    explain_cmd,
    evaluate_cmd,
    clusters_cmd,
    catalogue_cmd,
    report_cmd,
    cases_cmds,
    similar_cmd,
    nightly_cmd,
    simulate_cmd,
):
    module.register(app)


def main() -> None:
    """Console-script entry point.

    Usage mistakes (a missing argument, an unknown option, a path that does not exist)
    are bad input: one line on stderr and exit 1, as for every other user error,
    instead of click's usage box and exit 2.
    """
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        err_console.print("error: aborted", markup=False)
        sys.exit(130)
    except typer.exceptions.TyperException as exc:  # click's usage errors derive from it
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        err_console.print(f"error: {' '.join(message.split())}{hint}", markup=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
