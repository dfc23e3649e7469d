"""The analyst's HTML report: self-contained, every section, escaped, with or without a log."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import shutil
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DAYS

from detector import schema as S
from detector.errors import UserError
from detector.features import SPECS
from detector.ingest import read_log, subset
from detector.ingest.discover import LogFile
from detector.report import (
    SAMPLE_PROMPTS,
    SPARK_BLOCKS,
    account_activity,
    render_report,
    sparkline,
    write_report,
)
from detector.scoring import read_scores, score, sidecar, train, write_scores
from detector.simulate import simulate

SECTIONS = ("summary", "flagged", "accounts", "clusters", "model")


class Doc(HTMLParser):
    """Elements, attributes and text of a document, for assertions."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))
            if k == "id":
                self.ids.add(v or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small simulated population, trained and scored with sidecars written."""
    root = tmp_path_factory.mktemp("report")
    simulate(root / "sim", accounts=150, days=3, seed=2)
    log = root / "sim" / "requests"
    model, _, _ = train(log, root / "model.bundle", accounts=root / "sim" / "accounts.parquet")
    result = score(log, model, accounts=root / "sim" / "accounts.parquet")
    out = root / "scores.csv"
    write_scores(result, out)
    return {"root": root, "log": log, "model": model, "scores": out}


@pytest.fixture(scope="module")
def full(scored: dict[str, Path]) -> tuple[Path, Doc]:
    out = scored["root"] / "report.html"
    write_report(out, scores_path=scored["scores"], log=scored["log"])
    return out, Doc(out.read_text(encoding="utf-8"))


def flagged(scores: Path) -> pd.DataFrame:
    t = read_scores(scores)
    return t[t[S.FLAGGED]].sort_values(S.RANK)


def copy_scores(src: Path, dst_dir: Path) -> Path:
    """Copy a scores file and its sidecars, so a test can alter them."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    out = dst_dir / "scores.csv"
    shutil.copy(src, out)
    for kind in ("features", "clusters", "meta"):
        shutil.copy(sidecar(src, kind), sidecar(out, kind))
    return out


# --- the nightly job's entry point --------------------------------------------------------------


def test_write_report_signature_is_stable() -> None:
    sig = inspect.signature(write_report)
    params = sig.parameters
    # callers name every argument but the first; new ones come last, optional
    assert list(params) == [
        "out", "scores_path", "log", "start", "end", "max_accounts", "state", "bundle"
    ]  # fmt: skip
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(params.values())[1:])
    assert params["max_accounts"].default == 50
    assert params["log"].default is None and params["state"].default is None
    assert params["bundle"].default is None


# --- self-contained -----------------------------------------------------------------------------


def test_report_is_self_contained(full: tuple[Path, Doc]) -> None:
    path, doc = full
    raw = path.read_text(encoding="utf-8")
    assert "script" not in doc.tags and "link" not in doc.tags
    assert "img" not in doc.tags and "iframe" not in doc.tags
    for tag, name, value in doc.attrs:
        v = value.strip().lower()
        if name in ("src", "href", "srcset", "action", "poster"):
            assert not v.startswith(("http:", "https:", "//")), (tag, name, value)
        assert not name.startswith("on")
    assert "@import" not in raw and "url(" not in raw
    assert not any(tag == "link" for tag, _, _ in doc.attrs)
    # the only http(s) text is the SVG namespace, which is an identifier, not a resource
    assert set(_urls(raw)) <= {"http://www.w3.org/2000/svg"}


def _urls(text: str) -> list[str]:
    import re

    return re.findall(r"https?://[^\s\"'<>)]+", text)


