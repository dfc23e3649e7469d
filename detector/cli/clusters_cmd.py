"""``detector clusters``: groups of coordinated accounts, with evidence and behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

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
        t = Table(title=f"{len(rows)} clusters")
        for col in (
            "cluster",
            "members",
            "flagged",
            "max score",
            "req/day",
            "shared template",
            "synchrony",
            "start spread (h)",
            "evidence",
            "how rare",
            "behaviour",
        ):
            t.add_column(col, overflow="fold")
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
                r["evidence"],
                r.get("evidence_rarity", ""),
                cluster_behaviour_text(r),
            )
        console.print(t)
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
