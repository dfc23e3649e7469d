"""``detector train`` and ``detector score``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from detector import schema as S
from detector.cli import paths
from detector.cli.common import (
    AccountsOpt,
    EndOpt,
    JsonOpt,
    LogArg,
    QuarantineOpt,
    QuietOpt,
    StartOpt,
    alert_budget_callback,
    console,
    fail,
    number_option,
    output_file_callback,
    parse_window,
    progress_reporter,
    user_errors,
    warn_log,
)
from detector.cli.train_labels import excluded_accounts, learned_line, training_labels
from detector.config import DEFAULT, Config
from detector.engines.cli import (
    CacheDirOpt,
    EngineName,
    EngineOpt,
    ScoresParquetOpt,
    SparkConfOpt,
    SparkMasterOpt,
    engine_options,
)
from detector.output_paths import Output, check_paths
from detector.outputs import twin_path
from detector.ranking import depth_spreads, describe_alert_rule
from detector.safe import safe_terminal

DEEP_SPREADS = depth_spreads(
    DEFAULT.alert_spreads,
    DEFAULT.alert_spreads_per_doubling,
    DEFAULT.family_max_samples,
    DEFAULT.max_samples,
)
"""The default rule's spreads for the deepest family trees (``train --help`` says it)."""

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        help="Model bundle file (any name, e.g. m.joblib), or a directory of bundles "
        "(models/): train writes a versioned bundle into it, score loads its newest.",
    ),
]
BudgetOpt = Annotated[
    str | None,
    typer.Option(
        "--alert-budget",
        callback=alert_budget_callback,
        help="Flag at most this many accounts: a count (50) or a share of accounts (2%).",
    ),
]
ThresholdOpt = Annotated[
    float | None,
    number_option("--threshold", low=0, high=100, help="Flag accounts scoring at least this."),
]
StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state", help="State dir (SQLite store): suppressed accounts are never flagged."
    ),
]


