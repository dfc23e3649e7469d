"""``detector clusters``: groups of coordinated accounts, with evidence and behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from detector import schema as S
from detector.cli.common import JsonOpt, console, fail, user_errors
from detector.cluster_sidecar import cluster_behaviour_text
from detector.outputs import sidecar
from detector.safe import safe_terminal


def register(app: typer.Typer) -> None:
    """Add ``clusters`` to ``app``."""

    @app.command("clusters")
    @user_errors
    def clusters_cmd(
        scores: Annotated[
            Path,
            typer.Argument(help="SCORES.csv from `detector score`.", exists=True, dir_okay=False),
        ],
        cluster: Annotated[
            str | None, typer.Option("--cluster", help="Show one cluster's members.")
        ] = None,
        flagged_only: Annotated[
            bool, typer.Option("--flagged", help="Only clusters with a flagged member.")
        ] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """List clusters of linked accounts: members, evidence, combined behaviour.

        Example: detector clusters scores.csv --flagged
        """
        path = sidecar(scores, "clusters")
        if not path.exists():
            raise fail(f"{path}: no cluster file beside the scores; re-run `detector score`")
        rows = json.loads(path.read_text())["clusters"]
        if cluster is not None:
            rows = [r for r in rows if r["cluster_id"] == cluster]
            if not rows:
                raise fail(f"{path}: no cluster {cluster!r}")
        if flagged_only:
            rows = [r for r in rows if r["flagged_members"]]
        if as_json:
            typer.echo(json.dumps({"clusters": rows}, indent=2))
            return
        console.print(cluster_table(rows))
        for r in rows:
            console.print(cluster_why(r))
        if cluster is not None:
            m = Table(title=f"members of {cluster}")
            for col in ("account", "score", "flagged", "scored"):
                m.add_column(col)
            for a in rows[0]["accounts"]:
                m.add_row(
                    safe_terminal(a["account_id"]),
                    f"{a['score']:.1f}",
                    "yes" if a["flagged"] else "",
                    "alone: behaves unlike the cluster" if a.get(S.RIDES_ALONG) else "",
                )
            console.print(m)


NUMBER_COLUMNS = ("size", "flagged", "max", "req/day", "template", "sync", "spread h")
"""The table's figures (members, flagged members, the highest member score, requests a day,
shared-template share, activity synchrony, start spread in hours); the evidence, its
rarity and the behaviour follow the table as sentences."""


def cluster_table(rows: list[dict]) -> Table:
    """One line per cluster: its whole id and its figures, fitting 80 columns."""
    t = Table(title=f"{len(rows)} clusters", box=box.SIMPLE_HEAD)
    t.add_column("cluster", no_wrap=True, min_width=12)
    for col in NUMBER_COLUMNS:
        t.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        t.add_row(
            r["cluster_id"],
            str(r["members"]),
            str(r["flagged_members"]),
            f"{r['max_score']:.1f}",
            f"{r['requests_per_day']:,.0f}",
            f"{r['template_share']:.0%}",
            f"{r['synchrony']:.2f}",
            f"{r['activation_spread_hours']:.1f}",
        )
    return t


def cluster_why(r: dict) -> Padding:
    """Why a cluster exists and how it was scored, as sentences under its id.

    The evidence and its rarity are sentences an analyst reads to judge a link: in a
    table column of an 80-column terminal they wrapped a word per line, so they are set
    out in full, word-wrapped at the terminal's width (plain text: no markup is read).
    """
    text = Text(r["cluster_id"], style="bold")
    for label, value in (
        ("linked because", r["evidence"]),
        ("how rare", r.get("evidence_rarity", "")),
        ("behaviour", cluster_behaviour_text(r)),
    ):
        if value:
            text.append(f"\n  {label}: ")
            text.append(str(value))
    return Padding(text, (1, 0, 0, 0))
