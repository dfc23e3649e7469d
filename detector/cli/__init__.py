"""The ``detector`` command: a typer app joined from one small module per command group."""

from __future__ import annotations

from detector.allocator import release_freed_memory_promptly

# before any command module below loads pyarrow: mimalloc reads its options once, then
release_freed_memory_promptly()

import sys  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from detector.cli import (  # noqa: E402
    cases_cmds,
    catalogue_cmd,
    clusters_cmd,
    evaluate_cmd,
    explain_cmd,
    features_cmd,
    history_cmds,
    model_cmds,
    nightly_cmd,
    queue_cmds,
    report_cmd,
    rules_cmds,
    similar_cmd,
    simulate_cmd,
    validate_cmd,
)
from detector.cli.base import PACKAGE, DetectorTyper, package_version  # noqa: E402

app = DetectorTyper(
    name="detector",
    help="Find capability extraction (distillation, probing, hydra clusters) in LLM API logs.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PACKAGE} {package_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Find capability extraction (distillation, probing, hydra clusters) in LLM API logs.

    Run `detector COMMAND --help` for a command's options and an example.
    """
    if ctx.invoked_subcommand is None:  # `detector` alone: the help, as for --help
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


for module in (
    validate_cmd,
    features_cmd,
    model_cmds,
    explain_cmd,
    history_cmds,
    evaluate_cmd,
    clusters_cmd,
    catalogue_cmd,
    report_cmd,
    cases_cmds,
    similar_cmd,
    queue_cmds,
    rules_cmds,
    nightly_cmd,
    simulate_cmd,
):
    module.register(app)


def main() -> None:
    """Console-script entry point.

    Usage mistakes (a missing argument, an unknown option, a path that does not exist)
    are bad input: the app itself (:class:`detector.cli.base.DetectorGroup`) prints one
    line on stderr and exits 1, as for every other user error.
    """
    sys.exit(app())
