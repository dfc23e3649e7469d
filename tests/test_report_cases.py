"""The report follows the cases: flagged cases first, each once, members folded, NEW and
a timeline with the state directory; rendered from autoescaped templates."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
from conftest import QUEUE_NIGHTS, QueueSeason

from detector import schema as S
from detector.nightly import run_nightly
from detector.report import render_report
from detector.report.templating import render_template
from detector.store import Store

ON = "2026-11-08"


def _section(html: str) -> str:
    start = html.index('<section id="cases">')
    return html[start : html.index("</section>", start)]


def test_each_flagged_case_appears_once_with_its_members_folded(queue_state: Path) -> None:
    scores = queue_state / "runs" / ON / "scores.csv"
    table = pd.read_parquet(scores.with_suffix(".parquet"))
    flagged_cases = table.loc[table[S.FLAGGED], S.CASE_ID].unique()
    section = _section(render_report(scores_path=scores, state=queue_state))
    shown = re.findall(r'<code class="id">([^<]*)</code>', section)
    assert sorted(shown) == sorted(flagged_cases)  # each flagged case, once
    assert section.count('<details class="case"') == len(flagged_cases)
    scores_shown = [float(s) for s in re.findall(r"case score <b>([0-9.]+)</b>", section)]
    assert scores_shown == sorted(scores_shown, reverse=True)
    clusters = [c for c in flagged_cases if not c.startswith("acct:")]
    for cid in clusters:  # every member of a flagged cluster is listed in its case
        members = table.loc[table[S.CASE_ID] == cid, S.ACCOUNT_ID]
        block = section[section.index(f'<code class="id">{cid}</code>') :]
        block = block[: block.index("</details>")]
        assert all(m in block for m in members)
    with Store.open(queue_state) as store:
        first = store.alerted_accounts(ON).set_index(S.ACCOUNT_ID)["first_alert_date"]
    new_cases = {
        c for c in flagged_cases
        if first.reindex(table.loc[table[S.CASE_ID] == c, S.ACCOUNT_ID]).dropna().min() == ON
    }  # fmt: skip
    assert section.count('<b class="new">NEW</b>') == len(new_cases)
    assert section.count("<svg") == len(flagged_cases)  # a timeline per case: two runs each
    assert section.count("<rect") == 2 * len(flagged_cases)


def test_without_the_state_the_section_says_what_it_needs(queue_state: Path) -> None:
    section = _section(render_report(scores_path=queue_state / "runs" / ON / "scores.csv"))
    assert "--state" in section and "NEW" not in section and "<svg" not in section


def test_templates_escape_every_value() -> None:
    hostile = '<script>alert(1)</script>"\u202e\x1b[2J'
    case = {
        "case_id": hostile, "case_score": 90.0, "size": 1, "flagged": 1, "band": "high",
        "colour": "#000", "status": hostile, "new": True, "reason": hostile,
        "evidence": hostile, "links": hostile, "rarity": hostile, "timeline": None, "hidden": 0,
        "members": [{"account_id": hostile, "anchor": "", "score": 90.0, "flagged": True,
                     "band": "high", "reason": hostile}],
    }  # fmt: skip
    html = render_template("cases.html.j2", cases=[case], more=0, new_known=True, open_first=1)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "\u202e" not in html and "\x1b" not in html and "&#34;" in html


def test_the_nightly_jobs_own_report_marks_tonight(
    queue_season: QueueSeason, queue_state: Path
) -> None:
    """The job writes its report before it records the night in the store: its NEW
    marks and each timeline's last bar must come from the run itself (they did not)."""
    night = QUEUE_NIGHTS[-1] + dt.timedelta(days=1)
    run_nightly(logs=queue_season.logs, date=night, state=queue_state, quiet=True)
    run = queue_state / "runs" / night.isoformat()
    table = pd.read_parquet(run / "scores.parquet")
    flagged_cases = table.loc[table[S.FLAGGED], S.CASE_ID].unique()
    section = _section((run / "report.html").read_text(encoding="utf-8"))
    with Store.open(queue_state) as store:  # the night is recorded now: the truth
        first = store.alerted_accounts(night).set_index(S.ACCOUNT_ID)["first_alert_date"]
    new_cases = {
        c for c in flagged_cases
        if first.reindex(table.loc[table[S.CASE_ID] == c, S.ACCOUNT_ID]).dropna().min()
        == night.isoformat()
    }  # fmt: skip
    assert section.count('<b class="new">NEW</b>') == len(new_cases)
    assert section.count("<rect") == 3 * len(flagged_cases)  # three runs, tonight's included
    assert f">{night.isoformat()[5:]}<" in section
    for cid in flagged_cases:  # tonight's bar is the case score, not a median member's
        block = section[section.index(f'<code class="id">{cid}</code>') :]
        bars = re.findall(r'font-size="9">(\d+)</text>', block[: block.index("</details>")])
        case_score = table.loc[table[S.CASE_ID] == cid, S.CASE_SCORE].iloc[0]
        assert bars[-1] == f"{case_score:.0f}", cid


