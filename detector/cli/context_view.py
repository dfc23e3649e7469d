"""The context block of ``detector explain``: actual vs typical, account metadata,
decisions and the score timeline, gathered (:func:`account_context`) and printed
(:func:`render_context`). Every value from the log or the store is made
terminal-safe before printing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from detector.cli.common import console
from detector.cli.state_common import cell
from detector.context import account_metadata, actual_vs_typical, decision_history, score_history
from detector.ingest.tables import read_accounts
from detector.nightly.remembered import ACCOUNTS_INPUT
from detector.store import Store

__all__ = ["account_context", "render_context"]


def account_context(
    account_id: str,
    *,
    features: pd.DataFrame | None,
    names: Sequence[str],
    accounts: Path | None,
    state: Path | None,
) -> dict[str, Any]:
    """Context for ``explain``: ``typical``, ``metadata``, ``decisions``, ``history``.

    The account table is ``accounts``, else the one the nightly job remembers in
    ``state``; decisions and history need ``state`` (``None`` without it).
    """
    out: dict[str, Any] = {"typical": None, "metadata": None, "decisions": None, "history": None}
    table_path = accounts
    if state is not None and table_path is None:
        with Store.open(state) as store:
            remembered = store.recorded_inputs().get(ACCOUNTS_INPUT)
        table_path = Path(remembered) if remembered else None
    table = read_accounts(table_path) if table_path is not None else None
    if state is not None:
        with Store.open(state) as store:
            out["decisions"] = decision_history(store, account_id, table)
            out["history"] = score_history(store, account_id)
    out["metadata"] = account_metadata(table, account_id)
    if features is not None and account_id in features.index and names:
        out["typical"] = actual_vs_typical(features, account_id, names, table)
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:,.3g}" if isinstance(value, float) else str(value)


def render_context(context: dict[str, Any], features: Sequence[str] = ()) -> None:
    """Print the context block; ``features`` orders and limits the actual-vs-typical rows."""
    meta = context.get("metadata")
    if meta:
        if meta.get("in_account_table"):
            shown = ", ".join(
                f"{k} {cell(v, 40)}" for k, v in meta.items() if k != "in_account_table" and v
            )
            console.print(f"account: {shown}")
        else:
            console.print("account: not in the account table")
    typical = context.get("typical")
    if typical and features:
        peers = typical["peer_group"]
        title = "Actual vs typical: population median" + (
            f", peers = plan {cell(peers['plan'])} ({peers['accounts']} accounts)" if peers else ""
        )
        table = Table(title=title)
        for name in ("feature", "actual", "population", "peers"):
            table.add_column(name, justify="left" if name == "feature" else "right")
        rows = {r["feature"]: r for r in typical["features"]}
        for name in features:  # the explanation's top features
            r = rows.get(name)
            if r is not None:
                table.add_row(
                    name, _fmt(r["actual"]), _fmt(r["population_median"]), _fmt(r["peer_median"])
                )
        console.print(table)
    history = context.get("history")
    if history and history["runs"]:
        runs = history["runs"]
        console.print(
            f"score over {len(runs)} nightly run(s) {runs[0]['run_date']}..{runs[-1]['run_date']}:"
            f" {history['sparkline']} (0-100)"
        )
    decisions = context.get("decisions")
    if decisions:
        lines = (
            [
                f"verdict {cell(v['verdict'])} by {cell(v['analyst'], 20)}"
                + f" at {v['created_at'][:10]}"
                + (
                    f" (answered {v['verdict_score']:.1f})"
                    if v["verdict_score"] is not None
                    else ""
                )
                + (f", expires {v['expires']}" if v["expires"] else "")
                + f": {cell(v['note'], 80)}"
                for v in decisions["verdicts"]
            ]
            + [
                f"suppressed through {s['until']} by {cell(s['analyst'], 20)}:"
                + f" {cell(s['reason'], 80)}"
                + (f" (lifted {s['lifted_at'][:10]})" if s["lifted_at"] else "")
                for s in decisions["suppressions"]
            ]
            + [
                f"rule {r['rule_id']} ({r['field']}) through {r['until']}: {cell(r['reason'], 80)}"
                for r in decisions["rules"]
            ]
        )
        alerts = ", ".join(f"{a['run_date']} ({a['kind']})" for a in decisions["alerts"])
        console.print("decisions:" + ("" if lines else " none"))
        for line in lines:
            console.print(f"  {line}")
        if alerts:
            console.print(f"  alerted {alerts}")
