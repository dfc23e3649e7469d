"""Compare model variants on labelled feature tables, side by side, in one run.

Tuning aid for the anomaly model: given one or more simulated populations (each a
directory holding ``features.parquet`` from ``detector features`` and ``labels.csv``
from ``detector simulate``), fit every named variant of :class:`AnomalyModel` on each
population and print PR-AUC, ROC-AUC, recall at k, and per-scenario figures (share of
an extraction scenario within the top k, share of a benign scenario flagged).

Usage::

    python scripts/quality.py POP_DIR [POP_DIR ...] [--variant NAME=JSON ...] [--json]

Variants are keyword arguments of ``AnomalyModel`` as JSON, e.g.
``--variant flat='{"peer_quantiles": []}'``; ``default`` is always included. Features
are built once per population (by ``detector features``), so a variant costs one fit.

It scores accounts only: cases, sub-streams and the scoring of quiet clusters as
unlinked (detector.quiet_clusters) need the run's clusters and sub-streams, which a
feature table does not carry. ``detector train`` + ``score`` + ``evaluate`` measure the
whole pipeline; use this to compare model settings, not to quote the detector's figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from detector import schema
from detector.evaluate import evaluate
from detector.model import AnomalyModel
from detector.scored import score_frame


def run_variant(features: pd.DataFrame, labels: pd.DataFrame, params: dict[str, Any]) -> dict:
    """Fit one variant on the population and evaluate its scores against the labels."""
    model = AnomalyModel(**params).fit(features)
    table = score_frame(model, features, explain_top=0, n_reasons=1)
    return evaluate(table, labels)


def summary_rows(name: str, pop: str, result: dict) -> list[dict[str, Any]]:
    """Headline and per-scenario rows of one evaluation, for a flat table."""
    rows = [
        {
            "population": pop,
            "variant": name,
            "scenario": "(all)",
            "pr_auc": result["pr_auc"],
            "roc_auc": result["roc_auc"],
            "recall_at_k": result["recall_at_k"],
        }
    ]
    for scenario, info in sorted(result.get("per_scenario", {}).items()):
        share = (
            info.get("share_in_top_k")
            if info.get("label") == schema.LABEL_EXTRACTION
            else info.get("share_flagged")
        )
        rows.append(
            {
                "population": pop,
                "variant": name,
                "scenario": f"{info.get('label', '?')[:1]}:{scenario}",
                "share": share,
                "accounts": info.get("accounts"),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("populations", nargs="+", type=Path)
    parser.add_argument("--variant", action="append", default=[], help="NAME=JSON kwargs")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    variants: dict[str, dict[str, Any]] = {"default": {}}
    for item in args.variant:
        name, _, spec = item.partition("=")
        variants[name] = json.loads(spec or "{}")
    rows: list[dict[str, Any]] = []
    for pop in args.populations:
        features = pd.read_parquet(pop / "features.parquet")
        if schema.ACCOUNT_ID in features.columns:
            features = features.set_index(schema.ACCOUNT_ID)
        labels = pd.read_csv(pop / "labels.csv", dtype=str, keep_default_na=False)
        for name, params in variants.items():
            rows.extend(summary_rows(name, pop.name, run_variant(features, labels, params)))
    frame = pd.DataFrame(rows)
    if args.json:
        print(frame.to_json(orient="records", indent=1))
        return 0
    head = frame[frame["scenario"] == "(all)"][
        ["population", "variant", "pr_auc", "roc_auc", "recall_at_k"]
    ]
    print(head.round(3).to_string(index=False))
    per = frame[frame["scenario"] != "(all)"].pivot_table(
        index=["population", "scenario"], columns="variant", values="share"
    )
    print(per.round(2).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