def test_a_first_nights_report_marks_every_case_new(
    queue_season: QueueSeason, tmp_path: Path
) -> None:
    """Nothing is in the store before the first night commits: every flagged case is
    new and its timeline is tonight's bar (the report showed neither)."""
    night = QUEUE_NIGHTS[0]
    state = tmp_path / "state"
    run_nightly(
        logs=queue_season.logs, date=night, state=state, accounts=queue_season.accounts, quiet=True
    )
    run = state / "runs" / night.isoformat()
    table = pd.read_parquet(run / "scores.parquet")
    flagged_cases = table.loc[table[S.FLAGGED], S.CASE_ID].unique()
    section = _section((run / "report.html").read_text(encoding="utf-8"))
    assert len(flagged_cases) > 0
    assert section.count('<b class="new">NEW</b>') == len(flagged_cases)
    assert section.count("<rect") == len(flagged_cases)


def test_new_cases_are_shown_before_older_louder_ones(queue_state: Path) -> None:
    """Tonight's new cases take the shown places first: ranked by score alone they fell
    past the shown cases behind last night's campaigns."""
    scores = queue_state / "runs" / ON / "scores.csv"
    table = pd.read_parquet(scores.with_suffix(".parquet"))
    flagged = table[table[S.FLAGGED]]
    by_score = (
        flagged.groupby(S.CASE_ID)[S.CASE_SCORE].max().sort_values(ascending=False, kind="stable")
    )
    with Store.open(queue_state) as store:
        first = store.alerted_accounts(ON).set_index(S.ACCOUNT_ID)["first_alert_date"]
    case_first = first.reindex(table[S.ACCOUNT_ID]).groupby(table[S.CASE_ID].values).min()
    new = [c for c in by_score.index if case_first.get(c) == ON]
    old = [c for c in by_score.index if c not in new]
    assert new and old and by_score.index[0] in old  # the fixture's night has both
    for limit in (2, len(new) + 2):
        html = render_report(scores_path=scores, state=queue_state, max_accounts=limit)
        shown = re.findall(r'<code class="id">([^<]*)</code>', _section(html))
        expected = new[:limit] + old[: max(0, limit - len(new))]
        assert sorted(shown) == sorted(expected), limit
        assert shown == [c for c in by_score.index if c in expected]  # by case score


def test_a_case_mixing_alerted_and_never_alerted_members_has_the_earliest_date() -> None:
    from detector.report.cases_view import case_first_alerts

    members = pd.DataFrame(
        {
            S.ACCOUNT_ID: ["a", "b", "c", "d", "e"],
            S.CASE_ID: ["c-1", "c-1", "c-1", "acct:d", "c-2"],
        }
    )
    firsts = case_first_alerts(members, {"b": "2026-11-09", "c": "2026-11-08", "e": "2026-11-10"})
    assert firsts.to_dict() == {"c-1": "2026-11-08", "c-2": "2026-11-10"}  # d: never alerted
    assert case_first_alerts(members, {}).empty
