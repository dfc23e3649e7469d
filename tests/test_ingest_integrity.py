"""Ingest integrity (issue 11): every input row is read, quarantined with a reason, or a
clear error -- and counted; no row far outside the window is scored, and nothing is
allocated by the time span the raw timestamps cover.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from detector import schema as S
from detector.cli import app
from detector.config import Config
from detector.ingest import IngestError, LogFile, csvlog, iter_clean, read_log
from detector.nightly import MissingPartitionError, check_window
from tests.cli_run import clean_failure

# a warning printed by ingest lands on the user's stderr: treat it as a failure
pytestmark = pytest.mark.filterwarnings("error")

FAR = "timestamp far from its date= partition"
INVALID_JSON = "invalid JSON line"
INVALID_UTF8 = "invalid UTF-8"
D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)


def row(i: int, **overrides: object) -> dict[str, object]:
    """One valid request (JSON-ready), stamped at noon on 2026-03-02 unless overridden."""
    out: dict[str, object] = {
        S.REQUEST_ID: f"r{i}",
        S.ACCOUNT_ID: f"acct-{i % 3}",
        S.TIMESTAMP: "2026-03-02T12:00:00Z",
        S.MODEL: "m",
        S.INPUT_TOKENS: 10,
        S.OUTPUT_TOKENS: 20,
        S.STATUS: "ok",
    }
    out.update(overrides)
    return out


def jsonl(path: Path, lines: list[str | bytes | dict[str, object]]) -> Path:
    """Write ``lines`` (objects as JSON, text and bytes as they are) one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = b""
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line)
        out += (line.encode("utf-8") if isinstance(line, str) else line) + b"\n"
    path.write_bytes(out)
    return path


def reconciled(report: object) -> bool:
    return report.read == report.kept + report.duplicates + report.quarantined  # type: ignore[attr-defined]


