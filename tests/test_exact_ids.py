"""Account ids come back exactly, and outputs of different runs are never mixed (issue 11).

A small population plus accounts with hostile ids (formula starts, CR, LF, NUL, tab,
quotes, commas, a very long one, unicode) is trained on and scored once per module.
Every reader of the project's own outputs -- ``read_scores``, evaluate, explain,
report and the nightly job -- must then see the ids exactly as the log had them, while
``scores.csv`` stays safe to open in a spreadsheet. Outputs carry a run and model
identity, and pairing files of different runs is one clear line and exit 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from detector import schema as S
from detector.errors import UserError
from detector.outputs import read_scoring, sidecar, twin_path
from detector.safe import CSV_ESCAPE_PREFIX, neutralise_csv_cell
from detector.scoring import read_scores
from detector.simulate import simulate
from tests.cli_run import clean_failure, ok

HOSTILE_IDS = (
    "=1+1",
    "+x",
    "-x",
    "@x",
    "'quoted",
    "''twice",
    "cr\rinside",
    "\r=cr-first",
    "lf\ninside",
    "nul\x00inside",
    "\ttab-first",
    "tab\tinside",
    'a "quoted" id',
    "comma,inside",
    " =space-first",
    "x" * 5_000,
    "ünïcödé 🙂 日本語",
    "\u202eright-to-left",
)
CSV_CANNOT_HOLD = ("\r", "\x00")
"""Characters a CSV cell does not give back (CR is written as LF; readers stop at NUL)."""
DAYS = 3
FIRST = dt.date(2026, 11, 1)


@dataclass(frozen=True)
class Run:
    root: Path
    log: Path
    ids: frozenset[str]
    model: Path
    scores: Path


def hostile_log(root: Path) -> tuple[Path, frozenset[str]]:
    """A simulated population plus the hostile accounts, hive-partitioned by day."""
    simulate(root / "sim", accounts=60, days=DAYS, seed=3)
    base = pd.read_parquet(root / "sim" / "requests")
    base = base[[c for c in base.columns if c in S.ALL_COLUMNS]]
    n = 40 * len(HOSTILE_IDS)
    evil = base.sample(n, random_state=2).reset_index(drop=True)
    evil[S.REQUEST_ID] = [f"hostile-{i}" for i in range(n)]
    evil[S.ACCOUNT_ID] = [HOSTILE_IDS[i % len(HOSTILE_IDS)] for i in range(n)]
    frame = pd.concat([base, evil], ignore_index=True)
    day = pd.to_datetime(frame[S.TIMESTAMP], utc=True).dt.strftime("%Y-%m-%d")
    log = root / "log"
    for d, part in frame.groupby(day.to_numpy()):
        (log / f"date={d}").mkdir(parents=True)
        part.to_parquet(log / f"date={d}" / "part-0.parquet", index=False)
    return log, frozenset(frame[S.ACCOUNT_ID])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("exact-ids")
    log, ids = hostile_log(root)
    assert set(HOSTILE_IDS) <= ids
    model, scores = root / "a.bundle", root / "scores.csv"
    ok("train", log, "--model", model, "--quiet")
    # threshold 0: every account is flagged, so the report drills into every one
    ok("score", log, "--model", model, "--out", scores, "--threshold", 0, "--quiet")
    return Run(root, log, ids, model, scores)


# --- the score table -----------------------------------------------------------------------


def test_read_scores_gives_the_exact_ids(hostile: Run) -> None:
    assert twin_path(hostile.scores).is_file()
    table = read_scores(hostile.scores)
    assert set(table[S.ACCOUNT_ID]) == hostile.ids
    assert len(table) == len(hostile.ids)
    assert table[S.FLAGGED].dtype == bool and table[S.FLAGGED].all()
    # the twin read directly is the same table
    twin = read_scores(twin_path(hostile.scores))
    pd.testing.assert_frame_equal(twin, table)


def test_the_csv_stays_spreadsheet_safe(hostile: Run) -> None:
    with open(hostile.scores, newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    # a CR left in any column (e.g. case_id = "acct:" + id) would break a row in two,
    # and the second half would start with an unneutralised formula
    assert len(rows) == len(hostile.ids) and all(len(r) == len(header) for r in rows)
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    cells = [row[0] for row in rows]
    assert CSV_ESCAPE_PREFIX + "=1+1" in cells and CSV_ESCAPE_PREFIX * 3 + "twice" in cells


def test_without_its_twin_the_csv_is_read_back_by_the_documented_rule(
    hostile: Run, tmp_path: Path
) -> None:
    """The CSV alone: one leading ' is removed, so every id is exact but CR and NUL ones."""
    alone = tmp_path / "scores.csv"
    shutil.copy(hostile.scores, alone)
    got = set(read_scores(alone)[S.ACCOUNT_ID])
    exact = {i for i in hostile.ids if not any(c in i for c in CSV_CANNOT_HOLD)}
    assert exact <= got
    assert "cr\ninside" in got  # a CR comes back as the LF the CSV holds


