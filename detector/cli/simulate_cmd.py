"""``detector simulate``: write a labelled synthetic population (requests, accounts, labels)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from detector.cli.common import QuietOpt, console, fail, parse_day, user_errors

HELP = (
    "Write a labelled synthetic population of API traffic.\n\n"
    "Writes OUT_DIR/requests/date=YYYY-MM-DD/part-00000.<format> (one partition per UTC day), "
    "OUT_DIR/accounts.parquet and OUT_DIR/labels.csv (scenario = persona). About 88% of "
    "accounts are benign products and people; the rest run capability-extraction scenarios "
    "(distillation, benchmark sweeps, reasoning-trace and rubric extraction, safety probing, "
    "hydra clusters, low-and-slow, mixed cover, reseller relays). The same arguments always "
    "give the same bytes."
)

LogFormat = Literal["parquet", "jsonl", "csv"]
"""``--format`` choices: :data:`detector.simulate.writer.FORMATS` (imported lazily)."""

EPILOG = (
    "Example: detector simulate data/sim --accounts 1500 --days 10 --seed 0  "
    "(about 0.73M rows in ~8 s).  A ~10M-row benchmark log (~85 s): "
    "detector simulate data/big --accounts 20000 --days 7 --volume-scale 1.5"
)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command("simulate", help=HELP, epilog=EPILOG)
    @user_errors
    def simulate_command(
        out_dir: Annotated[Path, typer.Argument(help="Output directory (created if missing).")],
        accounts: Annotated[int, typer.Option("--accounts", help="Number of accounts.")] = 1500,
        days: Annotated[int, typer.Option("--days", help="Number of UTC days to simulate.")] = 10,
        seed: Annotated[
            int, typer.Option("--seed", help="Random seed (same seed, same bytes).")
        ] = 0,
        fmt: Annotated[LogFormat, typer.Option("--format", help="Request log format.")] = "parquet",
        corpus: Annotated[
            Path | None,
            typer.Option(
                "--corpus",
                help="Directory searched recursively for prompts.jsonl files of real prompts; "
                "their text replaces generated content inside the personas' wrappers.",
            ),
        ] = None,
        start: Annotated[
            str, typer.Option("--start", help="First simulated UTC day (YYYY-MM-DD).")
        ] = "2026-11-01",
        volume_scale: Annotated[
            float,
            typer.Option(
                "--volume-scale", help="Multiply every account's request rate (e.g. 2.0)."
            ),
        ] = 1.0,
        quiet: QuietOpt = False,
    ) -> None:
        from detector.simulate import simulate
        from detector.simulate.corpus import find_prompt_files

        if accounts < 1:
            raise fail(f"--accounts must be at least 1 (got {accounts})")
        if days < 1:
            raise fail(f"--days must be at least 1 (got {days})")
        if not volume_scale > 0:
            raise fail(f"--volume-scale must be positive (got {volume_scale})")
        if corpus is not None:
            if not corpus.is_dir():
                raise fail(f"--corpus: {corpus} is not a directory")
            if not find_prompt_files(corpus):
                raise fail(f"--corpus: no prompts.jsonl found under {corpus}")
        first_day = parse_day(start, "--start")
        assert first_day is not None
        if out_dir.exists() and not out_dir.is_dir():
            raise fail(f"OUT_DIR {out_dir} exists and is not a directory")

        began = time.perf_counter()
        summary = simulate(
            out_dir,
            accounts=accounts,
            days=days,
            seed=seed,
            fmt=fmt,
            corpus=corpus,
            start=first_day,
            volume_scale=volume_scale,
        )
        elapsed = time.perf_counter() - began
        if quiet:
            return
        from detector.simulate.personas import PERSONAS_BY_NAME

        table = Table(title=f"Simulated population ({summary.accounts:,} accounts)")
        table.add_column("persona")
        table.add_column("label")
        table.add_column("accounts", justify="right")
        for name, count in summary.accounts_per_persona.items():
            label = PERSONAS_BY_NAME[name].label
            style = "red" if label == "extraction" else ""
            table.add_row(name, f"[{style}]{label}[/{style}]" if style else label, f"{count:,}")
        console.print(table)
        last = first_day.fromordinal(first_day.toordinal() + days - 1)
        console.print(
            f"{summary.rows:,} requests ({summary.duplicates:,} at-least-once duplicates) over "
            f"{days} days {first_day}..{last}; hydra clusters {summary.hydra_clusters}; "
            f"new model released {summary.release:%Y-%m-%d %H:%M} UTC; {elapsed:.1f} s",
            markup=False,
        )
        console.print(f"requests: {out_dir / 'requests'}", markup=False)
        console.print(f"accounts: {out_dir / 'accounts.parquet'}", markup=False)
        console.print(f"labels:   {out_dir / 'labels.csv'}", markup=False)
