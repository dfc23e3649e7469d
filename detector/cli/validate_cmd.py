"""``detector validate``: check a log against the contract and reconcile its rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from detector.cli import paths
from detector.cli.common import (
    EndOpt,
    JsonOpt,
    LogArg,
    QuietOpt,
    StartOpt,
    console,
    fail,
    parse_window,
    user_errors,
    warn_log,
)
from detector.ingest import IngestReport, iter_clean
from detector.output_paths import Output, check_paths


def print_report(report: IngestReport) -> None:
    """Rich table of the reconciliation counts and the first quarantine reasons."""
    table = Table(title="Request log reconciliation", show_header=False)
    for key in ("read", "kept", "duplicates", "quarantined"):
        table.add_row(key, f"{getattr(report, key):,}")
    if report.outside_window:
        table.add_row("outside --start/--end (not read)", f"{report.outside_window:,}")
    table.add_row(
        "files",
        f"{len(report.files):,} read, {report.pruned_files:,} pruned by date, "
        f"{report.ignored_files:,} skipped by name, {report.empty_files:,} empty",
    )
    table.add_row("reconciles", "yes" if report.reconciles() else "[red]NO[/red]")
    missing = report.missing_optional_described
    table.add_row("missing optional columns", "; ".join(missing) if missing else "none")
    console.print(table)
    if report.reasons:
        reasons = Table(title="Quarantine reasons")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for reason, count in report.reasons.most_common(10):
            reasons.add_row(reason, f"{count:,}")
        console.print(reasons)
    if report.quarantine_path:
        console.print(f"quarantined rows: {report.quarantine_path}", markup=False)


def no_rows_message(
    log: Path, report: IngestReport, start: dt.date | None, end: dt.date | None
) -> str:
    """Why a read of ``log`` kept no row, as one line with the counts."""
    window = ""
    if start is not None or end is not None:
        window = f" between {start or 'the first day'} and {end or 'the last day'} (UTC)"
    why = ""
    if report.first_reasons:
        why = f"; first quarantine reason: {report.first_reasons[0].get('reason', '?')}"
    return (
        f"{log}: no valid request rows{window}: read {report.read:,}, "
        f"quarantined {report.quarantined:,}{why}"
    )


def register(app: typer.Typer) -> None:
    """Add the ``validate`` command to ``app``."""

    @app.command("validate")
    @user_errors
    def validate(
        log: LogArg,
        start: StartOpt = None,
        end: EndOpt = None,
        quarantine: Annotated[
            Path | None, typer.Option("--quarantine", help="Write quarantined rows to this CSV.")
        ] = None,
        strict: Annotated[
            bool, typer.Option("--strict", help="Exit 1 when any row is quarantined.")
        ] = False,
        as_json: JsonOpt = False,
        quiet: QuietOpt = False,
    ) -> None:
        """Check LOG against the contract; print read/kept/duplicates/quarantined.

        Example: detector validate data/sim/requests --start 2026-11-01 --end 2026-11-07
        """
        first, last = parse_window(start, end)
        if quarantine is not None:
            check_paths([Output("--quarantine", quarantine)], [paths.log_input(log)])
        report = IngestReport()
        for _ in iter_clean(
            log,
            start=first,
            end=last,
            quarantine_path=quarantine,
            report=report,
        ):
            pass
        if as_json:
            out = report.to_dict()
            out["first_reasons"] = report.first_reasons
            typer.echo(json.dumps(out, indent=2))
        elif not quiet:
            print_report(report)
        if not quiet:
            warn_log(report)
        if not report.reconciles():  # pragma: no cover - an invariant, guarded by tests
            raise fail(f"{log}: counts do not reconcile ({report.to_dict()})")
        if not report.kept:
            raise fail(no_rows_message(log, report, first, last))
        if strict and report.quarantined:
            first = report.first_reasons[0] if report.first_reasons else {}
            raise fail(
                f"{first.get('file', log)}: {report.quarantined:,} row(s) quarantined, first: "
                f"{first.get('reason', '?')}; see --quarantine for every row"
            )