def test_report_has_every_section(full: tuple[Path, Doc], scored: dict[str, Path]) -> None:
    _, doc = full
    for section in SECTIONS:
        assert section in doc.ids
    text = doc.all_text
    table = read_scores(scored["scores"])
    meta = json.loads(sidecar(scored["scores"], "meta").read_text())
    assert f"{len(table):,}" in text  # population size
    assert meta["model_version"] in text
    assert f"{meta['ingest']['read']:,}" in text and f"{meta['ingest']['kept']:,}" in text
    # one detail section per flagged account, linked from the ranked table
    top = flagged(scored["scores"])
    assert doc.tags.count("article") == len(top) > 0
    for rank in top[S.RANK]:
        assert f"acct-{rank}" in doc.ids
        assert ("a", "href", f"#acct-{rank}") in doc.attrs
    # plots: an hourly plot (24 bars) and a daily one per account, plus the score histogram
    assert doc.tags.count("svg") >= 2 * len(top) + 1
    assert "Requests by hour of day (UTC)" in text and "Requests per day (UTC)" in text
    assert "Template concentration".upper() in text.upper()
    assert "Sample prompts".upper() in text.upper()
    # model card: every feature with its description, the threshold and the digest
    for name in pd.read_parquet(sidecar(scored["scores"], "features")).columns:
        if name in SPECS:
            assert name in text and SPECS[name].description in text
    assert "payload SHA-256" in text and "training window" in text
    assert "percentile" in text


def test_sample_prompts_are_few_and_cut(full: tuple[Path, Doc]) -> None:
    path, _ = full
    raw = path.read_text(encoding="utf-8")
    for article in raw.split('<article class="acct">')[1:]:
        prompts = article.count('<pre class="prompt">')
        assert prompts <= SAMPLE_PROMPTS
    for block in raw.split('<pre class="prompt">')[1:]:
        assert len(block.split("</pre>")[0]) <= 400 * 6  # 400 characters, escaped


def test_max_accounts_limits_the_detail_sections(scored: dict[str, Path]) -> None:
    doc = Doc(render_report(scores_path=scored["scores"], max_accounts=1))
    assert doc.tags.count("article") == 1
    n = len(flagged(scored["scores"]))
    # every flagged account is still ranked in the table
    assert doc.all_text.count("critical") + doc.all_text.count("high") >= n
    none = Doc(render_report(scores_path=scored["scores"], max_accounts=0))
    assert none.tags.count("article") == 0 and "flagged" in none.ids


# --- without the log, without the model ----------------------------------------------------------


def test_report_works_without_the_log(scored: dict[str, Path], tmp_path: Path) -> None:
    out = write_report(tmp_path / "r.html", scores_path=scored["scores"])
    doc = Doc(out.read_text(encoding="utf-8"))
    for section in SECTIONS:
        assert section in doc.ids
    text = doc.all_text
    assert "need the request log" in text
    assert "Requests by hour" not in text and "prompt" not in {c for _, _, c in doc.attrs}
    assert "percentile" in text  # the bundle is still there: percentiles still shown


def test_report_without_the_model_shows_values_only(
    scored: dict[str, Path], tmp_path: Path
) -> None:
    scores = copy_scores(scored["scores"], tmp_path / "s")
    meta_path = sidecar(scores, "meta")
    meta = json.loads(meta_path.read_text())
    meta["model_path"] = str(tmp_path / "gone.bundle")
    meta_path.write_text(json.dumps(meta))
    doc = Doc(render_report(scores_path=scores, log=scored["log"]))
    text = doc.all_text
    assert "is not available" in text and "Values only" in text
    assert "Requests by hour of day" in text  # the log part does not need the model
    assert doc.tags.count("article") == len(flagged(scores))


def test_report_with_nothing_flagged(scored: dict[str, Path], tmp_path: Path) -> None:
    scores = copy_scores(scored["scores"], tmp_path / "s")
    table = pd.read_csv(scores, dtype=str, keep_default_na=False)
    table[S.FLAGGED] = "false"
    table.to_csv(scores, index=False)
    doc = Doc(render_report(scores_path=scores))
    assert "No account is over the alert threshold." in doc.all_text
    assert doc.tags.count("article") == 0


# --- escaping -------------------------------------------------------------------------------------