def quarantine(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# --- item 1: the window, and rows far from their partition ----------------------------------


STRAYS = [
    "1970-01-01T00:00:00Z",  # a zeroed clock
    "1677-09-22T00:00:00Z",  # near the oldest nanosecond instant
    "2026-02-02T12:00:00Z",  # a month early: plausible, and it shifted 188 accounts' scores
    "2026-03-04T12:00:00Z",  # two days late
]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_row_far_from_its_partition_is_quarantined(tmp_path: Path, fmt: str) -> None:
    rows = [row(i) for i in range(6)] + [row(10 + k, timestamp=ts) for k, ts in enumerate(STRAYS)]
    part = tmp_path / "log" / "date=2026-03-02" / f"part-0.{fmt}"
    if fmt == "jsonl":
        jsonl(part, rows)  # type: ignore[arg-type]
    else:
        part.parent.mkdir(parents=True)
        frame = pd.DataFrame(rows)
        frame[S.TIMESTAMP] = pd.to_datetime(frame[S.TIMESTAMP], utc=True)
        frame.to_parquet(part)
    qpath = tmp_path / "q.csv"
    for window in ({}, {"start": D1, "end": D3}):
        out, report = read_log(tmp_path / "log", quarantine_path=qpath, **window)
        assert (report.read, report.kept, report.quarantined) == (10, 6, 4)
        assert dict(report.reasons) == {FAR: 4}
        assert reconciled(report)
        assert sorted(out[S.REQUEST_ID]) == [f"r{i}" for i in range(6)]
        assert quarantine(qpath)[S.REQUEST_ID].tolist() == ["r10", "r11", "r12", "r13"]


def test_late_shipped_rows_near_their_partition_are_kept(tmp_path: Path) -> None:
    """Log shipping puts the last minutes of a day into the next day's partition."""
    rows = [
        row(0, timestamp="2026-03-01T23:58:30Z"),  # late, from the previous day
        row(1, timestamp="2026-03-03T00:00:10Z"),  # clock skew into the next day
        row(2),
        row(3, timestamp="2026-03-01T20:59:59Z"),  # 3 hours and a second early: too far
    ]
    log = jsonl(tmp_path / "log" / "date=2026-03-02" / "part-0.jsonl", rows).parents[1]  # type: ignore[arg-type]
    for window in ({}, {"start": D2, "end": D2}):
        out, report = read_log(log, **window)
        assert sorted(out[S.REQUEST_ID]) == ["r0", "r1", "r2"]
        assert dict(report.reasons) == {FAR: 1} and report.outside_window == 0


def test_partition_slack_is_a_config_default(tmp_path: Path) -> None:
    rows = [row(0, timestamp="2026-03-01T23:00:00Z"), row(1)]
    log = jsonl(tmp_path / "log" / "date=2026-03-02" / "p.jsonl", rows).parents[1]  # type: ignore[arg-type]
    assert Config().partition_slack_hours >= 1
    _, report = read_log(log, config=Config(partition_slack_hours=0.5))
    assert report.quarantined == 1 and report.kept == 1


def test_unpartitioned_rows_outside_the_window_are_counted_not_read(tmp_path: Path) -> None:
    rows = [
        row(0),
        row(1, timestamp="1970-01-01T00:00:00Z"),
        row(2, timestamp="2026-03-03T00:00:00Z"),
    ]
    path = jsonl(tmp_path / "l.jsonl", rows)  # type: ignore[arg-type]
    out, report = read_log(path, start=D2, end=D2)
    assert out[S.REQUEST_ID].tolist() == ["r0"]
    assert (report.read, report.kept, report.outside_window) == (1, 1, 2)
    assert reconciled(report)


def test_kept_rows_always_lie_in_the_window_and_near_their_partition(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    base = pd.Timestamp("2026-03-02", tz="UTC")
    offsets = rng.integers(-40 * 86_400, 40 * 86_400, 300)
    rows = [
        row(i, timestamp=(base + pd.Timedelta(seconds=int(s))).isoformat())
        for i, s in enumerate(offsets)
    ]
    jsonl(tmp_path / "log" / "date=2026-03-02" / "a.jsonl", rows[:150])  # type: ignore[arg-type]
    jsonl(tmp_path / "log" / "b.jsonl", rows[150:])  # type: ignore[arg-type]
    slack = pd.Timedelta(hours=Config().partition_slack_hours)
    out, report = read_log(tmp_path / "log", start=D1, end=D3)
    assert reconciled(report) and report.kept > 0 and report.outside_window > 0
    assert out[S.TIMESTAMP].min() >= pd.Timestamp(D1, tz="UTC") - slack
    assert out[S.TIMESTAMP].max() < pd.Timestamp(D3, tz="UTC") + pd.Timedelta(days=1) + slack


def test_a_stray_row_in_a_partition_changes_no_feature(tmp_path: Path) -> None:
    """The issue's nightly case: one 1970 row in a day partition changed other accounts'
    scores and blew the memory of coordination; now it is quarantined before features."""
    from detector.pipeline import build_features
    from detector.simulate import simulate

    simulate(tmp_path / "sim", accounts=60, days=2, seed=4)
    log = tmp_path / "sim" / "requests"
    before = build_features(log)
    day = sorted(log.glob("date=*"))[-1]
    first = pq.read_table(sorted(day.glob("*.parquet"))[0]).slice(0, 1).to_pandas()
    first[S.REQUEST_ID] = "stray-1970"
    first[S.TIMESTAMP] = pd.Timestamp("1970-01-01", tz="UTC")
    first.to_parquet(day / "part-stray.parquet")
    after = build_features(log)
    assert after.report.reasons[FAR] == 1
    pd.testing.assert_frame_equal(before.features, after.features)
    assert after.context.window_start == before.context.window_start


# --- item 1: nothing is allocated by the span of raw timestamps -----------------------------
# (the per-module halves: tests/test_coordination.py, test_features.py, test_report.py)


def test_an_unwindowed_log_spanning_centuries_is_featurised(tmp_path: Path) -> None:
    """No window, no partition: the stray rows are kept (nothing to hold them to), and
    nothing is sized by their 585-year span (5.1 million hours)."""
    import tracemalloc

    from detector.pipeline import build_features

    rows = [
        row(i, account_id=f"acct-{i % 4}", timestamp=f"2026-03-02T{i % 24:02d}:00:00Z")
        for i in range(40)
    ]
    rows += [
        row(100, account_id="acct-0", timestamp="1677-09-22T00:00:00Z"),
        row(101, account_id="acct-1", timestamp="2262-04-10T00:00:00Z"),
    ]
    path = jsonl(tmp_path / "l.jsonl", rows)  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        result = build_features(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.report.kept == 42
    assert np.isfinite(result.features.to_numpy(dtype=float)).all()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB for 42 rows"


# --- item 5: a deeply nested line ------------------------------------------------------------


def test_a_deeply_nested_line_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    nested = "[" * 1000 + "]" * 1000  # 2 KB
    lines: list[str | bytes | dict[str, object]] = [
        row(0),
        nested,
        '{"request_id": ' + nested + "}",
        json.dumps(row(3)).replace('"m"', "[" * 900 + "]" * 900),
        row(4),
    ]
    path = jsonl(tmp_path / "l.jsonl", lines)
    qpath = tmp_path / "q.csv"
    out, report = read_log(path, quarantine_path=qpath)
    assert out[S.REQUEST_ID].tolist() == ["r0", "r4"]
    assert (report.read, report.quarantined) == (5, 3) and reconciled(report)
    q = quarantine(qpath)
    assert q[S.QUARANTINE_REASON].tolist()[:2] == [INVALID_JSON, INVALID_JSON]
    assert q[S.QUARANTINE_REASON].tolist()[2] == "not text: model"
    assert q[S.MODEL].tolist()[2] == "[JSON array]"
    result = CliRunner().invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code == 0, result.output


# --- item 6: every line is exactly one object ------------------------------------------------


def test_lines_are_never_stitched_or_split_to_make_the_count(tmp_path: Path) -> None:
    """Three invalid lines of four, which a whole-chunk parse read as four rows: an
    unterminated string joined to the next line, and two objects on one line."""
    open_string = json.dumps(row(1))[:-1] + ', "prompt": "x}'
    closes_it = '{", "endpoint": "messages"}'
    two_objects = json.dumps(row(2)) + "," + json.dumps(row(3))
    lines: list[str | bytes | dict[str, object]] = [open_string, closes_it, two_objects, row(4)]
    for chunk_rows in (1, 4, 100):
        out, report = read_log(
            jsonl(tmp_path / "l.jsonl", lines), config=Config(chunk_rows=chunk_rows)
        )
        assert out[S.REQUEST_ID].tolist() == ["r4"]
        assert (report.read, report.kept, report.quarantined) == (4, 1, 3)
        assert dict(report.reasons) == {INVALID_JSON: 3}


def test_trailing_text_after_an_object_is_invalid(tmp_path: Path) -> None:
    lines: list[str | bytes | dict[str, object]] = [
        json.dumps(row(0)) + " x",
        json.dumps(row(1)) + " " + json.dumps(row(2)),
        row(3),
    ]
    out, report = read_log(jsonl(tmp_path / "l.jsonl", lines))
    assert out[S.REQUEST_ID].tolist() == ["r3"]
    assert report.reasons[INVALID_JSON] == 2


# --- the weak items: read, quarantined with a reason, or a clear error -----------------------


def test_an_unlistable_directory_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "log"
    jsonl(log / "date=2026-03-02" / "a" / "p.jsonl", [row(0)])
    secret = log / "date=2026-03-02" / "b"
    jsonl(secret / "p.jsonl", [row(1)])
    real = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(os.fsdecode(path)) == secret:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", str(secret))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(IngestError, match="cannot list directory") as err:
        read_log(log)
    assert str(secret) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(IngestError, match="cannot list directory"):
        check_window(log, D2, 1)


def test_nightly_exits_1_with_one_line_on_an_unlistable_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "log"
    jsonl(log / "date=2026-03-02" / "a" / "p.jsonl", [row(0)])
    secret = log / "date=2026-03-02" / "b"
    jsonl(secret / "p.jsonl", [row(1)])
    real = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(os.fsdecode(path)) == secret:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", str(secret))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    args = ["nightly", "--logs", str(log), "--date", "2026-03-02", "--window-days", "1"]
    result = CliRunner().invoke(app, [*args, "--state", str(tmp_path / "state"), "--quiet"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(secret) in lines[0]


@pytest.mark.parametrize("name", ["part-1.json", "notes.txt", "part-1.jsonl.zst", "p.parquet.gz"])
def test_a_file_of_unknown_format_in_a_log_is_an_error(tmp_path: Path, name: str) -> None:
    log = tmp_path / "log"
    jsonl(log / "date=2026-03-02" / "part-0.jsonl", [row(0)])
    (log / "date=2026-03-02" / name).write_bytes(b'{"request_id": "r1"}\n')
    with pytest.raises(IngestError, match="unknown format") as err:
        read_log(log)
    assert name in str(err.value) and "'_'" in str(err.value)


def test_bookkeeping_files_are_skipped_like_spark_and_hive_do(tmp_path: Path) -> None:
    log = tmp_path / "log"
    day = log / "date=2026-03-02"
    jsonl(day / "part-0.jsonl", [row(0)])
    jsonl(day / "_temporary" / "0" / "_temporary" / "attempt_1" / "part-0.jsonl", [row(1)])
    jsonl(day / ".part-0.jsonl.inprogress.jsonl", [row(2)])
    (day / "_SUCCESS").write_bytes(b"")
    (day / ".part-0.jsonl.crc").write_bytes(b"\x00crc")
    (day / "part-0.jsonl.crc").write_bytes(b"\x00crc")
    jsonl(log / "_delta_log" / "0.jsonl", [row(3)])
    out, report = read_log(log)
    assert out[S.REQUEST_ID].tolist() == ["r0"]
    assert report.ignored_files == 6 and report.files == [str(day / "part-0.jsonl")]


def test_a_partition_name_that_is_not_a_date_is_an_error(tmp_path: Path) -> None:
    jsonl(tmp_path / "log" / "date=2026-13-45" / "p.jsonl", [row(0)])
    with pytest.raises(IngestError, match="date=YYYY-MM-DD") as caught:
        read_log(tmp_path / "log")
    assert str(caught.value).startswith(f"{tmp_path / 'log' / 'date=2026-13-45'}: ")


def test_a_bad_partition_name_is_named_under_the_log_root_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team: the message named ``date=2026-1-01`` alone, without the log root, so a
    user running over several logs could not tell which one held it."""
    jsonl(tmp_path / "logs" / "eu" / "date=2026-03-01" / "p.jsonl", [row(0)])
    jsonl(tmp_path / "logs" / "us" / "date=2026-1-01" / "p.jsonl", [row(1)])
    monkeypatch.chdir(tmp_path)
    line = clean_failure("validate", Path("logs") / "us")
    assert line == (
        "error: logs/us/date=2026-1-01: partition directory name 'date=2026-1-01' is not "
        "date=YYYY-MM-DD; rename it or move it out of the log"
    )
    clean_failure("validate", tmp_path / "logs", needles=(tmp_path / "logs/us/date=2026-1-01",))


def test_a_day_holding_only_an_empty_file_is_missing(tmp_path: Path) -> None:
    log = tmp_path / "log"
    jsonl(log / "date=2026-03-01" / "p.jsonl", [row(0, timestamp="2026-03-01T10:00:00Z")])
    (log / "date=2026-03-02").mkdir()
    (log / "date=2026-03-02" / "p.jsonl").write_bytes(b"")
    (log / "date=2026-03-02" / "q.parquet").write_bytes(b"")
    window = check_window(log, D2, 2)
    assert window.missing == (D2,)
    _, report = read_log(log)
    assert report.empty_files == 2 and report.read == 1


def _zero_row_day(log: Path, day: str, fmt: str) -> None:
    """A partition of ``day`` whose only file holds no row (but is not 0 bytes)."""
    part = log / f"date={day}"
    part.mkdir(parents=True)
    if fmt == "parquet":
        pd.DataFrame([row(0)]).head(0).to_parquet(part / "part-0.parquet", index=False)
    elif fmt == "csv":
        (part / "part-0.csv").write_text(",".join(row(0)) + "\n\n")
    else:
        with gzip.open(part / "part-0.jsonl.gz", "wb") as fh:
            fh.write(b"\n \t\r\n\n")


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_day_whose_files_hold_zero_rows_is_missing(tmp_path: Path, fmt: str) -> None:
    """Red team A4: a zero-row partition silently dropped a day from the nightly window."""
    log = tmp_path / "log"
    jsonl(log / "date=2026-03-01" / "p.jsonl", [row(0, timestamp="2026-03-01T10:00:00Z")])
    jsonl(log / "date=2026-03-03" / "p.jsonl", [row(1, timestamp="2026-03-03T10:00:00Z")])
    _zero_row_day(log, "2026-03-02", fmt)
    window = check_window(log, D3, 3)
    assert window.missing == (D2,) and window.empty == (D2,)
    assert window.to_dict()["days_present"] == 2
    with pytest.raises(MissingPartitionError) as err:
        window.require_complete(log, allow_missing=False)
    message = str(err.value)
    assert "\n" not in message and str(log) in message
    assert "zero rows in the partition of date=2026-03-02" in message
    assert "--allow-missing" in message
    window.require_complete(log, allow_missing=True)  # allowed: scored without the day


def test_a_day_with_one_file_of_rows_among_empty_ones_is_present(tmp_path: Path) -> None:
    log = tmp_path / "log"
    _zero_row_day(log, "2026-03-02", "parquet")
    jsonl(log / "date=2026-03-02" / "part-1.jsonl", ["", row(0)])
    (log / "date=2026-03-02" / "part-2.csv").write_text("request_id\n")
    assert check_window(log, D2, 1).missing == ()


def test_nightly_refuses_a_zero_row_day_in_one_line(tmp_path: Path) -> None:
    log = tmp_path / "log"
    jsonl(log / "date=2026-03-01" / "p.jsonl", [row(0, timestamp="2026-03-01T10:00:00Z")])
    jsonl(log / "date=2026-03-03" / "p.jsonl", [row(1, timestamp="2026-03-03T10:00:00Z")])
    _zero_row_day(log, "2026-03-02", "parquet")
    args = ["nightly", "--logs", str(log), "--date", "2026-03-03", "--window-days", "3"]
    result = CliRunner().invoke(app, [*args, "--state", str(tmp_path / "state"), "--quiet"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "date=2026-03-02" in lines[0] and "--allow-missing" in lines[0]


def test_lines_of_other_whitespace_are_rows_and_quarantined(tmp_path: Path) -> None:
    lines: list[str | bytes | dict[str, object]] = [
        row(0),
        "",
        " \t\r",  # JSON whitespace only: blank, not a row
        "\u2003\u00a0",  # Unicode spaces: not JSON, a row
        "\x0b",
        "\u2028",
        row(1),
    ]
    out, report = read_log(jsonl(tmp_path / "l.jsonl", lines))
    assert out[S.REQUEST_ID].tolist() == ["r0", "r1"]
    assert (report.read, report.kept, report.quarantined) == (5, 2, 3)
    assert dict(report.reasons) == {INVALID_JSON: 3}


def test_invalid_utf8_in_jsonl_is_quarantined_not_repaired(tmp_path: Path) -> None:
    good = json.dumps(row(1, account_id="acct-é"), ensure_ascii=False).encode("utf-8")
    bad = good.replace("é".encode(), b"\xe9")  # Latin-1: "acct-\ufffd" if replaced
    path = jsonl(tmp_path / "l.jsonl", [row(0), bad, json.dumps(row(2)).encode() + b"\xff", good])
    out, report = read_log(path)
    assert out[S.REQUEST_ID].tolist() == ["r0", "r1"]
    assert out[S.ACCOUNT_ID].tolist()[1] == "acct-é"
    assert dict(report.reasons) == {INVALID_UTF8: 2} and reconciled(report)


def test_invalid_utf8_in_csv_quarantines_the_row(tmp_path: Path) -> None:
    header = ",".join(row(0)).encode()
    lines = [",".join(str(v) for v in row(i).values()).encode() for i in range(3)]
    lines[1] = lines[1].replace(b"acct-1", b"acct-\xe9")
    path = tmp_path / "l.csv"
    path.write_bytes(b"\n".join([header, *lines]) + b"\n")
    out, report = read_log(path)
    assert out[S.REQUEST_ID].tolist() == ["r0", "r2"]
    assert dict(report.reasons) == {INVALID_UTF8: 1} and report.read == 3


@pytest.mark.parametrize("gz", [False, True])
def test_a_ragged_csv_row_is_quarantined_not_the_file(tmp_path: Path, gz: bool) -> None:
    header = ",".join(row(0))
    lines = [",".join(str(v) for v in row(i).values()) for i in range(5)]
    lines[1] += ",extra"
    lines[3] = lines[3].rsplit(",", 1)[0]
    text = "\n".join([header, *lines]) + "\n"
    path = tmp_path / ("l.csv.gz" if gz else "l.csv")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    qpath = tmp_path / "q.csv"
    out, report = read_log(path, quarantine_path=qpath)
    assert out[S.REQUEST_ID].tolist() == ["r0", "r2", "r4"]
    assert dict(report.reasons) == {"wrong number of CSV fields": 2} and report.read == 5
    assert sorted(quarantine(qpath)[S.REQUEST_ID]) == ["r1", "r3"]


def test_a_ragged_record_of_invalid_utf8_is_quarantined(tmp_path: Path) -> None:
    """Both defects in one record (pyarrow alone would fail the file on it)."""
    header = ",".join(row(0)).encode()
    lines = [",".join(str(v) for v in row(i).values()).encode() for i in range(4)]
    lines[1] = lines[1].replace(b"acct-1", b"acct-\xe9") + b",extra"
    lines[2] = lines[2].replace(b"acct-2", b"acct-\xe9")
    path = tmp_path / "l.csv"
    path.write_bytes(b"\n".join([header, *lines]) + b"\n\n")
    qpath = tmp_path / "q.csv"
    out, report = read_log(path, quarantine_path=qpath)
    assert out[S.REQUEST_ID].tolist() == ["r0", "r3"]
    assert dict(report.reasons) == {"wrong number of CSV fields": 1, INVALID_UTF8: 1}
    assert quarantine(qpath)[S.ACCOUNT_ID].tolist() == ["acct-\ufffd", "acct-\ufffd"]


@pytest.mark.parametrize("gz", [False, True])
def test_ragged_csv_records_are_quarantined_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool
) -> None:
    """A ragged record takes its place in the quarantine file among the rows quarantined
    for their values, in file order, wherever blocks and chunks end (the Spark engine
    writes the file in file order). Small blocks: pyarrow parses ahead of the batches it
    hands over, so a block's ragged records are set aside before the previous chunk
    is taken."""
    monkeypatch.setattr(csvlog, "CSV_BLOCK_BYTES", 1024)  # ~17 records a block
    bad_time = "unparseable timestamp: timestamp"
    lines, expected = [",".join(row(0))], []  # the header; (id, reason) quarantined
    for i in range(121):
        values = [str(v) for v in row(i).values()]
        kind = i % 10
        if kind in (0, 6):  # one field too many (r0 opens the file, r120 closes it)
            values.append("extra")
        elif kind in (2, 7):  # too few
            values = values[:4]
        elif kind in (1, 9):  # a bad timestamp right before and after a ragged record
            values[2] = "not a time"
        elif kind == 5:
            values[4] = "-5"
        lines.append(",".join(values))
        if kind in (0, 2, 6, 7):
            expected.append((f"r{i}", S.REASON_FIELD_COUNT))
        elif kind in (1, 9):
            expected.append((f"r{i}", bad_time))
        elif kind == 5:
            expected.append((f"r{i}", "negative value: input_tokens"))
    text = ("\n".join(lines) + "\n").encode()
    path = tmp_path / ("l.csv.gz" if gz else "l.csv")
    path.write_bytes(gzip.compress(text) if gz else text)
    chunks = list(csvlog.read_csv(LogFile(path, "csv", gz, None), 8))
    assert len(chunks) > 4  # the records span several blocks and chunks
    qpath = tmp_path / "q.csv"
    _, report = read_log(path, config=Config(chunk_rows=8), quarantine_path=qpath)
    assert reconciled(report) and report.quarantined == len(expected)
    q = quarantine(qpath)
    position = q[S.REQUEST_ID].str.removeprefix("r").astype(int).to_numpy()
    assert (np.diff(position) > 0).all(), "quarantined rows out of file order"
    assert list(zip(q[S.REQUEST_ID], q[S.QUARANTINE_REASON], strict=True)) == expected


@pytest.mark.parametrize("chunk_rows", [1, 2, 100])
def test_numeric_account_ids_are_exact_whatever_the_chunk(tmp_path: Path, chunk_rows: int) -> None:
    lines: list[str | bytes | dict[str, object]] = [
        row(0, account_id=123),
        row(1, account_id=None),
        row(2, account_id="abc"),
        row(3, account_id=12345678901234567890),
        row(4, account_id=123.0),  # a float is not an id: quarantined, not "123.0" or "123"
        row(5, account_id=True),
    ]
    out, report = read_log(jsonl(tmp_path / "l.jsonl", lines), config=Config(chunk_rows=chunk_rows))
    assert out[S.ACCOUNT_ID].astype(object).tolist() == ["123", "abc", "12345678901234567890"]
    assert dict(report.reasons) == {
        "missing required value: account_id": 1,
        "not text: account_id": 2,
    }


def test_parquet_integer_ids_with_a_null_stay_integers(tmp_path: Path) -> None:
    frame = pd.DataFrame([row(i) for i in range(3)])
    table = pa.Table.from_pandas(frame.drop(columns=[S.ACCOUNT_ID]), preserve_index=False)
    table = table.append_column(S.ACCOUNT_ID, pa.array([123, None, 7], pa.int64()))
    pq.write_table(table.replace_schema_metadata(None), tmp_path / "l.parquet")  # no pandas hints
    out, report = read_log(tmp_path / "l.parquet")
    assert out[S.ACCOUNT_ID].astype(object).tolist() == ["123", "7"]
    assert report.quarantined == 1


def test_no_quarantine_file_is_left_after_a_failed_read(tmp_path: Path) -> None:
    log = tmp_path / "log"
    jsonl(log / "a.jsonl", [row(0), row(1, status="?")])
    (log / "b.parquet").write_bytes(b"not parquet")
    qpath = tmp_path / "out" / "q.csv"
    with pytest.raises(IngestError):
        read_log(log, quarantine_path=qpath)
    assert not qpath.exists() and list(qpath.parent.glob("*")) == []


def test_no_quarantine_file_is_left_when_the_reader_stops_early(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "l.jsonl", [row(0, status="?"), row(1), row(2), row(3)])
    qpath = tmp_path / "q.csv"
    chunks = iter_clean(path, config=Config(chunk_rows=1), quarantine_path=qpath)
    next(chunks)
    chunks.close()
    assert list(tmp_path.glob("q.csv*")) == []


def test_validate_shows_skipped_files(tmp_path: Path) -> None:
    log = tmp_path / "log"
    jsonl(log / "p.jsonl", [row(0)])
    (log / "_SUCCESS").write_bytes(b"")
    (log / "empty.jsonl").write_bytes(b"")
    result = CliRunner().invoke(app, ["validate", str(log), "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["ignored_files"], counts["empty_files"], counts["read"]) == (1, 1, 1)


def test_arrow_strings_are_kept_as_text(tmp_path: Path) -> None:
    """A Parquet string column with odd text survives byte for byte."""
    ids = ["=1+1", "a\x00b", "ç", " lead"]
    frame = pd.DataFrame([row(i) for i in range(4)])
    frame[S.ACCOUNT_ID] = pa.array(ids).to_pandas()
    frame[S.TIMESTAMP] = pd.to_datetime(frame[S.TIMESTAMP], utc=True)
    frame.to_parquet(tmp_path / "l.parquet")
    out, _ = read_log(tmp_path / "l.parquet")
    assert out[S.ACCOUNT_ID].astype(object).tolist() == ids


def test_lone_surrogate_is_quarantined_and_written_with_its_escape(tmp_path: Path) -> None:
    """A JSON "\\ud800" escape decodes to text UTF-8 cannot hold: the row is quarantined
    as not text, and the quarantine file is still written (the escape as in the source)."""
    log = tmp_path / "log.jsonl"
    log.write_bytes(
        b'{"request_id": "r1", "account_id": "\\ud800", "timestamp": "2026-03-02T10:00:00Z",'
        b' "model": "m", "input_tokens": 3, "output_tokens": 7, "status": "ok"}\n'
    )
    quarantine = tmp_path / "q.csv"
    _, report = read_log(log, quarantine_path=quarantine)
    assert (report.read, report.kept, report.quarantined) == (1, 0, 1)
    assert report.to_dict()["quarantine_reasons"] == {"not text: account_id": 1}
    rows = pd.read_csv(quarantine, dtype=str, keep_default_na=False)
    assert rows[S.ACCOUNT_ID].tolist() == ["\\ud800"]


# --- red team A5: a request_id reused by another account is not a re-delivery ---------------

REUSED = "request_id already used by another account"


@pytest.mark.parametrize("chunk_rows", [1, 2, 50_000])
def test_a_request_id_of_another_account_is_quarantined_not_a_duplicate(
    tmp_path: Path, chunk_rows: int
) -> None:
    """31 rows of one request_id from 10 accounts: the keeper's 3 re-deliveries are
    duplicates, the 27 rows of 9 other accounts are quarantined with the reason."""
    lines: list[str | bytes | dict[str, object]] = [
        row(100 + i, request_id="shared", account_id=f"acct-{i % 10}", prompt=f"p{i}")
        for i in range(31)
    ]
    lines += [row(1, account_id="acct-1"), row(1, account_id="acct-1")]
    qpath = tmp_path / "q.csv"
    path = jsonl(tmp_path / "l.jsonl", lines)
    out, report = read_log(path, quarantine_path=qpath, config=Config(chunk_rows=chunk_rows))
    assert (report.read, report.kept, report.duplicates, report.quarantined) == (33, 2, 4, 27)
    assert reconciled(report) and report.reasons == {REUSED: 27}
    assert sorted(zip(out[S.REQUEST_ID], out[S.ACCOUNT_ID], strict=True)) == [
        ("r1", "acct-1"),
        ("shared", "acct-0"),
    ]
    q = quarantine(qpath)
    assert len(q) == 27 and set(q[S.QUARANTINE_REASON]) == {REUSED}
    assert "acct-0" not in set(q[S.ACCOUNT_ID]) and q[S.ACCOUNT_ID].nunique() == 9


def test_a_conflict_before_a_redelivery_in_a_later_chunk(tmp_path: Path) -> None:
    """The keeper is the first kept row's account, even when a later chunk shows another
    account's row first: the keeper's re-delivery after it stays a duplicate."""
    lines: list[str | bytes | dict[str, object]] = [
        row(0, request_id="x", account_id="a"),
        row(1, request_id="y", account_id="a"),
        row(2, request_id="x", account_id="b"),
        row(3, request_id="x", account_id="a"),
        row(4, request_id="x", account_id="b"),
    ]
    out, report = read_log(jsonl(tmp_path / "l.jsonl", lines), config=Config(chunk_rows=2))
    assert (report.kept, report.duplicates, report.quarantined) == (2, 1, 2)
    assert report.reasons == {REUSED: 2} and reconciled(report)
    assert out[S.ACCOUNT_ID].tolist() == ["a", "a"]


@pytest.mark.parametrize("chunk_rows", [1, 3, 50_000])
def test_reused_ids_are_quarantined_in_file_order_whatever_the_chunk(
    tmp_path: Path, chunk_rows: int
) -> None:
    """A chunk's rule-breaking and reused-id rows are written in file order, so the
    quarantine file and the first reasons do not depend on ``Config.chunk_rows`` (the
    Spark engine, which has no chunks, writes them in file order too)."""
    lines: list[str | bytes | dict[str, object]] = [
        row(0, request_id="x", account_id="a"),
        row(1, request_id="x", account_id="b"),  # reused
        row(2, input_tokens=-1),  # a rule broken
        row(3, request_id="x", account_id="a"),  # a duplicate
        row(4, request_id="x", account_id="b"),  # reused
        row(5, status="exploded"),  # a rule broken
    ]
    qpath = tmp_path / "q.csv"
    _, report = read_log(
        jsonl(tmp_path / "l.jsonl", lines),
        quarantine_path=qpath,
        config=Config(chunk_rows=chunk_rows),
    )
    assert (report.kept, report.duplicates, report.quarantined) == (1, 1, 4)
    reasons = [REUSED, "negative value: input_tokens", REUSED, S.REASON_UNKNOWN_STATUS]
    assert [r["reason"] for r in report.first_reasons] == reasons
    q = quarantine(qpath)
    assert q[S.QUARANTINE_REASON].tolist() == reasons
    assert q[S.REQUEST_ID].tolist() == ["x", "r2", "x", "r5"]


def test_validate_reports_reused_ids_as_quarantined(tmp_path: Path) -> None:
    lines: list[str | bytes | dict[str, object]] = [
        row(0, request_id="x", account_id="a"),
        row(1, request_id="x", account_id="b"),
    ]
    result = CliRunner().invoke(
        app, ["validate", str(jsonl(tmp_path / "l.jsonl", lines)), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["read"], out["kept"], out["duplicates"], out["quarantined"]) == (2, 1, 0, 1)
    assert out["quarantine_reasons"] == {REUSED: 1} and out["reconciles"]


@pytest.mark.parametrize("content", ["", "account_id,plan,created_at\n"])
def test_an_empty_account_table_is_one_line_naming_the_file(tmp_path: Path, content: str) -> None:
    log = jsonl(tmp_path / "l.jsonl", [row(0), row(1)])
    table = tmp_path / "accounts.csv"
    table.write_text(content)
    args = ["features", str(log), "--out", str(tmp_path / "f.parquet"), "--accounts", str(table)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(table) in lines[0]
    assert "no rows" in lines[0] and "--accounts" in lines[0]
    assert "concatenate" not in lines[0]
