"""The report's cases section: flagged cases first, each once, members folded.

The case data (members, the case reason written once, evidence, timeline bars) is
prepared here as plain values and rendered by ``templates/cases.html.j2`` with
autoescaping (:mod:`detector.report.templating`). With a state directory the section
marks cases first alerted by this run (``NEW``) and draws each case's score over the
nightly runs (:func:`~detector.cases.case_score_by`); without one it says what it would need.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.cases import SINGLE_PREFIX, case_score_by, member_case_scores
from detector.report.constants import BAND_COLOURS, MAX_CASE_MEMBERS, OPEN_CASES
from detector.report.inputs import ReportInputs, scored_window
from detector.report.templating import render_template

__all__ = ["case_first_alerts", "cases_section"]

BAR_WIDTH: Final = 22
BAR_GAP: Final = 12
"""Between bars: a date label ("11-09" at 9 px) is wider than a bar; 8 px let them touch."""
CHART_HEIGHT: Final = 70
FIRST_REASON: Final = "_first_reason"


def _with_cases(table: pd.DataFrame) -> pd.DataFrame:
    """The score table with ``case_id`` / ``case_score`` (derived for older score files)."""
    out = table.copy()
    if S.CASE_ID not in out.columns:
        cluster = out[S.CLUSTER_ID].fillna("").astype(str)
        out[S.CASE_ID] = cluster.where(cluster != "", SINGLE_PREFIX + out[S.ACCOUNT_ID].astype(str))
    if S.CASE_SCORE not in out.columns:
        scores = out[S.SCORE].to_numpy(dtype=float)
        out[S.CASE_SCORE] = member_case_scores(scores, out[S.CASE_ID].to_numpy(dtype=object))
    out[FIRST_REASON] = (
        out[S.REASONS].fillna("").astype(str).str.split(S.REASONS_SEPARATOR, n=1).str[0]
    )
    return out


def _store_facts(
    inp: ReportInputs, members: list[str], run_day: dt.date | None
) -> tuple[dict[str, str], pd.DataFrame]:
    """First alert date per member, and the members' per-run scores (empty without state)."""
    if inp.state is None:
        return {}, pd.DataFrame(columns=["run_date", S.ACCOUNT_ID, S.SCORE, S.CASE_SCORE])
    from detector.store import FIRST_ALERT_DATE, Store

    with Store.open(inp.state) as store:
        on = run_day or dt.datetime.now(dt.UTC).date()
        alerted = store.alerted_accounts(on).set_index(S.ACCOUNT_ID)[FIRST_ALERT_DATE]
        history = store.score_timeline(members, on)
    return {str(k): str(v) for k, v in alerted.items()}, history


def _with_tonight(
    first_alert: dict[str, str], history: pd.DataFrame, members: pd.DataFrame, run_day: dt.date
) -> tuple[dict[str, str], pd.DataFrame]:
    """The store's facts completed with the run being reported.

    The nightly job writes its report before it commits the run to the store, so the
    store does not yet hold tonight's scores or alerts: without this, the job's own
    report marked no case NEW and its timelines stopped at last night. A flagged member
    the store has never alerted counts as first alerted tonight, and tonight's bar is
    the score table's (the same whether or not the run is already recorded)."""
    tonight = str(run_day)
    flagged = members.loc[members[S.FLAGGED].astype(bool), S.ACCOUNT_ID].astype(str)
    firsts = dict.fromkeys(flagged, tonight) | first_alert
    scores = members[[S.ACCOUNT_ID, S.SCORE, S.CASE_SCORE]].assign(run_date=tonight)
    earlier = history[history["run_date"].astype(str) != tonight]
    if earlier.empty:
        return firsts, scores
    return firsts, pd.concat([earlier, scores], ignore_index=True)


def _timeline(history: pd.DataFrame) -> dict[str, Any] | None:
    """Bars of the case's score per run (numbers only reach the SVG)."""
    if history.empty:
        return None
    per_run = case_score_by(
        history["run_date"].astype(str).to_numpy(), history[S.SCORE], history[S.CASE_SCORE]
    )
    bars = []
    for i, (day, value) in enumerate(per_run.items()):  # one per run
        h = max(1.0, float(value) / 100.0 * (CHART_HEIGHT - 24))
        bars.append(
            {
                "x": 4 + i * (BAR_WIDTH + BAR_GAP),
                "y": round(CHART_HEIGHT - 12 - h, 1),
                "w": BAR_WIDTH,
                "h": round(h, 1),
                "value": float(value),
                "label": str(day)[5:],
            }
        )
    return {"bars": bars, "width": 8 + len(bars) * (BAR_WIDTH + BAR_GAP), "height": CHART_HEIGHT}


