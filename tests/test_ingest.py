"""Tests for detector.ingest: readers, validation, quarantine, dedupe, partition pruning."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector import schema as S
from detector.config import Config
from detector.ingest import (
    Deduper,
    IngestError,
    IngestReport,
    check_account_overlap,
    drop_bom,
    epoch_seconds,
    iter_clean,
    nothing_to_score,
    read_accounts,
    read_labels,
    read_log,
    validate_frame,
)
from detector.safe import CSV_ESCAPE_PREFIX
from tests.cli_run import clean_failure

# a warning printed by ingest lands on the user's stderr: treat it as a failure
pytestmark = pytest.mark.filterwarnings("error")

SMALL = Config(chunk_rows=7)
STRING_COLUMNS = [c.name for c in S.REQUEST_COLUMNS if c.kind == "string"]
OPTIONAL_INTS = [c.name for c in S.REQUEST_COLUMNS if c.kind == "int" and not c.required]
REQUIRED_INTS = [c.name for c in S.REQUEST_COLUMNS if c.kind == "int" and c.required]
BOOLS = [c.name for c in S.REQUEST_COLUMNS if c.kind == "bool"]

# (format, gzipped, hive-partitioned)
LAYOUTS = [
    pytest.param("parquet", False, False, id="parquet"),
    pytest.param("parquet", False, True, id="parquet-hive"),
    pytest.param("jsonl", False, False, id="jsonl"),
    pytest.param("jsonl", True, False, id="jsonl.gz"),
    pytest.param("jsonl", False, True, id="jsonl-hive"),
    pytest.param("csv", False, False, id="csv"),
    pytest.param("csv", True, False, id="csv.gz"),
]


def valid_row(i: int = 0, **overrides: object) -> dict[str, object]:
    """One valid request as JSON-ready values, with ``overrides`` applied."""
    row: dict[str, object] = {
        S.REQUEST_ID: f"r{i}",
        S.ACCOUNT_ID: "acct-1",
        S.TIMESTAMP: "2026-03-01T12:00:00Z",
        S.MODEL: "model-a",
        S.INPUT_TOKENS: 10,
        S.OUTPUT_TOKENS: 20,
        S.STATUS: "ok",
        S.MAX_TOKENS: 100,
        S.TEMPERATURE: 0.5,
        S.LOGPROBS: "false",
        S.THINKING: "true",
        S.TURN_INDEX: 0,
        S.PROMPT: "hello",
    }
    row.update(overrides)
    return row


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def write_csv_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    """Rows as CSV text; ``None`` becomes an empty cell, everything else ``str()``.

    RFC 4180 line ends: with ``\n`` ones Python's writer leaves a bare ``\r`` unquoted.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([{k: "" if v is None else str(v) for k, v in r.items()} for r in rows])
    frame.to_csv(path, index=False, lineterminator="\r\n")
    return path


