"""The tables of ``detector evaluate --feedback-share``: what learning from verdicts
gains over the unsupervised score, for one protocol's run (:func:`render_feedback`: a
random draw, the time split, the analysts' queue) and over several random draws
(:func:`render_draws`). The protocol itself is :mod:`detector.feedback`; this module
only prints its JSON-ready results."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from detector.cli.common import console

__all__ = ["metric_cell", "render_draws", "render_feedback"]


def metric_cell(v: Any) -> str:
    """A metric as a table cell: three decimals, ``n/a`` when undefined (``None``)."""
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def render_feedback(fb: dict[str, Any]) -> None:
    """Side by side: the unsupervised and the learned score on the held-out accounts."""
    what = {"time": "time split", "queue": f"queue of {fb.get('queue')}"}.get(
        fb["protocol"], "random draw"
    )
    if not fb.get("available", True):
        console.print(f"learning from verdicts ({what}): {fb['note']}", markup=False)
        return
    v = fb["verdicts"]
    cut = f", verdicts first seen before {fb['cut_day']}" if fb["protocol"] == "time" else ""
    how = (
        "scored as `detector score` scores them"
        if fb.get("scores") == "production"
        else "each account on its own features (no sub-stream or campaign lift: pass --log)"
    )
    t = Table(
        title=f"Learning from verdicts ({what}{cut}): {v['n']:,} verdicts "
        f"({v['n_extraction']} extraction), measured on the other "
        f"{fb['evaluated_accounts']:,} labelled accounts, {how}"
    )
    for col in ("metric", "unsupervised", "learned", "change"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for metric in ("pr_auc", "roc_auc", "recall_at_k", "recall_at_1pct_fpr"):
        change = fb["delta"].get(metric)
        t.add_row(
            metric,
            metric_cell(fb["unsupervised"][metric]),
            metric_cell(fb["learned"][metric]),
            "n/a" if change is None else f"{change:+.3f}",
        )
    console.print(t)
    if fb["learned_layer"] != "fitted":
        console.print(f"no learned layer: {fb['learned_layer']}", markup=False)
    elif fb.get("learned_weight") is not None:
        from detector.learned_fit import weight_note

        calm = (fb.get("learned_calm") or 0.0, fb.get("calming_accounts") or 0)
        console.print(f"learned layer: {weight_note(fb['learned_weight'], *calm)}", markup=False)
    s = Table(title="Per scenario (extraction: share in top k; benign: share flagged)")
    for col in ("scenario", "label", "accounts", "unsupervised", "learned"):
        s.add_column(col)
    learned = fb["learned"]["per_scenario"]
    for name, row in sorted(fb["unsupervised"]["per_scenario"].items()):
        key = "share_in_top_k" if row.get("label") == "extraction" else "share_flagged"
        s.add_row(
            name,
            str(row.get("label")),
            str(row.get("accounts")),
            metric_cell(row.get(key)),
            metric_cell(learned.get(name, {}).get(key)),
        )
    console.print(s)


def render_draws(summary: dict[str, Any]) -> None:
    """The random draw repeated: the change's spread, and each scenario's worst draw."""
    from detector.feedback import FLAGGED_BENIGN

    n = summary["draws"]
    if not n:
        console.print(f"learning from verdicts over several draws: {summary['note']}", markup=False)
        return
    first, last = summary["seeds"][0], summary["seeds"][-1]
    t = Table(
        title=f"Learning from verdicts over {n} random draws (seeds {first}-{last}, "
        f"{summary['share']:.0%} of the labelled accounts each): change on the other accounts"
    )
    for col in ("metric", "mean", "min", "max"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for metric in ("pr_auc", "roc_auc", "recall_at_k", "recall_at_1pct_fpr"):
        d = summary["delta"].get(metric)
        if d is not None:
            t.add_row(metric, *(f"{d[k]:+.4f}" for k in ("mean", "min", "max")))
    d = summary["delta"].get(FLAGGED_BENIGN)
    if d is not None:
        t.add_row("benign accounts flagged", *(f"{d[k]:+.1f}" for k in ("mean", "min", "max")))
    console.print(t)
    s = Table(
        title="Per scenario, mean over the draws (extraction: share in top k; benign: share "
        "flagged); worst: the draw's change most against the layer"
    )
    for col in ("scenario", "label", "unsupervised", "learned", "worst"):
        s.add_column(col, justify="left" if col in ("scenario", "label") else "right")
    for name, row in sorted(summary["per_scenario"].items()):
        s.add_row(
            name,
            str(row["label"]),
            metric_cell(row["unsupervised"]),
            metric_cell(row["learned"]),
            f"{row['worst_change']:+.3f}",
        )
    console.print(s)