def top_table(scores: object, n: int = 15, title: str = "Top flagged accounts") -> Table:
    """Rich table of the highest-ranked flagged accounts, log text made terminal-safe."""

    frame: pd.DataFrame = scores  # type: ignore[assignment]
    table = Table(title=title, show_lines=False)
    for col, kw in (
        ("rank", {"justify": "right"}),
        ("account", {}),
        ("score", {"justify": "right"}),
        ("band", {}),
        ("cluster", {}),
        ("top reasons", {"overflow": "fold"}),
    ):
        table.add_column(col, **kw)
    shown = frame[frame[S.FLAGGED]].head(n)
    for row in shown.itertuples(index=False):
        r = row._asdict()
        reasons = "\n".join(
            safe_terminal(x) for x in str(r[S.REASONS]).split(S.REASONS_SEPARATOR)[:3]
        )
        table.add_row(
            str(r[S.RANK]),
            safe_terminal(r[S.ACCOUNT_ID]),
            f"{r[S.SCORE]:.1f}",
            str(r.get(S.BAND, "")),
            safe_terminal(r[S.CLUSTER_ID] or ""),
            reasons,
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``score`` to ``app``."""

    @app.command("train")
    @user_errors
    def train_cmd(
        log: LogArg,
        model: ModelOpt,
        accounts: AccountsOpt = None,
        start: StartOpt = None,
        end: EndOpt = None,
        alert_budget: Annotated[
            str | None,
            typer.Option(
                "--alert-budget",
                callback=alert_budget_callback,
                help="Share or count of the training cases the model's default threshold "
                "flags. Default: "
                + describe_alert_rule(None, DEFAULT.alert_spreads, DEFAULT.alert_ceiling)
                + f"; more spreads for deeper family trees ({DEEP_SPREADS:g} at "
                f"{DEFAULT.family_max_samples} accounts per tree). It flags what stands out, "
                "however much that is.",
            ),
        ] = DEFAULT.alert_budget,
        exclude: Annotated[
            Path | None,
            typer.Option(
                "--exclude",
                help="CSV with account_id (e.g. labels) to leave out of the fit; "
                "rows labelled extraction are left out when it has a label column.",
            ),
        ] = None,
        labels: Annotated[
            Path | None,
            typer.Option(
                "--labels",
                help="Labels CSV (account_id,label[,scenario]) to learn from: a layer over "
                "the isolation forest lifts look-alikes of confirmed extraction and calms "
                "look-alikes of benign accounts; extraction rows are left out of the forest.",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        state: Annotated[
            Path | None,
            typer.Option(
                "--state",
                help="State dir: learn from the analysts' verdicts (latest per account, "
                "expired ones left out), as --labels.",
            ),
        ] = None,
        quarantine: QuarantineOpt = None,
        quiet: QuietOpt = False,
        as_json: JsonOpt = False,
        cache_dir: CacheDirOpt = None,
        engine: EngineOpt = EngineName.local,
        spark_master: SparkMasterOpt = "local[*]",
        spark_conf: SparkConfOpt = None,
    ) -> None:
        """Fit the model on the population in LOG and save a verified bundle.

        With --labels or --state it also learns from those verdicts (at least 6, 2 of
        each class, among LOG's accounts; otherwise the score stays unsupervised).

        Example: detector train sim/requests --model models/ --labels sim/labels.csv
        """
        from detector.artifacts import names_directory, read_manifest
        from detector.scoring import train

        first, last = parse_window(start, end)
        model_out, quarantine_out = paths.train_outputs(model, names_directory(model), quarantine)
        check_paths(
            [model_out, quarantine_out, paths.cache_output(cache_dir)],
            [
                paths.log_input(log),
                *paths.inputs(accounts=accounts, labels=labels, exclude=exclude, state=state),
            ],
        )
        quarantine = quarantine_out.path
        config = Config(alert_budget=alert_budget)
        verdicts, source = training_labels(labels, state)
        engine_name, spark = engine_options(engine, spark_master, spark_conf, cache_dir)
        skip = excluded_accounts(exclude, verdicts)
        with progress_reporter(quiet or as_json) as progress:
            path, result, fitted = train(
                log,
                model,
                accounts=accounts,
                start=first,
                end=last,
                config=config,
                exclude=skip,
                labels=verdicts,
                labels_source=source,
                quarantine_path=quarantine,
                progress=progress,
                engine=engine_name,
                spark=spark,
                cache_dir=cache_dir,
            )
        manifest = read_manifest(path, verify=False)
        learned_from = manifest.get("labels")
        info = {
            "model": str(path),
            "accounts": len(result.features),
            "excluded": len(skip & set(result.features.index)),
            "features": len(fitted.feature_names_in_),
            "threshold": round(float(fitted.threshold_), 2),
            "window": list(result.window),
            "learned_from": learned_from,
            "learned_weight": (manifest.get("learned") or {}).get("weight"),
            "ingest": result.report.to_dict(),
        }
        if manifest.get("learned"):
            info["threshold"] = manifest["learned"]["threshold"]
        if not quiet:
            warn_log(result.report)
        if as_json:
            typer.echo(json.dumps(info, indent=2))
        elif not quiet:
            rule = describe_alert_rule(alert_budget, fitted.alert_spreads_, config.alert_ceiling)
            if manifest.get("learned"):  # the learned score spends the model's own count
                rule = (
                    "of the learned score: as many training cases as the model's threshold "
                    f"{round(float(fitted.threshold_), 2)} flags, {rule}"
                )
            console.print(
                f"trained on {info['accounts']:,} accounts ({info['excluded']} excluded), "
                f"{info['features']} features, window {info['window'][0]} – {info['window'][1]}; "
                f"alert threshold {info['threshold']} "
                f"({rule})\n"
                + learned_line(
                    verdicts,
                    learned_from,
                    manifest.get("learned"),
                    set(result.features.index),
                    config,
                )
                + f"model: {path}",
                markup=False,
            )

    @app.command("score")
    @user_errors
    def score_cmd(
        log: LogArg,
        model: ModelOpt,
        out: Annotated[
            Path,
            typer.Option(
                "--out",
                callback=output_file_callback,
                help="Scores CSV to write (contract 3.1); its sidecars go beside it.",
            ),
        ],
        accounts: AccountsOpt = None,
        start: StartOpt = None,
        end: EndOpt = None,
        alert_budget: BudgetOpt = None,
        threshold: ThresholdOpt = None,
        state: StateOpt = None,
        quarantine: QuarantineOpt = None,
        quiet: QuietOpt = False,
        as_json: JsonOpt = False,
        cache_dir: CacheDirOpt = None,
        engine: EngineOpt = EngineName.local,
        spark_master: SparkMasterOpt = "local[*]",
        spark_conf: SparkConfOpt = None,
        scores_parquet: ScoresParquetOpt = None,
        substreams: Annotated[
            bool,
            typer.Option(
                "--substreams/--no-substreams",
                help="Also score each account's minority sub-streams (e.g. the requests "
                "without its system prompt) and give it the worse score.",
            ),
        ] = DEFAULT.substreams,
    ) -> None:
        """Score every account in LOG; write SCORES.csv and its sidecars.

        Without --alert-budget or --threshold the model's own threshold applies, so
        flags are comparable across runs of the same model.

        Example: detector score sim/requests --model models/demo.bundle --out scores.csv
        """
        from detector.engines import write_scores_parquet
        from detector.scoring import score, write_scores

        if alert_budget is not None and threshold is not None:
            raise fail("give --alert-budget or --threshold, not both")
        first, last = parse_window(start, end)
        if twin_path(out) == out:
            raise fail(f"--out {out}: name the scores file .csv; {out.name} is its Parquet twin")
        engine_name, spark = engine_options(engine, spark_master, spark_conf, cache_dir)
        local_copy = scores_parquet if engine_name == "local" else None  # Spark: any URI
        check_paths(
            [
                *paths.scores_outputs(out),
                paths.quarantine_output(quarantine, out),
                None if local_copy is None else Output("--scores-parquet", local_copy),
                paths.cache_output(cache_dir),
            ],
            [paths.log_input(log), *paths.inputs(accounts=accounts, model=model, state=state)],
        )
        suppressed: set[str] = set()
        if state is not None:
            import datetime as dt

            from detector.store import Store

            with Store.open(state) as store:
                suppressed = store.active_suppressions(dt.datetime.now(dt.UTC).date())
        quarantine = quarantine or paths.default_quarantine(out)
        with progress_reporter(quiet or as_json) as progress:
            scored = score(
                log,
                Path(model),
                accounts=accounts,
                start=first,
                end=last,
                budget=alert_budget,
                threshold=threshold,
                suppressed=suppressed,
                quarantine_path=quarantine,
                progress=progress,
                engine=engine_name,
                spark=spark,
                config=dataclasses.replace(DEFAULT, substreams=substreams),
                cache_dir=cache_dir,
            )
        if not quiet:
            warn_log(scored.result.report)
        if state is None:
            scored = dataclasses.replace(scored, scores=scored.scores.drop(columns=[S.SUPPRESSED]))
        written = write_scores(scored, out)
        if scores_parquet is not None:
            write_scores_parquet(scored.scores, scores_parquet, engine=engine_name, spark=spark)
            written.append(scores_parquet)
        if Path(model).is_dir():
            typer.echo(
                f"model: {scored.meta['model_path']} (newest valid bundle in {model})", err=True
            )
        trained_with = {
            name: value
            for name, value in scored.meta["feature_settings"].items()
            if value != getattr(DEFAULT, name)
        }
        if trained_with:  # an older bundle keeps its own feature definitions
            settings = ", ".join(
                f"{name} {value} (default {getattr(DEFAULT, name)})"
                for name, value in trained_with.items()
            )
            typer.echo(
                f"model: features built with the settings it was trained with: {settings}; "
                "retrain to score with the defaults",
                err=True,
            )
        if as_json:
            typer.echo(
                json.dumps(
                    {**scored.meta, "outputs": [str(p) for p in written]}, indent=2, default=str
                )
            )
            return
        if quiet:
            return
        console.print(top_table(scored.scores))
        m, ing = scored.meta, scored.meta["ingest"]
        console.print(
            f"{m['flagged']:,} of {m['accounts']:,} accounts flagged (model {m['model_version']}); "
            f"read {ing['read']:,} rows, kept {ing['kept']:,}, "
            f"duplicates {ing['duplicates']:,}, quarantined {ing['quarantined']:,}\n"
            f"scores: {out}",
            markup=False,
        )