def read_quarantine(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def assert_same_rows(out: pd.DataFrame, expected: pd.DataFrame) -> None:
    """``out`` (read back) holds exactly ``expected``'s rows, in contract dtypes."""
    out = out.sort_values(S.REQUEST_ID, ignore_index=True)
    expected = expected.sort_values(S.REQUEST_ID, ignore_index=True)
    assert len(out) == len(expected)
    assert set(out.columns) == set(S.ALL_COLUMNS)

    assert out[S.TIMESTAMP].dtype == "datetime64[ns, UTC]"
    assert (out[S.TIMESTAMP] == expected[S.TIMESTAMP]).all()
    for col in REQUIRED_INTS:
        assert out[col].dtype == np.dtype("int64"), col
        assert out[col].tolist() == expected[col].tolist(), col
    for col in OPTIONAL_INTS:
        assert out[col].dtype == pd.Int64Dtype(), col
        pd.testing.assert_series_equal(out[col], expected[col], check_names=False)
    assert out[S.TEMPERATURE].dtype == np.dtype("float64")
    pd.testing.assert_series_equal(
        out[S.TEMPERATURE],
        expected[S.TEMPERATURE].astype("float64"),
        check_names=False,
        check_exact=True,
    )
    for col in BOOLS:  # 1/0/missing, whatever the carrier dtype
        pd.testing.assert_series_equal(
            out[col].astype("Float64"), expected[col].astype("Float64"), check_names=False
        )
    for col in STRING_COLUMNS:
        assert pd.api.types.is_string_dtype(out[col].dtype), col
        assert out[col].astype(object).tolist() == expected[col].astype(object).tolist(), col


# --- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "gz", "partitioned"), LAYOUTS)
def test_round_trip(tmp_path, make_requests, write_log, fmt, gz, partitioned):
    df = make_requests(60, seed=1)
    path = write_log(df, tmp_path / "log", fmt, gz=gz, partitioned=partitioned)
    out, report = read_log(path, config=SMALL)
    assert_same_rows(out, df)
    assert (report.read, report.kept, report.duplicates, report.quarantined) == (60, 60, 0, 0)
    assert report.reconciles()
    assert report.missing_optional == []
    assert len(report.files) == (3 if partitioned else 1)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_awkward_strings_survive_text_formats(tmp_path, make_requests, write_log, fmt):
    df = make_requests(8)
    awkward = [
        "comma, \"double quotes\", 'single'",
        "line\nbreak\r\nCRLF\rCR",
        "ünïcödé 🙂 עברית \u2028\u2029 \u202e rtl",
        "tab\tand NUL\x00 inside",
        "NA",
        "null",
        " leading and trailing ",
        "=1+1",
    ]
    df[S.PROMPT] = awkward
    df[S.USER_AGENT] = list(reversed(awkward))
    df[S.ACCOUNT_ID] = ["a,b", 'a"b', "a\nb", "ä", "NaN", "None", "0", "-1"]
    out, report = read_log(write_log(df, tmp_path, fmt))
    assert report.quarantined == 0
    assert_same_rows(out, df)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_floats_are_exact(tmp_path, make_requests, write_log, fmt):
    df = make_requests(200, seed=9)
    df[S.TEMPERATURE] = np.random.default_rng(9).random(200) * 2  # full 17-digit floats
    out, _ = read_log(write_log(df, tmp_path, fmt))
    out = out.sort_values(S.REQUEST_ID, ignore_index=True)
    assert out[S.TEMPERATURE].tolist() == df[S.TEMPERATURE].tolist()


def test_chunking_does_not_change_the_result(tmp_path, make_requests, write_log):
    df = make_requests(50, seed=3)
    path = write_log(df, tmp_path, "jsonl")
    whole, _ = read_log(path)
    chunks = list(iter_clean(path, config=Config(chunk_rows=4)))
    assert max(len(c) for c in chunks) <= 4
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_several_files_and_formats_in_one_directory(tmp_path, make_requests, write_log):
    a, b, c = make_requests(10, seed=1), make_requests(10, seed=2), make_requests(10, seed=3)
    write_log(a, tmp_path / "x", "parquet")
    write_log(b, tmp_path / "x" / "sub", "csv", gz=True)
    write_log(c, tmp_path / "x", "jsonl")
    (tmp_path / "x" / "_README.txt").write_text("not a log: skipped by its leading '_'")
    out, report = read_log(tmp_path / "x", config=SMALL)
    assert len(report.files) == 3
    assert report.ignored_files == 1
    assert_same_rows(out, pd.concat([a, b, c], ignore_index=True))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_byte_order_mark_is_ignored(tmp_path, make_requests, write_log, fmt):
    df = make_requests(5)
    path = write_log(df, tmp_path, fmt)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    out, report = read_log(path)
    assert report.quarantined == 0
    assert_same_rows(out, df)


def test_drop_bom_only_touches_a_leading_mark() -> None:
    """The rule both engines' JSON Lines readers apply to a file's first lines."""
    lines = [b"\xef\xbb\xbf{}\n", b"\xef\xbb\xbf{}\n"]
    drop_bom(lines)
    assert lines == [b"{}\n", b"\xef\xbb\xbf{}\n"], "a later line keeps its mark (data)"
    once = [b"\xef\xbb\xbf\xef\xbb\xbf{}"]
    drop_bom(once)
    assert once == [b"\xef\xbb\xbf{}"], "one mark is removed, not every one"
    empty: list[bytes] = []
    drop_bom(empty)
    assert empty == []


def test_list_of_files(tmp_path, make_requests, write_log):
    a, b = make_requests(5, seed=1), make_requests(5, seed=2)
    paths = [write_log(a, tmp_path, "csv", name="a"), write_log(b, tmp_path, "jsonl", name="b")]
    out, report = read_log(paths)
    assert report.kept == 10
    assert_same_rows(out, pd.concat([a, b], ignore_index=True))


def test_extra_columns_are_ignored(tmp_path, make_requests, write_log):
    df = make_requests(5)
    df["region"] = "eu"
    out, report = read_log(write_log(df, tmp_path, "parquet"))
    assert "region" not in out.columns
    assert report.kept == 5


# --- timestamps -----------------------------------------------------------------------------


def _parquet_with_timestamps(path: Path, stamps: pa.Array) -> Path:
    n = len(stamps)
    table = pa.table(
        {
            S.REQUEST_ID: [f"r{i}" for i in range(n)],
            S.ACCOUNT_ID: ["a"] * n,
            S.TIMESTAMP: stamps,
            S.MODEL: ["m"] * n,
            S.INPUT_TOKENS: pa.array([1] * n, pa.int32()),
            S.OUTPUT_TOKENS: pa.array([2] * n, pa.int64()),
            S.STATUS: ["ok"] * n,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def test_parquet_tz_aware_timestamps_become_utc(tmp_path):
    tokyo = dt.timezone(dt.timedelta(hours=9))
    stamps = pa.array(
        [dt.datetime(2026, 3, 1, 9, 0, tzinfo=tokyo), dt.datetime(2026, 3, 2, 0, 30, tzinfo=tokyo)],
        pa.timestamp("ms", tz="Asia/Tokyo"),
    )
    out, _ = read_log(_parquet_with_timestamps(tmp_path / "t.parquet", stamps))
    assert out[S.TIMESTAMP].dtype == "datetime64[ns, UTC]"
    assert out[S.TIMESTAMP].tolist() == [
        pd.Timestamp("2026-03-01T00:00:00Z"),
        pd.Timestamp("2026-03-01T15:30:00Z"),
    ]


def test_parquet_naive_timestamps_mean_utc(tmp_path):
    stamps = pa.array([dt.datetime(2026, 3, 1, 23, 59, 59, 123456)], pa.timestamp("us"))
    out, _ = read_log(_parquet_with_timestamps(tmp_path / "t.parquet", stamps))
    assert out[S.TIMESTAMP].dtype == "datetime64[ns, UTC]"
    assert out[S.TIMESTAMP].iloc[0] == pd.Timestamp("2026-03-01T23:59:59.123456Z")


def test_parquet_timestamp_outside_nanosecond_range_is_quarantined(tmp_path):
    stamps = pa.array([dt.datetime(2026, 3, 1), dt.datetime(3000, 1, 1)], pa.timestamp("us"))
    _, report = read_log(_parquet_with_timestamps(tmp_path / "t.parquet", stamps))
    assert report.kept == 1
    assert report.reasons == {S.REASON_TIMESTAMP_OUT_OF_RANGE.format(column=S.TIMESTAMP): 1}


@pytest.mark.parametrize(("writer", "name"), [(write_jsonl, "t.jsonl"), (write_csv_rows, "t.csv")])
def test_text_timestamps(tmp_path, writer, name):
    cases = {
        "2026-03-01T09:00:00+09:00": "2026-03-01T00:00:00Z",
        "2026-02-28T19:00:00-05:00": "2026-03-01T00:00:00Z",
        "2026-03-01T00:00:00Z": "2026-03-01T00:00:00Z",
        "2026-03-01T00:00:00": "2026-03-01T00:00:00Z",
        "2026-03-01 07:08:09.250": "2026-03-01T07:08:09.250Z",
        "2026-03-01": "2026-03-01T00:00:00Z",
    }
    rows = [valid_row(i, timestamp=raw) for i, raw in enumerate(cases)]
    out, report = read_log(writer(tmp_path / name, rows))
    assert report.quarantined == 0
    assert out[S.TIMESTAMP].dtype == "datetime64[ns, UTC]"
    got = out.sort_values(S.REQUEST_ID)[S.TIMESTAMP].tolist()
    assert got == [pd.Timestamp(v) for v in cases.values()]


def test_the_out_of_range_reason_names_the_instants_the_detector_holds(tmp_path):
    """The bounds the reason quotes are pandas' own, and the instants at them are kept."""
    first, last = pd.Timestamp.min.ceil("s"), pd.Timestamp.max.floor("s")
    assert f"({first:%Y-%m-%dT%H:%M:%S}Z..{last:%Y-%m-%dT%H:%M:%S}Z)" in OUT_OF_RANGE_TIMESTAMP
    edges = ["1677-09-21T00:12:44Z", "2262-04-11T23:47:16Z", "2262-04-11T23:47:16+00:00"]
    rows = [valid_row(i, timestamp=raw) for i, raw in enumerate(edges)]
    _, report = read_log(write_jsonl(tmp_path / "edges.jsonl", rows))
    assert (report.read, report.kept, report.quarantined) == (3, 3, 0)


# --- quarantine -------------------------------------------------------------------------------

OUT_OF_RANGE_TIMESTAMP = (
    "timestamp out of range (1677-09-21T00:12:44Z..2262-04-11T23:47:16Z): timestamp"
)
BAD_VALUES = [
    *[(col, None, f"missing required value: {col}") for col in S.REQUIRED],
    *[(col, "  ", f"missing required value: {col}") for col in S.REQUIRED],
    (S.INPUT_TOKENS, -1, "negative value: input_tokens"),
    (S.OUTPUT_TOKENS, -5, "negative value: output_tokens"),
    (S.INPUT_TOKENS, 1.5, "not an integer: input_tokens"),
    (S.OUTPUT_TOKENS, "12abc", "not a number: output_tokens"),
    (S.INPUT_TOKENS, 10**30, "out of range: input_tokens"),
    (S.OUTPUT_TOKENS, "inf", "not finite: output_tokens"),
    (S.TIMESTAMP, "yesterday", "unparseable timestamp: timestamp"),
    (S.TIMESTAMP, "2026-13-45T00:00:00Z", "unparseable timestamp: timestamp"),
    (S.TIMESTAMP, "2026-W10-1", "unparseable timestamp: timestamp"),  # ISO, but not taken
    (S.TIMESTAMP, "9999-12-31T23:59:59Z", OUT_OF_RANGE_TIMESTAMP),
    (S.TIMESTAMP, "0001-01-01", OUT_OF_RANGE_TIMESTAMP),
    (S.TIMESTAMP, "2262-04-11T23:47:17Z", OUT_OF_RANGE_TIMESTAMP),
    # pandas wrapped this one to 1677-09-21T01:25Z and the row was kept
    (S.TIMESTAMP, "2262-04-11T20:00:00-05:00", OUT_OF_RANGE_TIMESTAMP),
    (S.TIMESTAMP, "9999-12-31T23:00:00-05:00", OUT_OF_RANGE_TIMESTAMP),  # year 10000 in UTC
    (S.STATUS, "success", "unknown status (expected ok, refused, error or rate_limited)"),
    (S.MAX_TOKENS, 0, "must be > 0: max_tokens"),
    (S.MAX_TOKENS, -3, "must be > 0: max_tokens"),
    (S.TEMPERATURE, -0.1, "negative value: temperature"),
    (S.TEMPERATURE, "hot", "not a number: temperature"),
    (S.TURN_INDEX, -1, "negative value: turn_index"),
    (S.LOGPROBS, "maybe", "not a boolean: logprobs"),
    (S.THINKING, "2", "not a boolean: thinking"),
]


@pytest.mark.parametrize("writer", [write_jsonl, write_csv_rows], ids=["jsonl", "csv"])
@pytest.mark.parametrize(("column", "value", "reason"), BAD_VALUES)
def test_quarantine_reason(tmp_path, writer, column, value, reason):
    rows = [valid_row(0), valid_row(1, **{column: value}), valid_row(2)]
    log = writer(tmp_path / "log" / ("l.jsonl" if writer is write_jsonl else "l.csv"), rows)
    qpath = tmp_path / "q.csv"
    out, report = read_log(log, quarantine_path=qpath)
    assert (report.read, report.kept, report.quarantined) == (3, 2, 1)
    assert dict(report.reasons) == {reason: 1}
    assert report.first_reasons == [{"file": str(log), "reason": reason}]
    assert sorted(out[S.REQUEST_ID]) == ["r0", "r2"]
    q = read_quarantine(qpath)
    assert q[S.QUARANTINE_REASON].tolist() == [reason]
    assert q[S.SOURCE_FILE].tolist() == [str(log)]
    if column != S.REQUEST_ID:
        assert q[S.REQUEST_ID].tolist() == ["r1"]


@pytest.mark.parametrize("value", ["TRUE", "yes", "1", "f", "No", "0", ""])
def test_accepted_booleans(tmp_path, value):
    out, report = read_log(write_csv_rows(tmp_path / "l.csv", [valid_row(logprobs=value)]))
    assert report.quarantined == 0
    expected = {"true": 1.0, "yes": 1.0, "1": 1.0, "f": 0.0, "no": 0.0, "0": 0.0}
    got = out[S.LOGPROBS].astype("Float64").iloc[0]
    if value == "":
        assert got is pd.NA
    else:
        assert got == expected[value.lower()]


def test_status_is_normalised(tmp_path):
    rows = [valid_row(0, status=" OK "), valid_row(1, status="Rate_Limited")]
    out, report = read_log(write_jsonl(tmp_path / "l.jsonl", rows))
    assert report.quarantined == 0
    assert sorted(out[S.STATUS].astype(object)) == ["ok", "rate_limited"]


def test_a_json_line_naming_a_column_twice_is_quarantined(tmp_path):
    """Red team: ``{"account_id": "a", "account_id": "b", ...}`` was read as account ``b``
    without a word (the decoder keeps the last value). However the repeat is spelled,
    the row is quarantined naming the column; a repeated extra key, or one inside a
    nested value, names no column twice and the row is kept."""

    def line(i: int, head: str, tail: str = "") -> str:
        body = json.dumps(valid_row(i, **{S.ACCOUNT_ID: "a"}))[1:-1]
        return "{" + head + body + tail + "}"

    lines = [
        line(0, ""),
        line(1, '"account_id":"b",'),
        line(2, "", ', "account_id" :\t"b"'),
        line(3, '"account\\u005fid":"b",'),  # the same key, one letter escaped
        line(4, "", ',"prompt":"C:\\\\","prompt":"again"'),  # after a string ending in \\
        line(5, '"extra":1,"extra":2,'),
        line(6, '"meta":{"account_id":1,"account_id":2},'),
        line(7, "", ',"user_agent":"quoting \\"account_id\\": \\"b\\""'),
    ]
    log = tmp_path / "l.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    qpath = tmp_path / "q.csv"
    out, report = read_log(log, quarantine_path=qpath, config=SMALL)
    twice = "duplicate key in JSON object: {}".format
    assert (report.read, report.kept, report.duplicates, report.quarantined) == (8, 4, 0, 4)
    assert dict(report.reasons) == {twice(S.ACCOUNT_ID): 3, twice(S.PROMPT): 1}
    assert sorted(out[S.REQUEST_ID]) == ["r0", "r5", "r6", "r7"]
    assert set(out[S.ACCOUNT_ID]) == {"a"}
    q = read_quarantine(qpath)
    assert q[S.REQUEST_ID].tolist() == ["r1", "r2", "r3", "r4"]
    assert q[S.QUARANTINE_REASON].tolist() == [twice(S.ACCOUNT_ID)] * 3 + [twice(S.PROMPT)]


def test_first_broken_rule_is_the_reason():
    raw = pd.DataFrame([valid_row(0, account_id="", input_tokens=-1, status="nope")])
    checked = validate_frame(raw)
    assert checked.reason.tolist() == ["missing required value: account_id"]


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_invalid_json_line_quarantines_only_that_line(tmp_path, chunk_rows):
    lines = [json.dumps(valid_row(i)) for i in range(6)]
    lines[1] = '{"request_id": "r1", "account_id": '  # truncated object
    lines[3] = "[1, 2]"  # valid JSON, not an object
    lines[4] = "null"
    path = tmp_path / "l.jsonl"
    path.write_text("\n".join(lines) + "\n\n   \n")  # blank lines are not rows
    qpath = tmp_path / "q.csv"
    out, report = read_log(path, config=Config(chunk_rows=chunk_rows), quarantine_path=qpath)
    assert (report.read, report.kept, report.quarantined) == (6, 3, 3)
    assert dict(report.reasons) == {"invalid JSON line": 1, "JSON line is not an object": 2}
    assert sorted(out[S.REQUEST_ID]) == ["r0", "r2", "r5"]
    assert read_quarantine(qpath)[S.SOURCE_FILE].tolist() == [str(path)] * 3


def test_quarantine_file_neutralises_formulas(tmp_path):
    evil = {
        S.REQUEST_ID: "=cmd|' /C calc'!A0",
        S.ACCOUNT_ID: "+1-555",
        S.MODEL: "-2+3",
        S.PROMPT: "@SUM(A1:A9)",
        S.INPUT_TOKENS: -5,  # the reason it is quarantined; "-5" is a formula start too
    }
    log = write_csv_rows(tmp_path / "l.csv", [valid_row(0, **evil), valid_row(1)])
    qpath = tmp_path / "out" / "quarantine.csv"
    _, report = read_log(log, quarantine_path=qpath)
    assert report.quarantined == 1
    assert report.quarantine_path == str(qpath)
    q = read_quarantine(qpath)
    assert list(q.columns) == [S.QUARANTINE_REASON, S.SOURCE_FILE, *S.ALL_COLUMNS]
    row = q.iloc[0]
    assert row[S.QUARANTINE_REASON] == "negative value: input_tokens"
    assert row[S.SOURCE_FILE] == str(log)
    for col, value in evil.items():
        assert row[col] == CSV_ESCAPE_PREFIX + str(value), col
    assert row[S.STATUS] == "ok"  # harmless cells are untouched
    assert not list(qpath.parent.glob("*.part"))


def test_quarantine_file_keeps_bare_carriage_returns_inside_the_cell(tmp_path):
    # unquoted, a bare CR would end the row and start fresh, un-neutralised cells "=1+2"
    prompt = "hi\r=1+2\r@SUM(A1)"
    log = write_jsonl(tmp_path / "l.jsonl", [valid_row(0, prompt=prompt, status="?")])
    qpath = tmp_path / "q.csv"
    read_log(log, quarantine_path=qpath)
    q = read_quarantine(qpath)
    assert len(q) == 1
    assert q[S.PROMPT].tolist() == [prompt]
    # pyarrow (the log reader) agrees with pandas
    _, report = read_log(qpath)
    assert report.read == 1


def test_empty_quarantine_still_has_a_header(tmp_path, make_requests, write_log):
    qpath = tmp_path / "q.csv"
    _, report = read_log(write_log(make_requests(3), tmp_path, "csv"), quarantine_path=qpath)
    assert report.quarantined == 0
    q = read_quarantine(qpath)
    assert len(q) == 0
    assert list(q.columns) == [S.QUARANTINE_REASON, S.SOURCE_FILE, *S.ALL_COLUMNS]


def test_first_reasons_are_capped(tmp_path):
    rows = [valid_row(i, status="bad") for i in range(25)]
    _, report = read_log(write_jsonl(tmp_path / "l.jsonl", rows), config=SMALL)
    assert report.quarantined == 25
    assert len(report.first_reasons) == 10


def test_first_reasons_keep_file_order_across_sources() -> None:
    """The cap counts over every call (one call per file, or per row as Spark makes)."""
    report = IngestReport()
    report.note_first_reasons(np.array(["r0", "r1", "r2"], dtype=object), "a.jsonl")
    report.note_first_reasons([f"s{i}" for i in range(20)], "b.jsonl")
    report.note_first_reasons(["late"], "c.jsonl")
    assert len(report.first_reasons) == 10
    assert report.first_reasons[:4] == [
        {"file": "a.jsonl", "reason": "r0"},
        {"file": "a.jsonl", "reason": "r1"},
        {"file": "a.jsonl", "reason": "r2"},
        {"file": "b.jsonl", "reason": "s0"},
    ]
    assert report.first_reasons[-1] == {"file": "b.jsonl", "reason": "s6"}
    assert report.quarantined == 0, "keeping reasons does not count rows"


def test_nothing_to_score_names_the_log_and_the_counts() -> None:
    """One message for every engine (the local pipeline and Spark raise the same)."""
    report = IngestReport(read=1234, quarantined=1234)
    err = nothing_to_score(Path("logs/day"), report)
    assert isinstance(err, IngestError)
    assert str(err) == (
        "logs/day: no valid request rows to score (read 1,234, quarantined 1,234); "
        "run `detector validate` for the reasons"
    )
    assert str(nothing_to_score("x", IngestReport())).startswith("x: no valid request rows")


# --- dedupe -----------------------------------------------------------------------------------


def test_duplicate_in_one_chunk_counts_once_first_kept(tmp_path):
    rows = [valid_row(0, account_id="first"), valid_row(1), valid_row(0, account_id="first")]
    rows.append(valid_row(0, account_id="second"))  # another account's request: not a repeat
    out, report = read_log(write_jsonl(tmp_path / "l.jsonl", rows))
    assert (report.read, report.kept, report.duplicates, report.quarantined) == (4, 2, 1, 1)
    assert report.reasons == {"request_id already used by another account": 1}
    assert out.set_index(S.REQUEST_ID).loc["r0", S.ACCOUNT_ID] == "first"


def test_duplicates_across_chunks(tmp_path):
    ids = [0, 1, 2, 0, 3, 1, 4, 0, 5, 2, 6, 7, 0]
    rows = [valid_row(i, model=f"copy-{n}") for n, i in enumerate(ids)]
    out, report = read_log(write_csv_rows(tmp_path / "l.csv", rows), config=Config(chunk_rows=2))
    assert (report.read, report.kept, report.duplicates) == (13, 8, 5)
    assert out[S.REQUEST_ID].is_unique
    models = out.set_index(S.REQUEST_ID)[S.MODEL]
    assert models["r0"] == "copy-0"
    assert models["r1"] == "copy-1"
    assert models["r2"] == "copy-2"


def test_duplicates_across_files(tmp_path, make_requests, write_log):
    df = make_requests(20, seed=4)
    again = df.iloc[5:15].copy()
    again[S.MODEL] = "replayed"
    write_log(df, tmp_path / "log", "parquet", name="a")
    write_log(again, tmp_path / "log", "jsonl", name="b")
    write_log(df.iloc[:3], tmp_path / "log" / "later", "csv", name="c")
    out, report = read_log(tmp_path / "log", config=Config(chunk_rows=3))
    assert (report.read, report.kept, report.duplicates) == (33, 20, 13)
    assert report.reconciles()
    assert "replayed" not in set(out[S.MODEL].astype(object))
    assert_same_rows(out, df)


def test_deduper_remembers_across_calls():
    d = Deduper()
    assert d.duplicated(pd.Series(["a", "b", "a"])).tolist() == [False, False, True]
    assert d.duplicated(pd.Series(["c", "b", "c", "z"])).tolist() == [False, True, True, False]
    assert d.duplicated(pd.Series(["z", "a", "y"])).tolist() == [True, True, False]


# --- reconciliation (property) -------------------------------------------------------------

_odd_text = st.text(max_size=12)  # any code point but surrogates: controls, RTL, U+2028
_garbage = st.one_of(
    st.none(),
    _odd_text,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["", " ", "NaN", "null", "-0", "1e400", "=1+1", "\n", '"', ",", "\r"]),
)
_VALID = {
    S.ACCOUNT_ID: st.sampled_from(["a", "b", "ç"]),
    S.TIMESTAMP: st.sampled_from(
        ["2026-03-01T00:00:00Z", "2026-03-02 10:00:00+02:00", "2026-03-03T01:02:03.5"]
    ),
    S.MODEL: st.sampled_from(["m1", "m2"]),
    S.ENDPOINT: st.sampled_from(["messages", "batch"]),
    S.INPUT_TOKENS: st.integers(0, 10**6),
    S.OUTPUT_TOKENS: st.integers(0, 10**6),
    S.MAX_TOKENS: st.integers(1, 10**5),
    S.TEMPERATURE: st.floats(0, 2),
    S.STATUS: st.sampled_from(list(S.STATUSES)),
    S.PROMPT: _odd_text,
    S.TURN_INDEX: st.integers(0, 50),
    S.LOGPROBS: st.sampled_from([True, False, "true", "0"]),
    S.THINKING: st.booleans(),
}


@st.composite
def _rows(draw: st.DrawFn) -> list[dict[str, object]]:
    n = draw(st.integers(1, 25))
    rows = []
    for _ in range(n):
        row: dict[str, object] = {
            # a small id pool: plenty of duplicates
            S.REQUEST_ID: draw(st.one_of(st.sampled_from(["r1", "r2", "r3", "r4"]), _garbage))
        }
        for col, valid in _VALID.items():
            row[col] = draw(valid) if draw(st.integers(0, 3)) else draw(_garbage)
        row["extra"] = draw(_garbage)
        rows.append(row)
    return rows


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=_rows(), chunk_rows=st.integers(1, 8), bad_lines=st.lists(_odd_text, max_size=3))
def test_counts_always_reconcile(tmp_path_factory, rows, chunk_rows, bad_lines):
    d = tmp_path_factory.mktemp("prop")
    csv_path = write_csv_rows(d / "l.csv", rows)
    jsonl_path = d / "l.jsonl.gz"
    bad = [f"#{b}" for b in bad_lines]  # never blank, never JSON
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + [b.replace("\n", " ") for b in bad]
    jsonl_path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    for path, written in ((csv_path, len(rows)), (jsonl_path, len(lines))):
        qpath = d / f"q-{path.name}.csv"
        out, report = read_log(path, config=Config(chunk_rows=chunk_rows), quarantine_path=qpath)
        assert report.read == written
        assert report.read == report.kept + report.duplicates + report.quarantined
        assert report.kept == len(out)
        assert sum(report.reasons.values()) == report.quarantined
        assert len(read_quarantine(qpath)) == report.quarantined
        if len(out):
            assert out[S.REQUEST_ID].is_unique
            assert out[S.TIMESTAMP].dtype == "datetime64[ns, UTC]"
            assert (out[S.INPUT_TOKENS] >= 0).all()
            assert out[S.INPUT_TOKENS].dtype == np.dtype("int64")
            assert out[S.STATUS].isin(list(S.STATUSES)).all()
            assert not out[S.REQUEST_ID].astype(object).str.strip().eq("").any()
            temps = out[S.TEMPERATURE].dropna()
            assert all(math.isfinite(t) and t >= 0 for t in temps)


# --- partitions and the --start/--end window -------------------------------------------------

D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)


