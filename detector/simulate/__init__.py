"""Labelled synthetic API traffic: benign products and capability-extraction campaigns.

:func:`simulate` writes a request log (contract 1.1) partitioned by UTC day, the
account table (1.2) and labels (1.3, ``scenario`` = persona). The same arguments
give the same bytes.

Two worlds (:mod:`.worlds`):

* ``default`` — the demo world (:mod:`.personas`): about 12% extraction among many
  heavy products, so "unusual" and "extracting" largely coincide. Its content is
  pinned by the tests.
* ``realistic`` — a provider's population as it looks (:mod:`.personas_realistic`):
  20,000 accounts over 7 days, ~90% small (hobbyists, developers testing, sign-ups of
  the week, small apps, classroom cohorts signed up together on one campus network),
  many behind carrier NAT so that unrelated accounts share addresses (:mod:`.networks`);
  heavy products a few percent, among them the benign traps — LLM-as-judge and
  data-labelling platforms, an evaluation company re-running fixed suites daily at
  temperature 0, permitted safety benchmarking re-run when a model ships (mostly
  refused), translation/document/content batch jobs, coding assistants, enterprise and
  24/7 global products, research labs of 5-15 accounts sharing a card, org and network,
  boilerplate system prompts shared by unrelated products. A ``prevalence`` (default
  1%) of accounts extract: plain distillation and low-and-slow as a competent operator
  runs them (official SDK, 1-3 addresses, months-old accounts, human sessions, ordinary
  parameters, no chain-of-thought wording), a hydra of light accounts sharing no card
  or network (proxies, carrier NAT, IPv6, many countries, sign-up bursts, relayed chats
  and synthetic-data generation, a synchronised switch to a new model), a hydra linked
  only by templates and timing, mixed cover (a real product pulling with 10-30% of its
  traffic), a reseller relay, and a minority of loud kinds (chain-of-thought
  elicitation, capability sweeps, safety probing, card- and network-linked hydras).

Modules: :mod:`.worlds` (which personas, how many), :mod:`.personas` /
:mod:`.personas_realistic` (who, as data), :mod:`.population` and :mod:`.streams`
(per-account draws), :mod:`.groups` (organisations, labs, cohorts) and
:mod:`.campaigns` (hydras), :mod:`.state` (the drawn parameters), :mod:`.timing`
(when), :mod:`.prompts` / :mod:`.prompts_realistic` / :mod:`.textgen` / :mod:`.vocab` /
:mod:`.corpus` (what is asked), :mod:`.identity` / :mod:`.networks` (addresses, user
agents, countries), :mod:`.traffic` (rows, day by day) and :mod:`.writer` (files).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from detector import schema as sc
from detector.simulate.corpus import CorpusError, load_corpus
from detector.simulate.personas import PERSONAS
from detector.simulate.population import MODELS, NEW_MODEL, World, build_population
from detector.simulate.traffic import Engine
from detector.simulate.worlds import WORLDS, WorldSpec
from detector.simulate.writer import (
    FORMATS,
    clear_requests,
    partition_path,
    write_accounts,
    write_day,
    write_labels,
)

__all__ = [
    "MODELS",
    "NEW_MODEL",
    "PERSONAS",
    "WORLDS",
    "CorpusError",
    "SimulationSummary",
    "simulate",
]

DEFAULT_START = dt.date(2026, 11, 1)


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation wrote."""

    out_dir: Path
    accounts: int
    accounts_per_persona: dict[str, int]
    labels: dict[str, int]
    """Accounts per label (``benign``, ``extraction``)."""
    rows: int
    """Request rows written, duplicates included."""
    duplicates: int
    rows_per_day: dict[str, int]
    hydra_clusters: list[int]
    """Member count of each hydra cluster."""
    files: list[Path] = field(default_factory=list)
    start: dt.date = DEFAULT_START
    days: int = 0
    release: dt.datetime | None = None
    """When the new model became available (``None``: no release inside the window)."""
    population: str = "default"
    persona_labels: dict[str, str] = field(default_factory=dict)
    """Label of every persona of the world (``benign`` or ``extraction``)."""


def _check(accounts: int, days: int, fmt: str, volume_scale: float) -> None:
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1 (got {accounts})")
    if days < 1:
        raise ValueError(f"days must be at least 1 (got {days})")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not volume_scale > 0:
        raise ValueError(f"volume_scale must be positive (got {volume_scale})")


