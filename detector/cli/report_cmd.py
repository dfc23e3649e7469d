"""``detector report``: the analyst's self-contained HTML report of a scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from detector.cli import paths
from detector.cli.common import (
    EndOpt,
    JsonOpt,
    QuietOpt,
    StartOpt,
    console,
    fail,
    output_file_callback,
    parse_window,
    progress_reporter,
    user_errors,
)
from detector.output_paths import Output, check_paths
from detector.safe import atomic_write_text


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""

    @app.command("report")
    @user_errors
    def report_cmd(
        scores: Annotated[
            Path,
            typer.Argument(help="SCORES.csv from `detector score` or the nightly job."),
        ],
        out: Annotated[
            Path,
            typer.Option("--out", callback=output_file_callback, help="HTML file to write."),
        ],
        log: Annotated[
            Path | None,
            typer.Option(
                "--log",
                help="The request log that was scored: adds hourly/daily activity plots and "
                "sample prompts. Without it the report shows scores and features only.",
            ),
        ] = None,
        start: StartOpt = None,
        end: EndOpt = None,
        max_accounts: Annotated[
            int,
            typer.Option("--max-accounts", min=0, help="Flagged accounts given a detail section."),
        ] = 50,
        state: Annotated[
            Path | None,
            typer.Option("--state", help="State dir: show each account's case status."),
        ] = None,
        quiet: QuietOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Write the analyst's HTML report of a scoring: one file, works offline.

        Sections: summary, ranked flagged accounts, a drill-down per account (feature
        percentiles, activity plots, template concentration, sample prompts, cluster),
        clusters and a model card. No scripts and no network resources.

        Example: detector report scores.csv --log sim/requests --out report.html
        """
        from detector.report import render_report

        if not scores.is_file():
            raise fail(f"{scores}: no such scores file")
        if log is not None and not log.exists():
            raise fail(f"--log: {log} does not exist")
        first, last = parse_window(start, end)
        check_paths(
            [Output("--out", out)],
            [
                *paths.scores_inputs(scores),
                None if log is None else paths.log_input(log, "--log"),
                *paths.inputs(state=state),
            ],
        )
        with progress_reporter(quiet or as_json) as progress:
            # render_report is write_report with a progress bar for reading the log
            text = render_report(
                scores_path=scores,
                log=log,
                start=first,
                end=last,
                max_accounts=max_accounts,
                state=state,
                progress=progress,
            )
        path = atomic_write_text(out, text)
        if as_json:
            typer.echo(json.dumps({"report": str(path), "bytes": path.stat().st_size}))
        elif not quiet:
            console.print(f"report: {path} ({path.stat().st_size / 1024:,.0f} kB)", markup=False)