def test_a_csv_changed_after_it_was_written_is_not_paired_with_its_twin(
    hostile: Run, tmp_path: Path
) -> None:
    for name in ("scores.csv", "scores.parquet"):
        shutil.copy(hostile.root / name, tmp_path / name)
    edited = tmp_path / "scores.csv"
    edited.write_bytes(edited.read_bytes().replace(b"true", b"false", 1))
    with pytest.raises(UserError, match="not the CSV"):
        read_scores(edited)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.assign(score=t["score"].astype(object).where(t.index != 3, "abc")),
            "column score: 1 row(s) not a number (first: 'abc')",
        ),
        (lambda t: pd.concat([t, t.iloc[[5]]]), "1 row(s) listed more than once"),
    ],
    ids=["text score", "account twice"],
)
def test_a_hand_edited_scores_csv_is_one_line_naming_file_and_column(
    hostile: Run, tmp_path: Path, edit: object, expected: str
) -> None:
    alone = tmp_path / "scores.csv"
    table = pd.read_csv(hostile.scores, dtype=str, keep_default_na=False)
    edit(table).to_csv(alone, index=False)  # type: ignore[operator]
    with pytest.raises(UserError) as err:
        read_scores(alone)
    assert str(alone) in str(err.value) and expected in str(err.value)
    line = clean_failure("evaluate", alone, "--labels", labels_file(tmp_path / "l.csv", {"+x"}))
    assert expected in line


def test_a_labels_file_without_rows_is_refused(hostile: Run, tmp_path: Path) -> None:
    empty = tmp_path / "labels.csv"
    empty.write_text("account_id,label\n")
    line = clean_failure("evaluate", hostile.scores, "--labels", empty)
    assert str(empty) in line and "no labelled accounts" in line


# --- readers: evaluate, explain, report, nightly -------------------------------------------


