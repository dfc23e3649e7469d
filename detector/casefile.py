"""One case as an analyst opens it: members, what links them, what they share, timeline.

Everything comes from the state directory the nightly job keeps: member scores and
statuses from the store, the linking evidence from the night's
``scores.clusters.json``, the shared infrastructure (cards, orgs, countries, plans,
creation times) from the account table the job remembers, and the timeline from the
per-run scores and alerts. The result is plain data (:func:`case_file`), rendered by
``detector case`` as tables or JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Final

import pandas as pd

from detector import schema as S
from detector.cases import SINGLE_PREFIX, case_score_by
from detector.errors import UserError
from detector.ingest import IngestError
from detector.ingest.tables import read_accounts
from detector.nightly.layout import RUNS_DIR, SCORES_NAME
from detector.nightly.remembered import ACCOUNTS_INPUT
from detector.outputs import sidecar
from detector.store import CASE_STATUS, RUN_DATE, VERDICT, Store

__all__ = ["SHARED_COLUMNS", "case_file", "plain"]

SHARED_COLUMNS: Final[tuple[str, ...]] = (S.PAYMENT_FINGERPRINT, S.ORG_ID, S.COUNTRY, S.PLAN)
"""Account-table columns whose values the members may share."""
TOP_SHARED: Final = 5
"""Shared values listed per column (the rest are counted)."""


def plain(value: Any) -> Any:
    """A frame cell as JSON: missing values become ``None``, numpy scalars Python ones."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _evidence(state: Path, case_id: str, run_date: str | None) -> dict[str, Any] | None:
    """The cluster's entry of that night's ``scores.clusters.json`` (members omitted)."""
    if case_id.startswith(SINGLE_PREFIX) or run_date is None:
        return None
    path = sidecar(state / RUNS_DIR / run_date / SCORES_NAME, "clusters")
    try:
        clusters = json.loads(path.read_text(encoding="utf-8")).get("clusters", [])
    except (OSError, ValueError):
        return None
    for cluster in clusters:  # a night has few clusters
        if cluster.get("cluster_id") == case_id:
            return {k: v for k, v in cluster.items() if k != "accounts"}
    return None


def _infrastructure(store: Store, members: list[str]) -> dict[str, Any]:
    """What the members share in the remembered account table (values seen twice or more)."""
    path = store.recorded_inputs().get(ACCOUNTS_INPUT)
    if path is None:
        return {"source": None, "note": "no account table recorded by the nightly job"}
    try:
        table = read_accounts(Path(path))
    except (IngestError, OSError) as exc:
        return {"source": path, "note": f"account table unreadable: {exc}"}
    rows = table.reindex(members)
    known = int(rows.notna().any(axis=1).sum())
    out: dict[str, Any] = {"source": path, "members_in_table": known, "shared": {}}
    for column in SHARED_COLUMNS:
        if column not in rows.columns:
            continue
        values = rows[column].replace("", pd.NA).dropna().value_counts()
        shared = values[values >= 2]
        out["shared"][column] = {
            "distinct": len(values),
            "shared_by": {str(k): int(v) for k, v in shared.head(TOP_SHARED).items()},
        }
    if S.CREATED_AT in rows.columns:
        created = pd.to_datetime(rows[S.CREATED_AT], utc=True, errors="coerce").dropna()
        if len(created):
            spread = (created.max() - created.min()).total_seconds() / 3600.0
            out["created"] = {
                "first": created.min().isoformat(),
                "last": created.max().isoformat(),
                "spread_hours": round(spread, 2),
            }
    return out


def _timeline(store: Store, members: list[str], on: str) -> list[dict[str, Any]]:
    """Per run: members scored, the case's score (:func:`~detector.cases.case_score_by`),
    median and max member score, flagged members, alerts that night."""
    history = store.score_timeline(members, on)
    if history.empty:
        return []
    per_run = history.groupby(RUN_DATE).agg(
        scored=(S.ACCOUNT_ID, "size"),
        median_score=(S.SCORE, "median"),
        max_score=(S.SCORE, "max"),
        flagged=(S.FLAGGED, "sum"),
    )
    case_score = case_score_by(
        history[RUN_DATE].astype(str).to_numpy(), history[S.SCORE], history[S.CASE_SCORE]
    )
    per_run.insert(1, "case_score", case_score.reindex(per_run.index.astype(str)).to_numpy())
    alerts = store.alerts_frame()
    alerts = alerts[alerts[S.ACCOUNT_ID].isin(members) & (alerts[RUN_DATE] <= on)]
    per_run["alerts"] = alerts.groupby(RUN_DATE).size().reindex(per_run.index).fillna(0)
    per_run = per_run.round({"case_score": 2, "median_score": 2, "max_score": 2})
    per_run["flagged"] = per_run["flagged"].astype(int)
    per_run["alerts"] = per_run["alerts"].astype(int)
    return _records(per_run.reset_index())


def case_file(store: Store, state: Path, case_id: str, on: str) -> dict[str, Any]:
    """Everything about one case as of ``on`` (plain data for JSON or tables).

    Raises :class:`UserError` when no run on or before ``on`` had the case. Read in one
    snapshot of the store, so a nightly run committing meanwhile does not mix in.
    """
    with store.snapshot():
        return _case_file(store, state, case_id, on)


def _case_file(store: Store, state: Path, case_id: str, on: str) -> dict[str, Any]:
    """:func:`case_file`'s reads and assembly, inside the caller's snapshot."""
    members = store.case_members(case_id, on)
    if members.empty:
        raise UserError(
            f"{case_id!r}: no run in {state} on or before {on} has this case; list the "
            f"cases with `detector cases --state {state}`"
        )
    ids = members[S.ACCOUNT_ID].astype(str).tolist()
    statuses = store.cases(on).set_index(S.ACCOUNT_ID)
    verdicts = store.verdict_details(latest=True).set_index(S.ACCOUNT_ID)
    table = members.assign(
        status=members[S.ACCOUNT_ID].map(statuses[CASE_STATUS]),
        verdict=members[S.ACCOUNT_ID].map(verdicts[VERDICT]),
        verdict_by=members[S.ACCOUNT_ID].map(verdicts["analyst"]),
        verdict_expires=members[S.ACCOUNT_ID].map(verdicts["expires"]),
    ).drop(columns=[S.CASE_ID])
    run_date = str(members[RUN_DATE].iloc[0])
    case_score = members[S.CASE_SCORE].dropna()
    return {
        "case_id": case_id,
        "on": on,
        "run_date": run_date,
        "case_score": plain(case_score.iloc[0])
        if len(case_score)
        else plain(members[S.SCORE].median()),
        "size": len(ids),
        "flagged_members": int(members[S.FLAGGED].sum()),
        "members": _records(table),
        "evidence": _evidence(state, case_id, run_date),
        "infrastructure": _infrastructure(store, ids),
        "timeline": _timeline(store, ids, on),
    }
