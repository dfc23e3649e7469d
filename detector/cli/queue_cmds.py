"""The analysts' queue on the command line: ``cases`` (the queue, by case) and ``case``
(one case opened: members, linking evidence, shared infrastructure, timeline).

A case is a coordination cluster or an unlinked account (``acct:<id>``), as the
nightly job scored it (see :mod:`detector.store.queue`). Ids, reasons and notes come
from investigated accounts and are made terminal-safe before printing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Annotated, Any

import typer
from rich.table import Table

from detector import schema as S
from detector.casefile import case_file, plain
from detector.cli.common import JsonOpt, console, fail, parse_day, user_errors
from detector.cli.state_common import CaseStatus, OnOpt, StateOpt, cell, state_dir, today
from detector.cluster_sidecar import cluster_behaviour_text
from detector.safe import safe_terminal
from detector.store import CASE_STATUSES, Store

BANDS: tuple[str, ...] = ("critical", "high", "medium", "low")
"""Bands of :func:`detector.cases.case_band`, most severe first."""


def _age(first: Any, day: dt.date) -> str:
    """Days since a case was first alerted (``0d`` = alerted on ``day``)."""
    first = plain(first)
    if first is None:
        return ""
    return f"{(day - dt.date.fromisoformat(str(first))).days}d"


def _trend(value: Any) -> str:
    """A score change with an arrow (empty when there is no previous run)."""
    value = plain(value)
    if value is None or math.isnan(float(value)):
        return ""
    arrow = "▲" if value > 0.05 else "▼" if value < -0.05 else "="
    return f"{arrow} {value:+.1f}"


def _queue_table(queue: Any, day: dt.date) -> Table:
    counts = queue["status"].value_counts()
    title = f"Cases as of {day}: " + ", ".join(
        f"{int(counts[s])} {s}" for s in CASE_STATUSES if s in counts
    )
    table = Table(title=title)
    for name, opts in (
        ("case", {"overflow": "fold", "min_width": 12}),
        ("status", {"no_wrap": True}),
        ("band", {"no_wrap": True}),
        ("score", {"justify": "right", "no_wrap": True}),
        ("size", {"justify": "right", "no_wrap": True}),
        ("age", {"justify": "right", "no_wrap": True}),
        ("trend", {"justify": "right", "no_wrap": True}),
        ("top reason", {"overflow": "fold", "min_width": 16, "ratio": 1}),
    ):
        table.add_column(name, **opts)
    for row in queue.to_dict("records"):  # one per case
        table.add_row(
            cell(row[S.CASE_ID]),
            cell(row["status"]) + ("\n[bold]NEW[/bold]" if row["new_tonight"] else ""),
            cell(row[S.BAND]),
            "" if plain(row[S.CASE_SCORE]) is None else f"{float(row[S.CASE_SCORE]):.1f}",
            f"{row['size']}" + (f" ({row['flagged_members']}⚑)" if row["size"] > 1 else ""),
            _age(row["first_alert_date"], day),
            _trend(row["trend"]),
            cell(row["top_reason"], 120),
        )
    return table


def _print_case(info: dict[str, Any]) -> None:
    """The case file as tables: header, members, evidence, infrastructure, timeline."""
    head = (
        f"Case {safe_terminal(info['case_id'])}: score {info['case_score']}, "
        f"{info['size']} member(s), {info['flagged_members']} flagged "
        f"(run {info['run_date']}, as of {info['on']})"
    )
    console.print(head)
    reasons = [m["top_reason"] for m in info["members"] if m["top_reason"]]
    common = max(set(reasons), key=reasons.count) if reasons else ""
    if common:
        console.print(f"[bold]Case reason:[/bold] {cell(common)}")
    members = Table(title="Members (top reason only where it differs from the case's)")
    for name in ("account", "score", "flag", "band", "status", "verdict", "top reason"):
        members.add_column(name, overflow="fold")
    for m in info["members"]:  # one per member
        verdict = cell(m["verdict"])
        if verdict:
            verdict += f" ({cell(m['verdict_by'], 20)}"
            verdict += f", until {m['verdict_expires']})" if m["verdict_expires"] else ")"
        members.add_row(
            cell(m[S.ACCOUNT_ID]),
            f"{m[S.SCORE]:.1f}",
            "⚑" if m[S.FLAGGED] else "",
            cell(m[S.BAND]),
            cell(m["status"]),
            verdict,
            "" if m["top_reason"] == common else cell(m["top_reason"], 100),
        )
    console.print(members)
    evidence = info["evidence"]
    if evidence:
        kinds = ", ".join(f"{k} ×{v}" for k, v in (evidence.get("evidence_counts") or {}).items())
        console.print(f"[bold]Linked because they[/bold] {cell(evidence.get('evidence'))}")
        console.print(
            f"  links: {cell(kinds)}; {evidence.get('requests_per_day')} requests/day together; "
            f"template share {evidence.get('template_share')}; synchrony "
            f"{evidence.get('synchrony')}; activation spread "
            f"{evidence.get('activation_spread_hours')} h"
        )
        behaviour = cluster_behaviour_text(evidence)
        if behaviour:
            console.print(f"  behaviour of the median member: {behaviour}")
    else:
        console.print("[bold]Linking evidence:[/bold] none (an unlinked account)")
    infra = info["infrastructure"]
    console.print(f"[bold]Shared infrastructure[/bold] ({cell(infra.get('source') or 'none')})")
    if infra.get("note"):
        console.print(f"  {cell(infra['note'])}")
    for column, shared in (infra.get("shared") or {}).items():
        values = ", ".join(f"{cell(v, 24)} ×{n}" for v, n in shared["shared_by"].items())
        console.print(f"  {column}: {shared['distinct']} distinct; shared: {values or 'none'}")
    if infra.get("created"):
        created = infra["created"]
        console.print(
            f"  created {created['first'][:16]} .. {created['last'][:16]} "
            f"(spread {created['spread_hours']} h)"
        )
    timeline = Table(title="Timeline")
    for name in ("run", "scored", "case", "median", "max", "flagged", "alerts"):
        timeline.add_column(name, justify="right")
    for t in info["timeline"]:  # one per run
        timeline.add_row(
            t["run_date"],
            str(t["scored"]),
            f"{t['case_score']:.1f}",
            f"{t['median_score']:.1f}",
            f"{t['max_score']:.1f}",
            str(t["flagged"]),
            str(t["alerts"]),
        )
    console.print(timeline)


def register(app: typer.Typer) -> None:
    """Add ``cases`` and ``case`` to ``app``."""

    @app.command("cases")
    @user_errors
    def cases_cmd(
        state: StateOpt,
        status: Annotated[
            CaseStatus | None, typer.Option("--status", help="Only cases with this status.")
        ] = None,
        band: Annotated[
            str | None,
            typer.Option("--band", help=f"Only cases of this band ({', '.join(BANDS)})."),
        ] = None,
        new: Annotated[
            bool, typer.Option("--new", help="Only cases first alerted by the latest run.")
        ] = False,
        on: OnOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """The queue: cases (clusters, or unlinked accounts acct:<id>) with band, case
        score, size, top reason, age (days since first alerted), trend (case score change
        since the run before) and status; NEW marks cases first alerted by the latest run.

        Open cases come first, new ones first among them, then by case score.

        Example: detector cases --status open --new --state state/
        """
        directory = state_dir(state)
        if status is not None and status not in CASE_STATUSES:
            raise fail(f"--status: {status!r} is not one of {', '.join(CASE_STATUSES)}")
        if band is not None and band not in BANDS:
            raise fail(f"--band: {band!r} is not one of {', '.join(BANDS)}")
        day = parse_day(on, "--on") or today()
        with Store.open(directory) as store:
            queue = store.case_queue(day)
        if status is not None:
            queue = queue[queue["status"] == status]
        if band is not None:
            queue = queue[queue[S.BAND] == band]
        if new:
            queue = queue[queue["new_tonight"].astype(bool)]
        if as_json:
            records = [{k: plain(v) for k, v in r.items()} for r in queue.to_dict("records")]
            typer.echo(json.dumps({"on": day.isoformat(), "cases": records}, indent=2))
            return
        if queue.empty:
            which = " ".join(x for x in (status, band, "new" if new else None) if x)
            console.print(f"no {which + ' ' if which else ''}cases as of {day}", markup=False)
            return
        console.print(_queue_table(queue, day))

    @app.command("case")
    @user_errors
    def case_cmd(
        case_id: Annotated[str, typer.Argument(help="A case id, as `detector cases` lists it.")],
        state: StateOpt,
        on: OnOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """One case: its members (score, flag, verdict), what links them, the
        infrastructure they share (from the account table the nightly job remembers),
        and its timeline over the nightly runs.

        Example: detector case c-dad6236439 --state state/
        """
        directory = state_dir(state)
        day = parse_day(on, "--on") or today()
        with Store.open(directory) as store:
            info = case_file(store, directory, case_id, day.isoformat())
        if as_json:
            typer.echo(json.dumps(info, indent=2, default=str))
            return
        _print_case(info)
