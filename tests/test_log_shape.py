"""Facts of a whole log that no single row shows: a column some files lack, and a
timestamp far from every other row's (red team A6 and A2).

Either one used to change every account's features without a word: a column absent
from one day's file was read as empty prompts for that day, and a stray row a month
early stretched the window every per-day feature divides by.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from detector import schema as S
from detector.cli import app
from detector.ingest import IngestError, IngestReport, read_log, span
from detector.nightly.remembered import reduced_features
from detector.pipeline import build_features

LogWriter = Callable[..., Path]


def _drop_columns(path: Path, columns: list[str]) -> None:
    """Rewrite one Parquet file without ``columns``."""
    pd.read_parquet(path).drop(columns=columns).to_parquet(path, index=False)


@pytest.fixture
def hive(tmp_path: Path, make_requests: Callable[..., pd.DataFrame], write_log: LogWriter) -> Path:
    """A three-day hive Parquet log of 600 requests."""
    return write_log(make_requests(600, seed=3), tmp_path / "log", "parquet", partitioned=True)


def _day_file(log: Path, day: str) -> Path:
    return log / f"date={day}" / "part-0.parquet"


def test_an_optional_column_missing_from_one_file_is_missing_for_the_log(hive: Path) -> None:
    lacking = _day_file(hive, "2026-03-02")
    _drop_columns(lacking, [S.PROMPT, S.USER_AGENT])
    _, report = read_log(hive)
    assert S.PROMPT in report.missing_optional and S.USER_AGENT in report.missing_optional
    assert report.missing_optional_notes == {
        S.PROMPT: f"prompt missing from 1 of 3 files ({lacking})",
        S.USER_AGENT: f"user_agent missing from 1 of 3 files ({lacking})",
    }
    result = CliRunner().invoke(app, ["validate", str(hive), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {S.PROMPT, S.USER_AGENT} <= set(out["missing_optional_columns"])
    assert str(lacking) in out["partially_missing_optional_columns"][S.PROMPT]
    table = CliRunner().invoke(app, ["validate", str(hive)])
    assert "prompt missing from 1 of 3 files" in " ".join(table.stdout.split())


def test_features_needing_a_partly_missing_column_are_omitted_and_say_why(
    hive: Path, tmp_path: Path, make_requests: Callable[..., pd.DataFrame], write_log: LogWriter
) -> None:
    """Scores are never computed from a half-empty column: the features are those of the
    log without the column at all, and ``omitted`` names the file that lacks it."""
    lacking = _day_file(hive, "2026-03-02")
    _drop_columns(lacking, [S.PROMPT])
    partial = build_features(hive)
    assert "distinct_prompt_ratio" not in partial.features.columns
    why = partial.omitted["distinct_prompt_ratio"]
    assert f"prompt missing from 1 of 3 files ({lacking})" in why
    assert S.PROMPT in partial.metadata()["ingest"]["missing_optional_columns"]
    without = make_requests(600, seed=3).drop(columns=[S.PROMPT])
    none = build_features(write_log(without, tmp_path / "none", "parquet", partitioned=True))
    assert set(partial.omitted) == set(none.omitted)
    pd.testing.assert_frame_equal(partial.features, none.features)


def test_a_log_whose_files_all_have_the_column_reports_nothing(hive: Path) -> None:
    _, report = read_log(hive)
    assert report.missing_optional == [] and report.missing_optional_notes == {}


def test_a_required_column_missing_from_one_file_is_refused_naming_it(hive: Path) -> None:
    lacking = _day_file(hive, "2026-03-03")
    _drop_columns(lacking, [S.ACCOUNT_ID])
    with pytest.raises(IngestError, match="missing required column") as err:
        read_log(hive)
    assert str(lacking) in str(err.value)
    result = CliRunner().invoke(app, ["validate", str(hive)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(lacking) in lines[0] and S.ACCOUNT_ID in lines[0]


# --- A2: one stray timestamp in a flat log --------------------------------------------------

ISOLATED = "timestamp isolated from the rest of the log"


def _with_stray(df: pd.DataFrame, at: str, row: int = 17) -> pd.DataFrame:
    """``df`` with row ``row``'s timestamp moved to ``at``."""
    out = df.copy()
    out.loc[row, S.TIMESTAMP] = pd.Timestamp(at)
    return out


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_a_stray_row_in_a_flat_log_is_quarantined_and_changes_no_score(
    tmp_path: Path, make_requests: Callable[..., pd.DataFrame], write_log: LogWriter, fmt: str
) -> None:
    """A row a month before a 3-day flat log is quarantined with the reason, the counts
    reconcile, and the features (the window included) are those of the log without it."""
    df = make_requests(600, seed=4)
    stray = _with_stray(df, "2026-02-01T10:00:00Z")
    log = write_log(stray, tmp_path / "stray", fmt)
    qpath = tmp_path / "q.csv"
    out, report = read_log(log, quarantine_path=qpath)
    assert (report.read, report.kept, report.quarantined) == (600, 599, 1)
    assert report.read == report.kept + report.duplicates + report.quarantined
    (reason,) = report.reasons
    assert reason.startswith(ISOLATED) and "27 empty day(s)" in reason
    assert "2026-03-01..2026-03-03" in reason and "--start/--end" in reason
    q = pd.read_csv(qpath, dtype=str, keep_default_na=False)
    assert q[S.REQUEST_ID].tolist() == [df.loc[17, S.REQUEST_ID]]
    assert q[S.QUARANTINE_REASON].tolist() == [reason]
    assert df.loc[17, S.REQUEST_ID] not in set(out[S.REQUEST_ID])
    with_stray = build_features(log)
    without = build_features(write_log(df.drop(index=17), tmp_path / "clean", fmt))
    assert with_stray.window == without.window
    assert with_stray.window[0].startswith("2026-03-01")
    pd.testing.assert_frame_equal(with_stray.features, without.features)


