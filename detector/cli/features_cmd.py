"""``detector features``: the per-account feature table of a log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
import typer

from detector.cli import paths
from detector.cli.common import (
    AccountsOpt,
    EndOpt,
    LogArg,
    QuarantineOpt,
    QuietOpt,
    StartOpt,
    console,
    fail,
    output_file_callback,
    parse_window,
    progress_reporter,
    user_errors,
    warn_log,
)
from detector.cli.validate_cmd import print_report
from detector.engines import cache_option, feature_builder
from detector.engines.cli import (
    CacheDirOpt,
    EngineName,
    EngineOpt,
    SparkConfOpt,
    SparkMasterOpt,
    engine_options,
)
from detector.output_paths import Output, check_paths
from detector.safe import atomic_path


def register(app: typer.Typer) -> None:
    """Add the ``features`` command to ``app``."""

    @app.command("features")
    @user_errors
    def features(
        log: LogArg,
        out: Annotated[
            Path,
            typer.Option(
                "--out", callback=output_file_callback, help="Feature table to write (Parquet)."
            ),
        ],
        accounts: AccountsOpt = None,
        start: StartOpt = None,
        end: EndOpt = None,
        quarantine: QuarantineOpt = None,
        quiet: QuietOpt = False,
        cache_dir: CacheDirOpt = None,
        engine: EngineOpt = EngineName.local,
        spark_master: SparkMasterOpt = "local[*]",
        spark_conf: SparkConfOpt = None,
    ) -> None:
        """Write one row per account and one column per feature to OUT (Parquet).

        The file's metadata (key "detector") records the window, the features omitted
        because a column is missing, and the ingest counts.

        Example: detector features sim/requests --out f.parquet --accounts sim/accounts.parquet
        """
        first, last = parse_window(start, end)
        if out.suffix != ".parquet":
            raise fail(f"--out {out}: the feature table is Parquet; name the file .parquet")
        check_paths(
            [
                Output("--out", out),
                paths.quarantine_output(quarantine, out),
                paths.cache_output(cache_dir),
            ],
            [paths.log_input(log), *paths.inputs(accounts=accounts)],
        )
        quarantine = quarantine or paths.default_quarantine(out)
        engine_name, spark = engine_options(engine, spark_master, spark_conf, cache_dir)
        with progress_reporter(quiet) as progress:
            result = feature_builder(engine_name, spark)(
                log,
                accounts=accounts,
                start=first,
                end=last,
                quarantine_path=quarantine,
                progress=progress,
                **cache_option(engine_name, cache_dir),
            )
        table = pa.Table.from_pandas(result.features, preserve_index=True)
        meta = dict(table.schema.metadata or {})
        meta[b"detector"] = json.dumps(result.metadata()).encode()
        with atomic_path(out) as tmp:
            pq.write_table(table.replace_schema_metadata(meta), tmp)
        if not quiet:
            print_report(result.report)
            warn_log(result.report)
            if result.omitted:
                console.print(
                    "features omitted: "
                    + ", ".join(f"{k} ({v})" for k, v in result.omitted.items()),
                    markup=False,
                )
            console.print(
                f"wrote {len(result.features):,} accounts × {result.features.shape[1]} features "
                f"to {out}",
                markup=False,
            )