def _corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a parquet file\x00\x01\x02")
    return path


def test_pruned_partitions_are_never_opened(tmp_path, make_requests, write_log):
    df = make_requests(90, seed=5)
    root = write_log(df, tmp_path / "log", "parquet", partitioned=True)
    _corrupt(root / "date=2026-02-20" / "part-0.parquet")
    _corrupt(root / "date=2026-03-04" / "part-0.parquet")
    out, report = read_log(root, start=D1, end=D3)
    assert report.pruned_files == 2
    assert len(report.files) == 3
    assert report.read == report.kept == 90
    assert_same_rows(out, df)


def test_window_keeps_only_its_days(tmp_path, make_requests, write_log):
    df = make_requests(90, seed=6)
    root = write_log(df, tmp_path / "log", "csv", partitioned=True)
    _corrupt(root / "date=2026-03-01" / "part-9.parquet")
    out, report = read_log(root, start=D2, end=D2)
    on_day = df[df[S.TIMESTAMP].dt.date == D2]
    assert report.pruned_files == 3
    assert report.files == [str(root / "date=2026-03-02" / "part-0.csv")]
    assert report.read == len(on_day)
    assert_same_rows(out, on_day)


def test_open_ended_window(tmp_path, make_requests, write_log):
    df = make_requests(60, seed=7)
    root = write_log(df, tmp_path / "log", "parquet", partitioned=True)
    _, report = read_log(root, start=D2)
    assert report.pruned_files == 1
    assert report.read == int((df[S.TIMESTAMP].dt.date >= D2).sum())
    _, report = read_log(root, end=D1)
    assert report.pruned_files == 2
    assert report.read == int((df[S.TIMESTAMP].dt.date == D1).sum())