def labels_file(path: Path, ids: set[str], label: str = S.LABEL_BENIGN) -> Path:
    """A labels CSV as another team would write it (every cell quoted)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow([S.ACCOUNT_ID, S.LABEL])
        for i, account in enumerate(sorted(ids)):
            writer.writerow([account, S.LABEL_EXTRACTION if i % 3 == 0 else label])
    return path


def test_evaluate_matches_every_labelled_hostile_account(hostile: Run, tmp_path: Path) -> None:
    # NUL cannot be read from a labels CSV at all (a reader limitation of the input side)
    ids = {i for i in hostile.ids if "\x00" not in i}
    labels = labels_file(tmp_path / "labels.csv", ids)
    result = json.loads(ok("evaluate", hostile.scores, "--labels", labels, "--json").stdout)
    assert result["n_labelled"] == result["n_labels"] == len(ids)
    text = ok("evaluate", hostile.scores, "--labels", labels).stdout
    assert f"matched {len(ids):,} of {len(ids):,} labelled accounts" in text


@pytest.mark.parametrize("account", HOSTILE_IDS)
def test_explain_finds_every_hostile_id(hostile: Run, account: str) -> None:
    args = ("explain", "--scores", hostile.scores, "--log", hostile.log, "--json", "--", account)
    info = json.loads(ok(*args).stdout)
    assert info["account_id"] == account
    assert info["features"], "percentiles need the exact id to find the feature row"
    assert info["requests"] > 0


def test_explain_still_accepts_the_id_as_the_csv_shows_it(hostile: Run) -> None:
    shown = neutralise_csv_cell("=1+1")
    info = json.loads(ok("explain", "--scores", hostile.scores, "--json", "--", shown).stdout)
    assert info["account_id"] == "=1+1"


def test_report_drills_into_every_account(hostile: Run) -> None:
    out = hostile.root / "report.html"
    ok("report", hostile.scores, "--log", hostile.log, "--out", out, "--max-accounts", 1000)
    html = out.read_text(encoding="utf-8")
    assert html.count('<article class="acct">') == len(hostile.ids)
    assert "No requests in the log window." not in html


def test_nightly_writes_the_twin_with_the_exact_ids(hostile: Run) -> None:
    state = hostile.root / "state"
    last = FIRST + dt.timedelta(days=DAYS - 1)
    ok("nightly", "--logs", hostile.log, "--date", last, "--state", state,
       "--window-days", DAYS, "--quiet")  # fmt: skip
    scores = state / "runs" / last.isoformat() / "scores.csv"
    assert twin_path(scores).is_file()
    assert set(read_scores(scores)[S.ACCOUNT_ID]) == hostile.ids


# --- run and model identity ----------------------------------------------------------------


@pytest.fixture(scope="module")
def other_model(hostile: Run) -> tuple[Path, Path]:
    """Another model of the same log (another budget), and the scores it made."""
    model, scores = hostile.root / "b.bundle", hostile.root / "b" / "scores.csv"
    scores.parent.mkdir()
    ok("train", hostile.log, "--model", model, "--alert-budget", "7", "--quiet")
    ok("score", hostile.log, "--model", model, "--out", scores, "--quiet")
    return model, scores


def test_every_output_carries_the_same_run_id(hostile: Run) -> None:
    scoring = read_scoring(hostile.scores)
    assert scoring.run_id and scoring.model_version
    assert scoring.features is not None and set(scoring.features.index) == hostile.ids


def test_explain_refuses_a_model_the_scores_were_not_made_with(
    hostile: Run, other_model: tuple[Path, Path]
) -> None:
    model_b, scores_b = other_model
    account = "=1+1"
    line = clean_failure("explain", "--scores", hostile.scores, "--model", model_b, "--", account)
    assert "--model" in line and "was scored with model" in line
    line = clean_failure("explain", "--scores", scores_b, "--model", hostile.model, "--", account)
    assert "was scored with model" in line
    ok("explain", "--scores", scores_b, "--model", model_b, "--", account)


def test_sidecars_of_another_run_are_refused(
    hostile: Run, other_model: tuple[Path, Path], tmp_path: Path
) -> None:
    _, scores_b = other_model
    for kind in ("meta", "clusters", "features"):
        shutil.copy(sidecar(hostile.scores, kind), sidecar(tmp_path / "scores.csv", kind))
    shutil.copy(hostile.scores, tmp_path / "scores.csv")
    shutil.copy(twin_path(hostile.scores), tmp_path / "scores.parquet")
    read_scoring(tmp_path / "scores.csv")  # all of one run
    for kind in ("clusters", "features"):  # one sidecar of the other run is enough
        mixed = sidecar(tmp_path / "scores.csv", kind)
        shutil.copy(sidecar(hostile.scores, kind), mixed.with_suffix(".keep"))
        shutil.copy(sidecar(scores_b, kind), mixed)
        with pytest.raises(UserError, match="different runs"):
            read_scoring(tmp_path / "scores.csv")
        shutil.move(mixed.with_suffix(".keep"), mixed)
    shutil.copy(sidecar(scores_b, "features"), sidecar(tmp_path / "scores.csv", "features"))
    line = clean_failure("evaluate", tmp_path / "scores.csv", "--labels",
                         labels_file(tmp_path / "l.csv", {"=1+1", "+x"}))  # fmt: skip
    assert "different runs" in line


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another population's simulation (another seed: no account in common)."""
    root = tmp_path_factory.mktemp("stranger")
    simulate(root, accounts=30, days=DAYS, seed=99)
    return root


def test_report_refuses_another_populations_log(hostile: Run, stranger: Path) -> None:
    out = hostile.root / "stranger.html"
    line = clean_failure("report", hostile.scores, "--log", stranger / "requests", "--out", out)
    assert "no request from any of the" in line
    assert not out.exists()


def test_explain_refuses_another_populations_log(hostile: Run, stranger: Path) -> None:
    line = clean_failure(
        "explain", "--scores", hostile.scores, "--log", stranger / "requests", "--", "+x"
    )
    assert "no request from any of the" in line


def test_evaluate_refuses_another_populations_labels(
    hostile: Run, stranger: Path, tmp_path: Path
) -> None:
    line = clean_failure("evaluate", hostile.scores, "--labels", stranger / "labels.csv")
    assert "none of its" in line and "another population" in line
    # mostly someone else's labels: below the bar, unless it is lowered
    theirs = set(pd.read_csv(stranger / "labels.csv", dtype=str)[S.ACCOUNT_ID])
    mixed = labels_file(tmp_path / "mixed.csv", theirs | {"=1+1", "+x", "-x"})
    line = clean_failure("evaluate", hostile.scores, "--labels", mixed)
    assert "only 3 of its" in line and "--min-overlap" in line
    result = ok("evaluate", hostile.scores, "--labels", mixed, "--min-overlap", 0.05, "--json")
    assert json.loads(result.stdout)["n_labelled"] == 3
