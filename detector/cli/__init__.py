"""The ``detector`` command: a typer app joined from one small module per command group."""

from __future__ import annotations

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
    validate_cmd,
)

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
    nightly_cmd,
):
    module.register(app)

try:  # the simulator is its own command group
    from detector.cli import simulate_cmd

    simulate_cmd.register(app)
except ImportError:  # pragma: no cover - during bootstrap only
    pass


def main() -> None:
    """Console-script entry point."""
    app()