def case_first_alerts(members: pd.DataFrame, first_alert: dict[str, str]) -> pd.Series:
    """Each case's earliest first-alert date (ISO text) over its members, from
    ``first_alert`` (account id -> date); a case none of whose members was ever alerted
    is absent. Members never alerted are left out, not compared with dates (a case mixing
    both once broke the report with a TypeError)."""
    firsts = members[S.ACCOUNT_ID].astype(str).map(first_alert)
    known = firsts.notna().to_numpy()
    return firsts[known].astype(str).groupby(members.loc[known, S.CASE_ID]).min()


def cases_section(inp: ReportInputs, anchors: dict[str, str]) -> str:
    """The cases section's HTML: up to ``max_accounts`` flagged cases by case score,
    the new ones first among them (see :func:`_pick_cases`)."""
    table = _with_cases(inp.table)
    flagged_cases = table.loc[table[S.FLAGGED].astype(bool), S.CASE_ID].unique()
    members_all = table[table[S.CASE_ID].isin(flagged_cases)]
    order = (
        members_all.groupby(S.CASE_ID)[S.CASE_SCORE]
        .max()
        .sort_values(ascending=False, kind="stable")
    )
    run_day = _run_day(inp.meta)
    first_alert, history = _store_facts(
        inp, members_all[S.ACCOUNT_ID].astype(str).tolist(), run_day
    )
    if inp.state is not None and run_day is not None:
        first_alert, history = _with_tonight(first_alert, history, members_all, run_day)
    case_first = case_first_alerts(members_all, first_alert)
    new_cases = set(case_first[case_first == str(run_day)].index)
    shown = _pick_cases(order, new_cases, max(inp.max_accounts, 1))
    members_all = members_all[members_all[S.CASE_ID].isin(shown)]
    evidence = {str(c.get("cluster_id", "")): c for c in inp.clusters}
    statuses = inp.cases["status"] if inp.cases is not None else pd.Series(dtype=object)
    cases = []
    for case_id in shown:  # one per flagged case shown
        rows = members_all[members_all[S.CASE_ID] == case_id].sort_values(
            [S.SCORE, S.ACCOUNT_ID], ascending=[False, True]
        )
        ids = rows[S.ACCOUNT_ID].astype(str).tolist()
        reason = rows[FIRST_REASON].mode()
        reason_text = str(reason.iloc[0]) if len(reason) else ""
        band = str(rows[S.BAND].mode().iloc[0]) if S.BAND in rows and len(rows) else ""
        cluster = evidence.get(str(case_id))
        member_status = statuses.reindex(ids).dropna()
        cases.append(
            {
                "case_id": str(case_id),
                "case_score": float(order[case_id]),
                "size": len(ids),
                "flagged": int(rows[S.FLAGGED].astype(bool).sum()),
                "band": band,
                "colour": BAND_COLOURS.get(band, "#64748b"),
                "status": ", ".join(sorted(set(member_status.astype(str)))),
                "new": case_id in new_cases,
                "reason": reason_text,
                "evidence": str(cluster.get("evidence", "")) if cluster else "",
                "rarity": str(cluster.get("evidence_rarity", "")) if cluster else "",
                "links": ", ".join(
                    f"{k} ×{v}" for k, v in ((cluster or {}).get("evidence_counts") or {}).items()
                ),
                "timeline": _timeline(history[history[S.ACCOUNT_ID].isin(ids)]),
                "members": [
                    {
                        "account_id": str(m[S.ACCOUNT_ID]),
                        "anchor": anchors.get(m[S.ACCOUNT_ID], ""),
                        "score": float(m[S.SCORE]),
                        "flagged": bool(m[S.FLAGGED]),
                        "band": str(m.get(S.BAND, "")),
                        "reason": "" if m[FIRST_REASON] == reason_text else str(m[FIRST_REASON]),
                    }
                    for m in rows.head(MAX_CASE_MEMBERS).to_dict("records")
                ],
                "hidden": max(0, len(ids) - MAX_CASE_MEMBERS),
            }
        )
    return render_template(
        "cases.html.j2",
        cases=cases,
        more=max(0, len(order) - len(shown)),
        new_known=inp.state is not None and run_day is not None,
        open_first=OPEN_CASES,
    )


def _pick_cases(order: pd.Series, new_cases: set[str], limit: int) -> list[str]:
    """Which flagged cases the section shows, in case-score order.

    Tonight's new cases are what a nightly report is read for, and they are often
    quieter than last week's campaigns still under review: ranked by score alone they
    fell past the shown cases (the demo's second night: all 7 new cases ranked 100th to
    107th of 108). So new cases take the places first, the rest by score."""
    is_new = order.index.isin(list(new_cases))
    take_new = is_new & (np.cumsum(is_new) <= limit)
    room = limit - int(take_new.sum())
    take_rest = ~is_new & (np.cumsum(~is_new) <= room)
    return order.index[take_new | take_rest].tolist()


def _run_day(meta: dict[str, Any]) -> dt.date | None:
    """The run date of a nightly scoring, else the last day of the scored window."""
    if meta.get("run_date"):
        try:
            return dt.date.fromisoformat(str(meta["run_date"]))
        except ValueError:
            pass
    return scored_window(meta)[1]