def test_report_escapes_reasons_ids_and_cluster_evidence(
    scored: dict[str, Path], tmp_path: Path
) -> None:
    scores = copy_scores(scored["scores"], tmp_path / "s")
    table = pd.read_csv(scores, dtype=str, keep_default_na=False)
    first = table.index[table[S.FLAGGED] == "true"][0]
    table.loc[first, S.REASONS] = "<b onmouseover=alert(1)>bold</b>; \x1b[31mred"
    table.loc[first, S.CLUSTER_ID] = "<i>c-1</i>"
    table.to_csv(scores, index=False)
    clusters = sidecar(scores, "clusters")
    clusters.write_text(
        json.dumps(
            {
                "clusters": [
                    {
                        "cluster_id": "<i>c-1</i>",
                        "members": 2,
                        "evidence": "<script>alert(1)</script>",
                        "accounts": [{"account_id": "<u>x</u>", "score": 1.0, "flagged": False}],
                        "flagged_members": 1,
                    }
                ]
            }
        )
    )
    raw = render_report(scores_path=scores)
    doc = Doc(raw)
    assert not {"i", "u", "script"} & set(doc.tags)
    assert not [a for a in doc.attrs if a[1].startswith("on")]
    assert "<b onmouseover=alert(1)>bold</b>" in doc.all_text
    assert "<script>alert(1)</script>" in doc.all_text and "<u>x</u>" in doc.all_text
    assert "\x1b" not in raw


# --- building blocks ------------------------------------------------------------------------------


def test_account_activity_matches_the_log(scored: dict[str, Path]) -> None:
    log, _ = read_log(scored["log"])
    busiest = log[S.ACCOUNT_ID].value_counts().index[:3].tolist()
    wanted = [*busiest, "nobody"]
    act = account_activity(scored["log"], wanted)
    mine = log[log[S.ACCOUNT_ID].isin(busiest)]
    hours = (
        mine.groupby([mine[S.ACCOUNT_ID], mine[S.TIMESTAMP].dt.hour]).size().unstack(fill_value=0)
    )
    hours = hours.reindex(columns=range(24), fill_value=0)
    expected = hours.loc[busiest].to_numpy()
    assert np.array_equal(act.hourly.loc[busiest].to_numpy(), expected)
    assert (
        act.daily.loc[busiest].sum(axis=1).tolist()
        == mine[S.ACCOUNT_ID].value_counts()[busiest].tolist()
    )
    assert act.requests("nobody") == 0 and "nobody" not in act.samples
    for account in busiest:
        samples = act.samples[account]
        assert 1 <= len(samples) <= SAMPLE_PROMPTS and len(set(samples)) == len(samples)
        prompts = set(log.loc[log[S.ACCOUNT_ID] == account, S.PROMPT].astype(str).str[:401])
        assert set(samples) <= prompts


def test_account_activity_reports_progress(scored: dict[str, Path]) -> None:
    seen: list[tuple[str, int]] = []
    account_activity(scored["log"], ["x"], progress=lambda stage, n: seen.append((stage, n)))
    _, report = read_log(scored["log"])
    assert seen and sum(n for _, n in seen) == report.read + report.outside_window  # rows read


def test_account_activity_of_no_account(scored: dict[str, Path]) -> None:
    act = account_activity(scored["log"], [])
    assert act.hourly.empty and act.samples == {}


def test_sparkline() -> None:
    assert sparkline([0] * 24) == SPARK_BLOCKS[0] * 24
    line = sparkline([0, 1, 50, 100])
    assert line[0] == "▁" and line[1] == "▂" and line[-1] == "█"
    assert len(sparkline(list(range(24)))) == 24


