"""``detector evaluate``: detection quality of a scoring against labels, with baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from detector.cli.common import JsonOpt, console, fail, user_errors
from detector.config import DEFAULT
from detector.evaluate import check_label_overlap, evaluate
from detector.ingest import read_labels
from detector.outputs import read_scoring


def _fmt(v: Any) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to ``app``."""

    @app.command("evaluate")
    @user_errors
    def evaluate_cmd(
        scores: Annotated[
            Path,
            typer.Argument(help="SCORES.csv from `detector score`.", exists=True, dir_okay=False),
        ],
        labels: Annotated[
            Path | None,
            typer.Option(
                "--labels",
                help="Labels CSV (account_id,label[,scenario]).",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        state: Annotated[
            Path | None,
            typer.Option(
                "--state", help="Take labels from the analysts' verdicts in this state dir."
            ),
        ] = None,
        min_overlap: Annotated[
            float,
            typer.Option(
                "--min-overlap",
                min=0.0,
                max=1.0,
                help="Share of a labels file's accounts that must have been scored "
                "(analysts' verdicts from --state need only one).",
            ),
        ] = DEFAULT.min_label_overlap,
        as_json: JsonOpt = False,
    ) -> None:
        """Detection quality of a scoring against labels, with two baselines.

        ROC/PR-AUC, precision/recall at k, recall at 1% FPR, per scenario, and the lift
        over a volume ranking and a naive isolation forest. Says how many labelled
        accounts were matched, and fails when the labels are of another population.

        Example: detector evaluate scores.csv --labels sim/labels.csv --json
        """
        if (labels is None) == (state is None):
            raise fail("give exactly one of --labels LABELS.csv or --state DIR")
        if labels is not None:
            truth, source, min_share = read_labels(labels), str(labels), min_overlap
        else:
            from detector.store import Store

            with Store.open(state) as store:  # type: ignore[arg-type]
                truth = store.labels_frame()
            if truth.empty:
                raise fail(f"{state}: no analyst verdicts recorded yet (detector label ...)")
            # verdicts accumulate over many nights: one scored account is enough
            source, min_share = f"{state} (analysts' verdicts)", 0.0
        scoring = read_scoring(scores)
        matched, n_labels = check_label_overlap(
            scoring.table, truth, min_share=min_share, source=source
        )
        result = evaluate(scoring.table, truth, features=scoring.features)
        result["n_labels"] = n_labels
        if as_json:
            typer.echo(json.dumps(result, indent=2, default=float))
            return
        console.print(
            f"matched {matched:,} of {n_labels:,} labelled accounts to the "
            f"{result['n_accounts']:,} scored accounts ({source})",
            markup=False,
        )
        n, k = result["n_labelled"], result["k"]
        t = Table(title=f"Detection quality ({n:,} labelled accounts, k = {k})")
        t.add_column("metric")
        t.add_column("detector", justify="right")
        base = result.get("baselines", {})
        names = [n for n in ("volume", "naive_iforest") if base.get(n, {}).get("available")]
        for n in names:
            t.add_column(n.replace("_", " "), justify="right")
        for metric in ("roc_auc", "pr_auc", "recall_at_k"):
            t.add_row(metric, _fmt(result.get(metric)), *[_fmt(base[n].get(metric)) for n in names])
        for metric in ("precision_at_k", "recall_at_1pct_fpr"):
            t.add_row(metric, _fmt(result.get(metric)), *["" for _ in names])
        console.print(t)
        s = Table(title="Per scenario")
        for col in ("scenario", "label", "accounts", "in top k / flagged"):
            s.add_column(col)
        for name, row in sorted(result["per_scenario"].items()):
            share = (
                row.get("share_in_top_k")
                if row.get("label") == "extraction"
                else row.get("share_flagged")
            )
            s.add_row(name, str(row.get("label")), str(row.get("accounts")), _fmt(share))
        console.print(s)