def simulate(
    out_dir: Path,
    *,
    accounts: int | None = None,
    days: int | None = None,
    seed: int = 0,
    fmt: Literal["parquet", "jsonl", "csv"] = "parquet",
    corpus: Path | None = None,
    start: dt.date = DEFAULT_START,
    volume_scale: float = 1.0,
    population: str = "default",
    prevalence: float | None = None,
    hydra_accounts: int | None = None,
    release: bool = True,
) -> SimulationSummary:
    """Write a labelled synthetic population to ``out_dir`` and return what was written.

    ``population`` names a world (:data:`WORLDS`); ``accounts`` and ``days`` default
    to the world's. ``prevalence`` (share of extraction accounts) and
    ``hydra_accounts`` (size of the no-shared-infrastructure hydra) apply to the
    realistic world. ``release=False`` simulates a window in which no new model ships
    (the adoption evidence is then silent, as in most weeks of real traffic). Raises
    ``ValueError`` for bad arguments and :class:`CorpusError` (a ``ValueError``) when
    ``corpus`` holds no usable ``prompts.jsonl``.
    """
    if population not in WORLDS:
        raise ValueError(f"unknown population {population!r}; expected one of {', '.join(WORLDS)}")
    spec: WorldSpec = WORLDS[population]
    accounts = spec.accounts if accounts is None else accounts
    days = spec.days if days is None else days
    _check(accounts, days, fmt, volume_scale)
    counts = spec.counts(accounts, prevalence, hydra_accounts)
    out_dir = Path(out_dir)
    text_corpus = load_corpus(Path(corpus)) if corpus is not None else None
    start_us = (
        int(
            (
                dt.datetime.combine(start, dt.time(), dt.UTC)
                - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            ).total_seconds()
        )
        * 1_000_000
    )
    world = World(
        start_us=start_us, days=days, seed=seed, volume_scale=volume_scale, release=release
    )
    pop = build_population(accounts, world, spec.personas, counts, spec.pools(seed, accounts))
    engine = Engine(pop, spec.library(seed, text_corpus))

    out_dir.mkdir(parents=True, exist_ok=True)
    clear_requests(out_dir)
    files: list[Path] = []
    rows = duplicates = 0
    per_day: dict[str, int] = {}
    for d in range(days):
        batch = engine.day(d)
        date = start + dt.timedelta(days=d)
        path = partition_path(out_dir, date, fmt)
        write_day(batch, path, fmt)
        files.append(path)
        rows += batch.num_rows
        duplicates += batch.duplicates
        per_day[date.isoformat()] = batch.num_rows
        del batch

    account_rows: dict[str, list] = {c: [] for c in sc.ACCOUNT_COLUMNS}
    labels: list[tuple[str, str, str]] = []
    for g in pop.groups:
        account_rows[sc.ACCOUNT_ID] += g.ids
        account_rows[sc.CREATED_AT] += g.created_us.tolist()
        account_rows[sc.PLAN] += g.plan
        account_rows[sc.COUNTRY] += g.country
        account_rows[sc.PAYMENT_FINGERPRINT] += g.fingerprint
        account_rows[sc.ORG_ID] += g.org
        labels += [(a, g.persona.label, g.persona.name) for a in g.ids]
    accounts_path = out_dir / "accounts.parquet"
    labels_path = out_dir / "labels.csv"
    write_accounts(accounts_path, account_rows)
    write_labels(labels_path, labels)
    files += [accounts_path, labels_path]

    per_persona = {p.name: 0 for p in spec.personas}
    for g in pop.groups:
        per_persona[g.persona.name] = g.n
    persona_labels = {p.name: p.label for p in spec.personas}
    hydra = [
        len(c) for g in pop.groups if g.persona.group in ("hydra", "swarm") for c in g.clusters
    ]
    released = (
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=world.release_us)
        if world.release
        else None
    )
    return SimulationSummary(
        out_dir=out_dir,
        accounts=pop.n_accounts,
        accounts_per_persona=per_persona,
        labels=dict(
            Counter(persona_labels[name] for name, k in per_persona.items() for _ in range(k))
        ),
        rows=rows,
        duplicates=duplicates,
        rows_per_day=per_day,
        hydra_clusters=hydra,
        files=files,
        start=start,
        days=days,
        release=released,
        population=population,
        persona_labels=persona_labels,
    )