def test_corrupt_partition_inside_window_fails_naming_the_file(tmp_path, make_requests, write_log):
    root = write_log(make_requests(30), tmp_path / "log", "parquet", partitioned=True)
    bad = _corrupt(root / "date=2026-03-02" / "part-1.parquet")
    with pytest.raises(IngestError, match=r"part-1\.parquet") as err:
        read_log(root, start=D1, end=D3)
    assert str(bad) in str(err.value)


def test_window_prunes_everything(tmp_path, make_requests, write_log):
    root = write_log(make_requests(30), tmp_path / "log", "parquet", partitioned=True)
    out, report = read_log(root, start=dt.date(2027, 1, 1), end=dt.date(2027, 1, 2))
    assert len(out) == 0
    assert (report.read, report.pruned_files) == (0, 3)


def test_unpartitioned_rows_outside_window_are_not_read(tmp_path, make_requests, write_log):
    df = make_requests(60, seed=8)
    path = write_log(df, tmp_path, "jsonl")
    with path.open("a") as fh:  # a bad row is quarantined whatever its day
        fh.write(json.dumps(valid_row(999, timestamp="2020-01-01T00:00:00Z", status="?")) + "\n")
    out, report = read_log(path, start=D2, end=D2, config=SMALL)
    on_day = df[df[S.TIMESTAMP].dt.date == D2]
    assert report.outside_window == len(df) - len(on_day)
    assert report.read == len(on_day) + 1
    assert report.quarantined == 1
    assert report.reconciles()
    assert_same_rows(out, on_day)


