"""``detector simulate``: write a labelled synthetic population (requests, accounts, labels)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from detector.cli.common import QuietOpt, console, fail, number_option, parse_day, user_errors
from detector.output_paths import Input, Output, check_paths

HELP = (
    "Write a labelled synthetic population of API traffic.\n\n"
    "Writes OUT_DIR/requests/date=YYYY-MM-DD/part-00000.<format> (one partition per UTC day), "
    "OUT_DIR/accounts.parquet and OUT_DIR/labels.csv (scenario = persona). The same "
    "arguments always give the same bytes.\n\n"
    "--population default (1,500 accounts, 10 days): about 88% benign products and people, "
    "the rest capability-extraction scenarios (distillation, benchmark sweeps, reasoning-trace "
    "and rubric extraction, safety probing, hydra clusters, low-and-slow, mixed cover, "
    "reseller relays).\n\n"
    "--population realistic (20,000 accounts, 7 days): a provider's population as it looks. "
    "Most accounts are small (hobbyists, developers testing, sign-ups, small apps, classroom "
    "cohorts, many behind carrier NAT); heavy products are a few percent and include benign "
    "traps (judge and labelling platforms, an evaluation company, permitted safety "
    "benchmarking, translation and batch jobs, research labs sharing a card). --prevalence "
    "(default 0.01) of accounts run extraction, mostly as a competent operator would: plain "
    "distillation, low-and-slow, a hydra sharing no card or network, a template-and-timing "
    "hydra, mixed cover, a reseller, and a few loud kinds."
)

LogFormat = Literal["parquet", "jsonl", "csv"]
"""``--format`` choices: :data:`detector.simulate.writer.FORMATS` (imported lazily)."""

EPILOG = (
    "Example: detector simulate data/sim --accounts 1500 --days 10 --seed 0  "
    "(about 0.73M rows in ~8 s).  Realistic: detector simulate data/real --population "
    "realistic --seed 101  (about 2.4M rows in ~40 s).  A ~10M-row benchmark log (~85 s): "
    "detector simulate data/big --accounts 20000 --days 7 --volume-scale 1.5"
)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command("simulate", help=HELP, epilog=EPILOG)
    @user_errors
    def simulate_command(
        out_dir: Annotated[Path, typer.Argument(help="Output directory (created if missing).")],
        accounts: Annotated[
            int | None,
            typer.Option(
                "--accounts", help="Number of accounts (default: 1500; realistic: 20000)."
            ),
        ] = None,
        days: Annotated[
            int | None,
            typer.Option("--days", help="UTC days to simulate (default: 10; realistic: 7)."),
        ] = None,
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
            number_option(
                "--volume-scale", help="Multiply every account's request rate (e.g. 2.0)."
            ),
        ] = 1.0,
        population: Annotated[
            str,
            typer.Option("--population", help="Which world: default or realistic."),
        ] = "default",
        prevalence: Annotated[
            float | None,
            number_option(
                "--prevalence",
                help="Realistic world: share of extraction accounts (default: 0.01).",
            ),
        ] = None,
        hydra_accounts: Annotated[
            int | None,
            typer.Option(
                "--hydra-accounts",
                help="Realistic world: accounts in the hydra that shares no card or network "
                "(taken from the extraction share; default: 40% of the extraction accounts).",
            ),
        ] = None,
        no_release: Annotated[
            bool,
            typer.Option(
                "--no-release",
                help="No new model ships inside the window (most weeks of real traffic): "
                "nobody adopts one and release-day suites do not run.",
            ),
        ] = False,
        quiet: QuietOpt = False,
    ) -> None:
        from detector.simulate import WORLDS, simulate
        from detector.simulate.corpus import find_prompt_files

        if population not in WORLDS:
            raise fail(
                f"--population: unknown world {population!r}; expected one of {', '.join(WORLDS)}"
            )
        world = WORLDS[population]
        if world.prevalence is None and (prevalence is not None or hydra_accounts is not None):
            raise fail("--prevalence and --hydra-accounts need --population realistic")
        accounts = world.accounts if accounts is None else accounts
        days = world.days if days is None else days
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
        target = Output("OUT_DIR", out_dir, directory=True, named=False)  # created if missing
        check_paths(  # and what goes in it must be a file or directory it may replace
            [
                target,
                target.derived(out_dir / "requests", "its log", directory=True),
                target.derived(out_dir / "accounts.parquet", "its account table"),
                target.derived(out_dir / "labels.csv", "its labels"),
            ],
            [None if corpus is None else Input("--corpus", corpus, log=True)],
        )
        try:  # composition errors (prevalence out of range, a hydra too big) before writing
            world.counts(accounts, prevalence, hydra_accounts)
        except ValueError as exc:
            raise fail(f"--prevalence/--hydra-accounts: {exc}") from exc

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
            population=population,
            prevalence=prevalence,
            hydra_accounts=hydra_accounts,
            release=not no_release,
        )
        elapsed = time.perf_counter() - began
        if quiet:
            return
        table = Table(title=f"Simulated {population} population ({summary.accounts:,} accounts)")
        table.add_column("persona")
        table.add_column("label")
        table.add_column("accounts", justify="right")
        for name, count in summary.accounts_per_persona.items():
            label = summary.persona_labels[name]
            style = "red" if label == "extraction" else ""
            table.add_row(name, f"[{style}]{label}[/{style}]" if style else label, f"{count:,}")
        console.print(table)
        last = first_day.fromordinal(first_day.toordinal() + days - 1)
        released = (
            f"new model released {summary.release:%Y-%m-%d %H:%M} UTC"
            if summary.release is not None
            else "no new model released"
        )
        console.print(
            f"{summary.rows:,} requests ({summary.duplicates:,} at-least-once duplicates) over "
            f"{days} days {first_day}..{last}; hydra clusters {summary.hydra_clusters}; "
            f"{released}; {elapsed:.1f} s",
            markup=False,
        )
        console.print(f"requests: {out_dir / 'requests'}", markup=False)
        console.print(f"accounts: {out_dir / 'accounts.parquet'}", markup=False)
        console.print(f"labels:   {out_dir / 'labels.csv'}", markup=False)
