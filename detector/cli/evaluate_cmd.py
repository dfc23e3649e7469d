"""``detector evaluate``: detection quality of a scoring against labels, with baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from detector.cli.common import JsonOpt, console, fail, user_errors
from detector.evaluate import evaluate
from detector.ingest import read_labels
from detector.scoring import read_scores, sidecar


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
        as_json: JsonOpt = False,
    ) -> None:
        """ROC/PR-AUC, precision/recall at k, recall at 1% FPR, per scenario, and the
        lift over two baselines (volume ranking, a naive isolation forest).

        Example: detector evaluate scores.csv --labels sim/labels.csv --json
        """
        if (labels is None) == (state is None):
            raise fail("give exactly one of --labels LABELS.csv or --state DIR")
        if labels is not None:
            truth = read_labels(labels)
        else:
            from detector.store import Store

            with Store.open(state) as store:  # type: ignore[arg-type]
                truth = store.labels_frame()
            if truth.empty:
                raise fail(f"{state}: no analyst verdicts recorded yet (detector label ...)")
        table = read_scores(scores)
        feats_path = sidecar(scores, "features")
        features = pd.read_parquet(feats_path) if feats_path.exists() else None
        result = evaluate(table, truth, features=features)
        if as_json:
            typer.echo(json.dumps(result, indent=2, default=float))
            return
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