# --- unreadable inputs -------------------------------------------------------------------------


def test_not_parquet_bytes(tmp_path):
    bad = _corrupt(tmp_path / "log" / "x.parquet")
    for path in (bad, bad.parent):
        with pytest.raises(IngestError, match="not a readable Parquet file") as err:
            read_log(path)
        assert str(bad) in str(err.value)


def test_truncated_jsonl_gz(tmp_path, make_requests, write_log):
    path = write_log(make_requests(400), tmp_path, "jsonl", gz=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError) as err:
        read_log(path, config=SMALL)
    assert str(path) in str(err.value)


def test_not_gzip_at_all(tmp_path):
    path = tmp_path / "l.csv.gz"
    path.write_text("request_id,account_id\n")
    with pytest.raises(IngestError) as err:
        read_log(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_missing_required_column(tmp_path, make_requests, write_log, fmt):
    path = write_log(make_requests(5).drop(columns=[S.STATUS]), tmp_path, fmt)
    with pytest.raises(IngestError, match="missing required column") as err:
        read_log(path)
    assert str(path) in str(err.value)
    assert S.STATUS in str(err.value)


def test_a_contract_column_named_twice_in_a_csv_header_is_refused(tmp_path, make_requests):
    frame = make_requests(5)
    frame.insert(len(frame.columns), "dup", frame[S.ACCOUNT_ID].str.upper())
    path = tmp_path / "l.csv"
    frame.to_csv(path, index=False)
    text = path.read_text().split("\n", 1)
    path.write_text(text[0].replace("dup", S.ACCOUNT_ID) + "\n" + text[1])
    with pytest.raises(IngestError) as err:
        read_log(path)
    message = str(err.value)
    assert str(path) in message and f"{S.ACCOUNT_ID} appear more than once" in message
    assert "\n" not in message


def test_a_contract_column_named_twice_in_a_parquet_schema_is_refused(tmp_path):
    """Found beside the JSON duplicate keys: the Parquet reader checked a *set* of the
    schema's names, so a column named twice went unseen until pandas failed on it --
    exit 3, "internal error". Now it is the CSV header's refusal."""
    columns = {S.REQUEST_ID: ["r1"], S.ACCOUNT_ID: ["a"], S.TIMESTAMP: ["2026-03-01T00:00:00Z"]}
    columns |= {S.MODEL: ["m"], S.INPUT_TOKENS: [1], S.OUTPUT_TOKENS: [2], S.STATUS: ["ok"]}
    names = [*columns, S.ACCOUNT_ID]
    table = pa.Table.from_arrays([pa.array(v) for v in [*columns.values(), ["b"]]], names=names)
    path = tmp_path / "l.parquet"
    pq.write_table(table, path)
    with pytest.raises(IngestError) as err:
        read_log(path)
    assert str(err.value) == (
        f"{path}: column(s) account_id appear more than once in the header; keep one of each"
    )
    clean_failure("validate", path, needles=(path, "account_id appear more than once"))


def test_jsonl_never_holding_a_required_key(tmp_path):
    rows = [{k: v for k, v in valid_row(i).items() if k != S.MODEL} for i in range(3)]
    path = write_jsonl(tmp_path / "l.jsonl", rows)
    with pytest.raises(IngestError, match=S.MODEL) as err:
        read_log(path)
    assert str(path) in str(err.value)


def test_nonexistent_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(IngestError, match="no such file") as err:
        read_log(missing)
    assert str(missing) in str(err.value)


def test_directory_without_log_files(tmp_path):
    (tmp_path / "_notes.txt").write_text("hi")
    (tmp_path / ".x.parquet.gz").write_bytes(b"")
    with pytest.raises(
        IngestError, match=r"no \.parquet, \.jsonl\[\.gz\] or \.csv\[\.gz\] files"
    ) as err:
        read_log(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_file_of_unknown_format(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("request_id\n")
    with pytest.raises(IngestError, match="unknown log format") as err:
        read_log(path)
    assert str(path) in str(err.value)


def test_ingest_error_is_a_user_error():
    from detector.errors import UserError

    assert issubclass(IngestError, UserError)


# --- optional columns --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_missing_optional_columns_are_reported_not_fatal(tmp_path, make_requests, write_log, fmt):
    df = make_requests(10)[[*S.REQUIRED, S.PROMPT]]
    out, report = read_log(write_log(df, tmp_path, fmt))
    assert report.kept == 10
    assert report.missing_optional == [c for c in S.OPTIONAL if c != S.PROMPT]
    assert report.to_dict()["missing_optional_columns"] == report.missing_optional
    assert set(out.columns) == {*S.REQUIRED, S.PROMPT}


def test_optional_column_present_in_one_file_only_is_missing_and_named(
    tmp_path, make_requests, write_log
):
    """A column some files lack is unknown for the log (contract 1.1), never read as
    empty in those files: it is missing, with how many files lack it and the first."""
    a = write_log(make_requests(5, seed=1)[list(S.REQUIRED)], tmp_path, "csv", name="a")
    write_log(make_requests(5, seed=2)[[*S.REQUIRED, S.CLIENT_IP]], tmp_path, "csv", name="b")
    _, report = read_log(tmp_path)
    assert S.CLIENT_IP in report.missing_optional
    assert report.missing_optional_notes == {
        S.CLIENT_IP: f"client_ip missing from 1 of 2 files ({a})"
    }
    assert S.PROMPT in report.missing_optional
    assert S.PROMPT not in report.missing_optional_notes  # absent everywhere: no note


def test_report_to_dict_reconciles():
    report = IngestReport(read=5, kept=3, duplicates=1, quarantined=1)
    report.reasons.update({"x": 1})
    d = report.to_dict()
    assert d["reconciles"] is True
    assert d["quarantine_reasons"] == {"x": 1}
    json.dumps(d)


# --- accounts and labels -----------------------------------------------------------------------


def test_read_accounts_csv(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text(
        "account_id,created_at,plan,country,payment_fingerprint,org_id,extra\n"
        "b,2026-01-02T10:00:00+02:00,free,DE,fp1,o1,x\n"
        "a,2026-01-01,scale,US,,o2,y\n"
        "b,2026-01-02T10:00:00+02:00,free,DE,fp1,o1,x\n"
        "c,,build,,fp1,,\n"
    )
    table = read_accounts(path)
    assert table.index.tolist() == ["a", "b", "c"]
    assert table.index.name == S.ACCOUNT_ID
    assert "extra" not in table.columns
    assert table[S.CREATED_AT].dtype == "datetime64[ns, UTC]"
    assert table.loc["b", S.CREATED_AT] == pd.Timestamp("2026-01-02T08:00:00Z")
    assert table.loc["b", S.PLAN] == "free"  # a row repeated exactly counts once
    assert pd.isna(table.loc["c", S.CREATED_AT])
    assert table.loc["a", S.PAYMENT_FINGERPRINT] == ""


def test_read_accounts_parquet(tmp_path):
    path = tmp_path / "accounts.parquet"
    pd.DataFrame(
        {
            S.ACCOUNT_ID: ["x", "y"],
            S.CREATED_AT: pd.to_datetime(["2026-01-01", "2026-02-01"]),  # naive: UTC
            S.PLAN: ["free", None],
        }
    ).to_parquet(path, index=False)
    table = read_accounts(path)
    assert table.loc["x", S.CREATED_AT] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert table.loc["y", S.PLAN] == ""


def test_read_accounts_reads_idle_days_and_refuses_what_is_not_days(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,created_at,idle_days\na,2025-01-01,45\nb,2025-01-01,\nc,,0.5\n")
    table = read_accounts(path)
    assert table[S.IDLE_DAYS].dtype == "float64"
    assert table.loc["a", S.IDLE_DAYS] == 45.0 and table.loc["c", S.IDLE_DAYS] == 0.5
    assert pd.isna(table.loc["b", S.IDLE_DAYS])  # empty: unknown
    parquet = tmp_path / "accounts.parquet"
    pd.DataFrame({S.ACCOUNT_ID: ["x", "y"], S.IDLE_DAYS: [3, None]}).to_parquet(parquet)
    assert read_accounts(parquet)[S.IDLE_DAYS].tolist()[0] == 3.0
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,idle_days\na,-1\nb,lots\nc,inf\nd,2\n")
    with pytest.raises(IngestError, match=r"column idle_days: 3 value\(s\)") as err:
        read_accounts(bad)
    assert str(bad) in str(err.value) and "leave it empty" in str(err.value)


def test_read_accounts_errors(tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        read_accounts(tmp_path / "nope.csv")
    path = tmp_path / "a.csv"
    path.write_text("id,plan\n1,free\n")
    with pytest.raises(IngestError, match=S.ACCOUNT_ID) as err:
        read_accounts(path)
    assert str(path) in str(err.value)


def test_read_labels(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "account_id,label,scenario,notes\n"
        "a,benign,normal,\n"
        "b,extraction,distillation,x\n"
        "a,benign,said twice,\n"
    )
    labels = read_labels(path)
    assert list(labels.columns) == [S.ACCOUNT_ID, S.LABEL, S.SCENARIO]
    assert labels.to_dict("records") == [
        {S.ACCOUNT_ID: "a", S.LABEL: "benign", S.SCENARIO: "normal"},
        {S.ACCOUNT_ID: "b", S.LABEL: "extraction", S.SCENARIO: "distillation"},
    ]


def test_an_account_labelled_both_ways_is_refused_not_guessed(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("account_id,label\na,benign\nb,extraction\na,extraction\nc,benign\n")
    with pytest.raises(IngestError) as err:
        read_labels(path)
    message = str(err.value)
    assert str(path) in message and "1 account(s)" in message and "'a'" in message
    assert "columns: label" in message and "one label" in message and "\n" not in message


def _account_rows(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,plan,created_at\n" + text)
    return path


def test_an_account_listed_twice_with_other_values_is_refused(tmp_path):
    path = _account_rows(
        tmp_path,
        "a,free,2026-01-01T00:00:00Z\nb,scale,2026-02-01T00:00:00Z\n"
        "a,enterprise,2025-01-01T00:00:00Z\n",
    )
    with pytest.raises(IngestError) as err:
        read_accounts(path)
    message = str(err.value)
    assert str(path) in message and "1 account(s)" in message and "'a'" in message
    assert "plan" in message and "created_at" in message and "one row per account" in message
    # the same row twice is one account, not a conflict
    same = _account_rows(tmp_path, "a,free,2026-01-01T00:00:00Z\na,free,2026-01-01T00:00:00Z\n")
    assert read_accounts(same).index.tolist() == ["a"]


def test_an_account_table_without_rows_or_with_garbage_dates_is_refused(tmp_path):
    with pytest.raises(IngestError, match="no rows") as err:
        read_accounts(_account_rows(tmp_path, ""))
    assert str(tmp_path / "accounts.csv") in str(err.value)
    garbage = _account_rows(tmp_path, "a,free,garbage\nb,free,\nc,free,2026-01-01\n")
    with pytest.raises(IngestError) as err:
        read_accounts(garbage)
    assert "created_at: 1 value(s)" in str(err.value) and "'garbage'" in str(err.value)
    fine = _account_rows(tmp_path, "a,free,\nc,free,2026-01-01\n")
    assert read_accounts(fine)[S.CREATED_AT].isna().tolist() == [True, False]  # empty: unknown


def test_an_account_table_of_another_population_is_refused(tmp_path):
    table = read_accounts(_account_rows(tmp_path, "".join(f"{i},free,\n" for i in range(30))))
    log_ids = pd.Index([f"acct_{i:04d}" for i in range(25)])
    with pytest.raises(IngestError) as err:
        check_account_overlap(table, log_ids)
    message = str(err.value)
    assert str(tmp_path / "accounts.csv") in message and "none of the log's 25 accounts" in message
    assert "'0'" in message and "'acct_0000'" in message
    check_account_overlap(table, log_ids.append(pd.Index(["7"])))  # one in common: fine
    check_account_overlap(table, log_ids[:5])  # a handful of new sign-ups: fine


def test_read_labels_without_scenario(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("account_id,label\n007,benign\n")
    labels = read_labels(path)
    assert labels[S.ACCOUNT_ID].tolist() == ["007"]  # ids stay text
    assert labels[S.SCENARIO].tolist() == [""]


@pytest.mark.parametrize("bad", ["fraud", "Benign", ""])
def test_read_labels_bad_value(tmp_path, bad):
    path = tmp_path / "labels.csv"
    path.write_text(f"account_id,label\na,benign\nb,{bad}\n")
    with pytest.raises(IngestError, match="1 row") as err:
        read_labels(path)
    assert str(path) in str(err.value)
    assert S.LABEL in str(err.value)


def test_read_labels_errors(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("account_id,verdict\na,benign\n")
    with pytest.raises(IngestError, match="no label column"):
        read_labels(path)
    with pytest.raises(IngestError, match="cannot read labels"):
        read_labels(tmp_path / "nope.csv")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_epoch_seconds_reads_any_resolution(unit: str) -> None:
    """Instants held at any resolution give the same whole seconds: a table built outside
    the readers (seconds or microseconds, as pandas' own Parquet reader may give) is not
    read as nanoseconds, which would put every instant in January 1970."""
    instants = pd.Series(
        pd.to_datetime(["2026-11-03 12:00:00.9", "1969-12-31 23:59:59.5"], utc=True)
    ).astype(f"datetime64[{unit}, UTC]")
    # floored, as integer division of nanoseconds floors: half a second before 1970 is -1
    assert epoch_seconds(instants).tolist() == [1_793_707_200, -1]