def test_instants_beyond_the_nanosecond_range_do_not_stretch_or_break_the_span(
    tmp_path: Path, make_requests: Callable[..., pd.DataFrame]
) -> None:
    """A flat Parquet log whose second-resolution timestamps include year 0 and year
    9999: the span is counted from the instants the read can hold, so those rows are
    quarantined as out of range and no warning of two periods is raised. Their raw ticks
    were counted as days: here that warned of a second period in year 0; in the ingest
    property test's case (year 0 the busiest day) naming that day as a date stopped the
    read with an OverflowError."""
    df = make_requests(40)  # two rows off the span are 5%: a "log of two periods"
    seconds = pa.array(pd.to_datetime(df[S.TIMESTAMP], utc=True)).cast(pa.timestamp("s", "UTC"))
    ticks = seconds.cast(pa.int64()).to_numpy().copy()
    ticks[[5, 9]] = [-62_167_219_201, 253_402_300_799]  # 0000-12-31T23:59:59, 9999-12-31T23:59:59
    table = pa.Table.from_pandas(df.drop(columns=[S.TIMESTAMP]), preserve_index=False)
    table = table.append_column(S.TIMESTAMP, pa.array(ticks).cast(pa.timestamp("s", "UTC")))
    log = tmp_path / "flat.parquet"
    pq.write_table(table, log)
    _, report = read_log(log)
    assert (report.read, report.kept, report.quarantined) == (40, 38, 2)
    ((reason, count),) = report.reasons.items()
    assert reason.startswith("timestamp out of range") and count == 2
    assert report.warnings == []


def test_validate_shows_the_isolated_row_in_one_reason(
    tmp_path: Path, make_requests: Callable[..., pd.DataFrame], write_log: LogWriter
) -> None:
    log = write_log(_with_stray(make_requests(300), "2026-04-20T00:00:00Z"), tmp_path, "parquet")
    result = CliRunner().invoke(app, ["validate", str(log), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["quarantined"] == 1 and out["reconciles"] and out["warnings"] == []
    (reason,) = out["quarantine_reasons"]
    assert reason.startswith(ISOLATED) and "47 empty day(s)" in reason


def test_rows_within_the_gap_allowance_are_one_span(
    tmp_path: Path, make_requests: Callable[..., pd.DataFrame], write_log: LogWriter
) -> None:
    """Two empty days (Config.span_max_gap_days) between a row and the rest: kept."""
    log = write_log(_with_stray(make_requests(300), "2026-03-06T10:00:00Z"), tmp_path, "parquet")
    _, report = read_log(log)
    assert report.quarantined == 0 and report.kept == 300


def test_a_log_of_two_periods_is_read_whole_with_one_warning(
    tmp_path: Path, make_requests: Callable[..., pd.DataFrame], write_log: LogWriter
) -> None:
    """More than Config.span_max_stray_share off the busiest stretch: not a stray row but
    a split log. Nothing is quarantined and one stderr line names the gap."""
    df = make_requests(300)
    later = make_requests(100, seed=9)
    later[S.TIMESTAMP] += pd.Timedelta(days=20)
    log = write_log(pd.concat([df, later], ignore_index=True), tmp_path, "parquet")
    _, report = read_log(log)
    assert report.quarantined == 0 and report.kept == 400
    (warning,) = report.warnings
    assert "empty days apart" in warning and "--start/--end" in warning
    result = CliRunner().invoke(app, ["validate", str(log)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and str(log) in lines[0]


def test_an_explicit_window_keeps_todays_behaviour(
    tmp_path: Path, make_requests: Callable[..., pd.DataFrame], write_log: LogWriter
) -> None:
    """--start/--end choose the window: a row outside it is selected away (not read, not
    quarantined), and a row inside it is kept however far from the others."""
    log = write_log(_with_stray(make_requests(300), "2026-02-01T10:00:00Z"), tmp_path, "parquet")
    _, report = read_log(log, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 3))
    assert (report.read, report.quarantined, report.outside_window) == (299, 0, 1)
    _, wide = read_log(log, start=dt.date(2026, 2, 1), end=dt.date(2026, 3, 3))
    assert (wide.read, wide.kept, wide.quarantined) == (300, 300, 0)


def test_a_hive_log_is_not_prescanned(hive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Partitions already hold rows to their day: no timestamp pre-scan is paid."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a hive log was pre-scanned")

    monkeypatch.setattr(span, "flat_day_counts", refuse)
    _, report = read_log(hive)
    assert report.kept == 600


def test_the_nightly_reduced_features_line_names_the_partly_missing_column() -> None:
    """What the nightly job warns with (output_stages passes missing_optional_described)."""
    report = IngestReport()
    every = set(S.OPTIONAL)
    report.note_file_columns("log/date=2026-11-01/p.parquet", every)
    report.note_file_columns("log/date=2026-11-02/p.parquet", every - {S.PROMPT})
    (line,) = reduced_features("accounts.parquet", report.missing_optional_described, {"x": ""})
    assert "prompt missing from 1 of 2 files (log/date=2026-11-02/p.parquet)" in line
