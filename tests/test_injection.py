"""Attacker-controlled text must be shown, never executed, in every output.

A log whose account ids, prompts and user agents hold script tags, event-handler
attributes, spreadsheet formulas and ANSI escapes is trained on, scored (every account
flagged, so every one gets a report section), reported and explained. The HTML is then
parsed with :class:`html.parser.HTMLParser` and the CSVs with :mod:`csv`, and nothing
executable may survive: no script element, no ``on*`` attribute, no ``javascript:`` URL,
no external resource, no cell a spreadsheet would evaluate.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from detector import schema as S
from detector.cli import app
from detector.simulate import simulate

ESC = "\x1b"
EVIL_IDS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("http://evil","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    f"{ESC}[31mred{ESC}[0m{ESC}]8;;http://evil{ESC}\\link{ESC}]8;;{ESC}\\",
    '"><svg onload=alert(1)>',
    "\t=1+1",
    "javascript:alert(1)",
    "\u202eevil-bidi",
)
EVIL_TEXT = (
    *EVIL_IDS,
    "<link rel=stylesheet href=http://evil/x.css>",
    "<iframe src=//evil></iframe>",
    "\r=cmd|' /C calc'!A0",
    "</pre></td></tr></table><script>alert(2)</script>",
    "[red]rich markup[/red] [link=http://evil]x[/link]",
    f"{ESC}[2J{ESC}[H screen cleared",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Every element the report is built from: an injected tag would show up as another one.
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4",
    "p", "nav", "a", "main", "section", "div", "table", "thead", "tbody", "tr", "th", "td",
    "ul", "ol", "li", "span", "b", "code", "pre", "svg", "text", "line", "rect", "details",
    "summary", "footer", "article", "br",
}  # fmt: skip


@dataclass(frozen=True)
class Run:
    """Outputs of one run over the poisoned log."""

    log: Path
    scores: Path
    quarantine: Path
    report: Path
    report_no_log: Path


def invoke(*args: object) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def poisoned_log(directory: Path) -> Path:
    """A small simulated population plus accounts whose every text field is hostile."""
    simulate(directory / "sim", accounts=80, days=3, seed=11)
    base = pd.read_parquet(directory / "sim" / "requests")
    base = base[[c for c in base.columns if c in S.ALL_COLUMNS]]
    rng = np.random.default_rng(0)
    n = 60 * len(EVIL_IDS)
    evil = base.sample(n, random_state=1).reset_index(drop=True)
    evil[S.REQUEST_ID] = [f"evil-{i}" for i in range(n)]
    evil[S.ACCOUNT_ID] = [EVIL_IDS[i % len(EVIL_IDS)] for i in range(n)]
    evil[S.PROMPT] = [
        f"{EVIL_TEXT[i % len(EVIL_TEXT)]} {EVIL_TEXT[(i * 7) % len(EVIL_TEXT)]} #{i}"
        for i in range(n)
    ]
    evil[S.USER_AGENT] = [EVIL_TEXT[int(k)] for k in rng.integers(0, len(EVIL_TEXT), n)]
    # rows breaking the contract, with hostile text, go to the quarantine file
    broken = evil.head(len(EVIL_TEXT)).copy()
    broken[S.REQUEST_ID] = [f"broken-{i}" for i in range(len(broken))]
    broken[S.STATUS] = list(EVIL_TEXT)
    broken[S.PROMPT] = list(EVIL_TEXT)
    log = directory / "log" / "part-0.parquet"
    log.parent.mkdir(parents=True)
    pd.concat([base, evil, broken], ignore_index=True).to_parquet(log, index=False)
    return log.parent


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("inject")
    log = poisoned_log(root)
    model = root / "model.bundle"
    scores = root / "scores.csv"
    invoke("train", log, "--model", model, "--quiet")
    # threshold 0: every account is flagged, so every hostile id gets a detail section
    invoke("score", log, "--model", model, "--out", scores, "--threshold", 0, "--quiet")
    report = root / "report.html"
    invoke("report", scores, "--log", log, "--out", report, "--max-accounts", 1000)
    report_no_log = root / "report-no-log.html"
    invoke("report", scores, "--out", report_no_log, "--max-accounts", 1000)
    return Run(log, scores, root / "scores.quarantine.csv", report, report_no_log)


# --- HTML ----------------------------------------------------------------------------------


class Audit(HTMLParser):
    """Collects every element, attribute and text node of a document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.style: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k.lower(), v or "") for k, v in attrs]
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.style if self._in_style else self.text).append(data)


