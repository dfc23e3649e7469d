"""``detector nightly`` (the batch job), ``detector runs`` (its history) and ``detector init``
(an empty state directory)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from detector.cli.common import JsonOpt, QuietOpt, console, fail, number_option, user_errors
from detector.config import DEFAULT
from detector.engines.cli import EngineName, EngineOpt, SparkConfOpt, SparkMasterOpt, engine_options
from detector.errors import UserError
from detector.nightly.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_LOCKED,
    EXIT_OK,
    LockHeldError,
    PublishError,
    failure_recorded,
)
from detector.nightly.summary import NightlySummary, default_state_dir, run_history
from detector.output_paths import Output, check_outside_logs, check_paths
from detector.safe import safe_terminal, truncate
from detector.store import DB_FILENAME, Store

NIGHTLY_HELP = (
    "Score the --window-days days ending on --date from the log under --logs; write "
    "STATE/runs/DATE/ and alert only on what is new.\n\n"
    "Outputs, published all at once: scores.csv (+ sidecars), alerts.jsonl, report.html, "
    "quarantine.csv, summary.json. One log line per stage on stderr: JSON objects when stderr "
    "is not a terminal or with --log-json, key=value text at a terminal. "
    "Re-running a date reuses the model that scored it: same scores.csv, no alert twice.\n\n"
    "\b\n"
    "Exit codes:\n"
    f"  {EXIT_OK}  ok\n"
    f"  {EXIT_BAD_INPUT}  bad input: missing day partition, unreadable log, bad date/option, "
    "unusable state dir\n"
    f"  {EXIT_LOCKED}  another run holds STATE/nightly.lock\n"
    f"  {EXIT_INTERNAL}  internal error (the line says whether the run was recorded as failed; "
    "DETECTOR_DEBUG=1: traceback)\n\n"
    "Example: detector nightly --logs /data/gateway --date 2026-11-10 --state /var/lib/detector"
)


def _emit_error(message: str, code: int, log_json: bool) -> typer.Exit:
    """One error line on stderr (a JSON object with --log-json); the Exit to raise."""
    text = " ".join(str(message).split())
    if not log_json:
        return fail(text, code)
    record = {
        "ts": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "level": "error",
        "exit_code": code,
        "error": text,
    }
    sys.stderr.write(json.dumps(record) + "\n")
    sys.stderr.flush()
    return typer.Exit(code)


def _internal_error_line(exc: Exception) -> str:
    """What went wrong and, truthfully, what the store now says about the run."""
    what = f"internal error ({type(exc).__name__}: {exc})"
    if isinstance(exc, PublishError):
        what = f"internal error after the commit: {exc}"
        recorded = ""
    elif (run_id := failure_recorded(exc)) is not None:
        recorded = f"; the run is recorded as failed (run {run_id})"
    else:
        recorded = (
            "; nothing was recorded in the state store (the failure came before the run "
            "was recorded, or recording it failed too)"
        )
    return f"{what}{recorded}; rerun with DETECTOR_DEBUG=1 for the traceback"


def _summary_line(summary: NightlySummary) -> str:
    alerts = summary.alerts
    model = summary.model
    return (
        f"nightly {summary.run_date} ok: {summary.accounts:,} accounts, "
        f"{summary.flagged:,} flagged, {sum(alerts.values())} alert(s) "
        f"({alerts.get('new', 0)} new, {alerts.get('rise', 0)} rise); "
        f"model {model['version']} ({model['reason']}); outputs: {summary.out_dir}"
    ) + "".join(f"; REDUCED FEATURES: {why}" for why in summary.reduced_features)


def register(app: typer.Typer) -> None:
    """Add ``nightly`` and ``runs`` to ``app``."""

    @app.command("nightly", help=NIGHTLY_HELP)
    def nightly_cmd(
        logs: Annotated[
            Path,
            typer.Option("--logs", help="Root of the hive-partitioned log (date=YYYY-MM-DD/)."),
        ],
        date: Annotated[str, typer.Option("--date", help="Last day of the window (YYYY-MM-DD).")],
        state: Annotated[
            Path,
            typer.Option("--state", help="State dir: store, models/, runs/, nightly.lock."),
        ],
        window_days: Annotated[
            int, typer.Option("--window-days", min=1, help="Days in the window, ending on DATE.")
        ] = DEFAULT.window_days,
        accounts: Annotated[
            Path | None,
            typer.Option(
                "--accounts",
                help="Account table (Parquet/JSONL/CSV). Recorded in the state store: later "
                "runs without --accounts reuse it.",
            ),
        ] = None,
        no_accounts: Annotated[
            bool,
            typer.Option(
                "--no-accounts",
                help="Score without an account table and forget the recorded one (reduced "
                "features: no account age, card or org links).",
            ),
        ] = False,
        allow_missing: Annotated[
            bool,
            typer.Option(
                "--allow-missing",
                help="Score even if day partitions are missing (recorded in summary.json).",
            ),
        ] = False,
        retrain_days: Annotated[
            int,
            typer.Option(
                "--retrain-days",
                min=0,
                help="Retrain when the model's training data ends more than this many days "
                "before DATE.",
            ),
        ] = DEFAULT.retrain_days,
        psi_threshold: Annotated[
            float,
            number_option(
                "--psi-threshold",
                low=0,
                help="Retrain when a feature's PSI against the training population exceeds this.",
            ),
        ] = DEFAULT.psi_threshold,
        force_retrain: Annotated[
            bool, typer.Option("--force-retrain", help="Train a new model tonight.")
        ] = False,
        refit_topics: Annotated[
            bool,
            typer.Option(
                "--refit-topics",
                help="When tonight retrains, fit a new topic model too (a retrain keeps a "
                f"topic model fitted within the last {DEFAULT.topic_refit_days} days).",
            ),
        ] = False,
        alert_budget: Annotated[
            str | None,
            typer.Option(
                "--alert-budget",
                help="Flag at most this many accounts tonight: a count (50) or a share (2%). "
                "Default: the model's own threshold.",
            ),
        ] = None,
        lock_timeout: Annotated[
            float,
            number_option(
                "--lock-timeout",
                low=0,
                help="Hours after which a run still holding the lock is reported as probably "
                "hung (it is never taken over; the lock is freed when its process exits).",
            ),
        ] = DEFAULT.lock_timeout_hours,
        log_json: Annotated[
            bool,
            typer.Option(
                "--log-json",
                help="Log lines and the error line as JSON objects, even at a terminal.",
            ),
        ] = False,
        no_annotation_cache: Annotated[
            bool,
            typer.Option(
                "--no-annotation-cache",
                help="Read and annotate every day of the window again instead of replaying "
                "the days earlier nights annotated (STATE/cache/annotated).",
            ),
        ] = False,
        quiet: QuietOpt = False,
        engine: EngineOpt = EngineName.local,
        spark_master: SparkMasterOpt = "local[*]",
        spark_conf: SparkConfOpt = None,
    ) -> None:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise _emit_error(
                f"--date: {date!r} is not a date in YYYY-MM-DD form", EXIT_BAD_INPUT, log_json
            ) from None
        from detector.nightly.runner import run_nightly  # the job: the scorer and all

        try:
            engine_name, spark = engine_options(engine, spark_master, spark_conf)
            summary = run_nightly(
                logs=logs,
                date=day,
                state=state,
                window_days=window_days,
                accounts=accounts,
                no_accounts=no_accounts,
                allow_missing=allow_missing,
                retrain_days=retrain_days,
                psi_threshold=psi_threshold,
                force_retrain=force_retrain,
                refit_topics=refit_topics,
                alert_budget=alert_budget,
                log_json=True if log_json else None,
                quiet=quiet,
                lock_timeout_hours=lock_timeout,
                engine=engine_name,
                spark=spark,
                annotation_cache=not no_annotation_cache,
            )
        except LockHeldError as exc:
            raise _emit_error(str(exc), EXIT_LOCKED, log_json) from None
        except UserError as exc:
            raise _emit_error(str(exc), EXIT_BAD_INPUT, log_json) from None
        except KeyboardInterrupt:
            raise _emit_error("interrupted", 130, log_json) from None
        except Exception as exc:
            if os.environ.get("DETECTOR_DEBUG") == "1":
                raise
            raise _emit_error(_internal_error_line(exc), EXIT_INTERNAL, log_json) from None
        if not (quiet or log_json):
            # one line whatever the terminal's width: cron logs are grepped line by line
            line = safe_terminal(_summary_line(summary), markup=False)
            console.print(line, markup=False, soft_wrap=True)

    @app.command("runs")
    @user_errors
    def runs_cmd(
        state: Annotated[
            Path | None,
            typer.Option("--state", help="State dir (default: $DETECTOR_STATE, else ./state)."),
        ] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="Show the latest N runs.")] = 20,
        as_json: JsonOpt = False,
    ) -> None:
        """List the nightly runs recorded in the state store, newest first.

        Example: detector runs --state /var/lib/detector --limit 10
        """
        directory = state if state is not None else default_state_dir()
        rows = run_history(directory, limit=limit)
        if as_json:
            typer.echo(json.dumps(rows, indent=2, default=str))
            return
        console.print(_runs_table(rows, directory))

    @app.command("init")
    @user_errors
    def init_cmd(
        state: Annotated[Path, typer.Option("--state", help="State directory to create.")],
        quiet: QuietOpt = False,
    ) -> None:
        """Create an empty state store in --state (the nightly job's first run does too).

        No other command creates one, so a mistyped --state is an error rather than a
        new, empty state. An existing store is left as it is; an empty or corrupt
        state.sqlite is an error, never replaced.

        Example: detector init --state /var/lib/detector
        """
        # created with its parents (the store does), but never inside a log's tree
        target = Output("--state", state, directory=True, named=False)
        check_paths([target])
        check_outside_logs(target)
        existed = (state / DB_FILENAME).exists()
        with Store.open(state, create=True) as store:
            version = store.schema_version
        if not quiet:
            what = "already holds a state store" if existed else "created an empty state store"
            typer.echo(safe_terminal(f"{state}: {what} (schema version {version})", markup=False))


def _duration(row: dict[str, Any]) -> str:
    try:
        start = dt.datetime.fromisoformat(str(row["started_at"]))
        end = dt.datetime.fromisoformat(str(row["finished_at"]))
    except (TypeError, ValueError):
        return ""
    return f"{(end - start).total_seconds():.0f} s"


def _runs_table(rows: list[dict[str, Any]], directory: Path) -> Table:
    """Rich table of run history rows (text made terminal-safe); errors go in a caption."""
    table = Table(title=f"Nightly runs in {safe_terminal(directory)}", box=box.SIMPLE_HEAD)
    for name, justify, wrap in (
        ("run", "right", False),
        ("date", "left", False),
        ("status", "left", False),
        ("took", "right", False),
        ("model", "left", True),
        ("read", "right", False),
        ("flagged", "right", False),
        ("alerts", "right", False),
    ):
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=not wrap,
            overflow="fold" if wrap else "ellipsis",
        )
    styles = {"ok": "green", "failed": "red", "running": "yellow"}
    errors = []
    for row in rows:  # one per run listed (a page of history)
        counts = row.get("counts") or {}
        status = str(row.get("status") or "")
        read = counts.get("read")
        alerts = (
            str(counts.get("alerts_new", 0) + counts.get("alerts_rise", 0))
            if "alerts_new" in counts
            else ""
        )
        table.add_row(
            str(row.get("run_id")),
            str(row.get("run_date")),
            f"[{styles.get(status, 'default')}]{safe_terminal(status)}[/]",
            _duration(row),
            safe_terminal(row.get("model_version") or ""),
            f"{read:,}" if isinstance(read, int) else "",
            str(counts.get("flagged", "")),
            alerts,
        )
        if row.get("error"):
            errors.append(f"run {row.get('run_id')}: {truncate(str(row['error']), 300)}")
    if errors:
        table.caption = safe_terminal("\n".join(errors), keep_newlines=True)
        table.caption_justify = "left"
    return table