def test_write_report_is_atomic(scored: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "deep" / "report.html"
    assert write_report(out, scores_path=scored["scores"]) == out
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
    with pytest.raises(UserError):  # a bad scores file leaves no half-written report
        write_report(tmp_path / "bad.html", scores_path=sidecar(scored["scores"], "meta"))
    assert not (tmp_path / "bad.html").exists()


def test_report_daily_activity_is_bounded_by_the_days_seen(tmp_path: Path) -> None:
    """A stray row from 1970 (an unwindowed log) does not make a 20,000-day plot."""
    rows = [
        {S.REQUEST_ID: f"r{i}", S.ACCOUNT_ID: "x", S.TIMESTAMP: ts, S.MODEL: "m"}
        | {S.INPUT_TOKENS: 1, S.OUTPUT_TOKENS: 1, S.STATUS: "ok"}
        for i, ts in enumerate(["2026-03-02T12:00:00Z", "1970-01-01T00:00:00Z"])
    ]
    log = tmp_path / "l.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    act = account_activity(log, ["x"])
    assert act.daily.shape == (1, 2)
    assert act.daily.loc["x"].sum() == 2


@pytest.mark.parametrize("fixed_account", [False, True])
def test_account_activity_stops_reading_prompts_once_every_sample_is_in(
    make_requests: Callable[..., pd.DataFrame],
    write_log: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixed_account: bool,
) -> None:
    """Once every wanted account has its samples, later Parquet days are read without
    their prompts (no later row can change the samples, and a text-typed prompt cannot
    break a rule): the activity is the one read with every prompt. An account that
    repeats two prompts never completes its samples, so every day keeps its prompts."""
    frame = make_requests(900, seed=11)
    if fixed_account:
        fixed = frame[S.ACCOUNT_ID] == "acct-4"
        frame.loc[fixed, S.PROMPT] = np.where(frame.index[fixed] % 2, "the one", "the other")
    log = write_log(frame, tmp_path / "log", "parquet", partitioned=True)
    wanted = ["acct-1", "acct-4", "nobody"] if fixed_account else ["acct-1", "acct-2"]
    without: list[tuple[str, ...]] = []
    real = subset.read_without_text

    def spy(f: LogFile, rows: int, column: str) -> tuple[tuple[str, ...], object]:
        skipped, chunks = real(f, rows, column)
        if skipped:
            without.append(skipped)
        return skipped, chunks

    monkeypatch.setattr(subset, "read_without_text", spy)
    fast = account_activity(log, wanted)
    monkeypatch.setattr(
        subset, "read_without_text", lambda f, rows, _: ((), subset.read_file(f, rows))
    )
    full = account_activity(log, wanted)
    pd.testing.assert_frame_equal(fast.hourly, full.hourly)
    pd.testing.assert_frame_equal(fast.daily, full.daily)
    assert fast.samples == full.samples and fast.has_prompts and full.has_prompts
    if fixed_account:  # "nobody" and acct-4 never complete: no day skips its prompts
        assert without == [] and sorted(full.samples["acct-4"]) == ["the one", "the other"]
    else:  # samples complete on the first day: the other days skip their prompts
        assert without == [(S.PROMPT,)] * (DAYS - 1)
        assert all(len(v) == SAMPLE_PROMPTS for v in full.samples.values())


def test_a_bundle_in_hand_is_used_only_when_it_made_the_scores(
    scored: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly job hands over the bundle it just scored with: the report is the one
    it writes after loading the bundle itself, and loads nothing. A bundle of another
    version is not used (the report loads the scores' own)."""
    from detector.artifacts import load_bundle
    from detector.report import inputs

    def page(**kw: object) -> str:  # the "generated HH:MM" stamp may tick between renders
        html = render_report(scores_path=scored["scores"], log=scored["log"], **kw)  # type: ignore[arg-type]
        return re.sub(r"generated [0-9-]+ [0-9:]+ UTC", "generated", html)

    own = load_bundle(scored["model"])
    expected = page()
    assert "percentile" in expected  # the model was used: feature percentiles are shown
    loads: list[object] = []
    monkeypatch.setattr(inputs, "load_bundle", lambda p: loads.append(p) or load_bundle(p))
    assert page(bundle=own) == expected
    assert loads == []
    assert page(bundle=dataclasses.replace(own, version=own.version + "-other")) == expected
    assert len(loads) == 1