def audit(path: Path) -> Audit:
    parser = Audit()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def assert_nothing_executable(doc: Audit) -> None:
    assert "script" not in doc.tags
    assert set(doc.tags) <= ALLOWED_TAGS, set(doc.tags) - ALLOWED_TAGS
    for tag, name, value in doc.attrs:
        assert not name.startswith("on"), (tag, name, value)
        v = value.strip().lower()
        assert "javascript:" not in v, (tag, name, value)
        if name in ("href", "src", "xlink:href", "action", "formaction", "srcset", "poster"):
            assert not v.startswith(("http:", "https:", "//")), (tag, name, value)
        if name == "href":
            assert v.startswith("#"), (tag, name, value)  # in-page anchors only
        if name == "style":
            assert "url(" not in v and "expression(" not in v
    style = "".join(doc.style).lower()
    assert "url(" not in style and "@import" not in style and "http" not in style


@pytest.mark.parametrize("which", ["report", "report_no_log"])
def test_report_holds_nothing_executable(run: Run, which: str) -> None:
    path: Path = getattr(run, which)
    doc = audit(path)
    assert_nothing_executable(doc)
    text = "".join(doc.text)
    # the hostile ids are shown as text (escaped, not dropped) ...
    for account in EVIL_IDS[:6]:
        assert account in text, account
    raw = path.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    # ... without their control characters or bidi overrides
    assert ESC not in raw and "\u202e" not in raw


def test_report_shows_hostile_prompts_as_text(run: Run) -> None:
    doc = audit(run.report)
    text = "".join(doc.text)
    assert "</pre></td></tr></table><script>alert(2)</script>" in text
    assert "<iframe src=//evil></iframe>" in text
    assert "screen cleared" in text


def test_report_forbids_scripts_and_network_by_policy(run: Run) -> None:
    doc = audit(run.report)
    csp = [v for t, k, v in doc.attrs if t == "meta" and k == "content" and "default-src" in v]
    assert csp and "default-src 'none'" in csp[0] and "script-src" not in csp[0]


# --- CSV -----------------------------------------------------------------------------------


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_csv_inert(path: Path) -> int:
    """No cell a spreadsheet would evaluate; returns the number of rows checked."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) > 1, path
    for row in rows:
        for cell in row:
            stripped = cell.lstrip(" \u00a0\x00\x0b\x0c\n")
            for text in (cell, stripped):
                if text.startswith(FORMULA_STARTS):
                    assert _is_number(text), (path.name, cell)
    return len(rows)


def test_scores_csv_is_inert(run: Run) -> None:
    assert_csv_inert(run.scores)
    table = pd.read_csv(run.scores, dtype=str, keep_default_na=False)
    ids = set(table[S.ACCOUNT_ID])
    assert "'" + '=HYPERLINK("http://evil","x")' in ids  # neutralised, not dropped
    assert "'-2+3" in ids and "'@SUM(1+1)" in ids


def test_quarantine_csv_is_inert(run: Run) -> None:
    assert run.quarantine.exists()
    assert assert_csv_inert(run.quarantine) >= len(EVIL_TEXT)


# --- terminal and JSON ------------------------------------------------------------------------


@pytest.mark.parametrize("account", EVIL_IDS)
def test_explain_shows_hostile_accounts_safely(run: Run, account: str) -> None:
    # "--" ends the options, so an id such as "-2+3" is not read as one
    result = invoke("explain", "--scores", run.scores, "--log", run.log, "--", account)
    out = result.stdout
    assert ESC not in out and "\r" not in out and "\u202e" not in out
    assert "sample prompts" in out
    info = json.loads(
        invoke("explain", "--scores", run.scores, "--log", run.log, "--json", "--", account).stdout
    )
    assert info["account_id"] == account  # the id itself, not its CSV-quoted form
    assert info["requests"] > 0 and len(info["hourly"]) == 24
    assert info["features"], "percentiles need the real id to find the feature row"
    assert all(isinstance(s, str) and len(s) <= 400 for s in info["samples"])


def test_explain_accepts_the_id_as_written_in_the_csv(run: Run) -> None:
    info = json.loads(
        invoke(
            "explain", "--scores", run.scores, "--json", "--", '\'=HYPERLINK("http://evil","x")'
        ).stdout
    )
    assert info["account_id"] == '=HYPERLINK("http://evil","x")'
