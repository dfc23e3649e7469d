"""Property tests of the log readers: any bytes, any mix of valid and invalid rows.

10,000 examples in about a minute of CPU, in two layers (most of them on the cheap one):

- the readers (bytes → raw rows), checked line by line against an independent
  oracle: every JSON line is exactly one row, parsed or with its reason; every CSV
  record is one row; nothing but a one-line :class:`IngestError` escapes;
- the whole read (:func:`read_log`: readers, rules, time checks, dedupe, quarantine),
  checked for ``read = kept + duplicates + quarantined``, with every input row in
  exactly one of them and in the quarantine file when quarantined.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
from collections import Counter
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
from detector.errors import UserError
from detector.ingest import IngestError, LogFile, read_log
from detector.ingest.csvlog import read_csv
from detector.ingest.jsonl import key_marks, read_jsonl
from detector.ingest.readers import read_parquet

pytestmark = pytest.mark.filterwarnings("error")

READER_REASONS = {
    "",
    S.REASON_INVALID_JSON,
    S.REASON_NOT_OBJECT,
    S.REASON_INVALID_UTF8,
    S.REASON_FIELD_COUNT,
}
JSON_WHITESPACE = b" \t\r\n"
SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


def one_line_error(err: UserError) -> None:
    """The documented error: one line, naming the file."""
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text


# --- values and lines -----------------------------------------------------------------------

_odd_text = st.text(max_size=10)  # any code point but surrogates: controls, RTL, U+2028
_ODD_VALUES = [
    [],
    {},
    [1, [2, [3]]],
    {"a": {"b": [None]}},
    [[[[[[[[[[]]]]]]]]]],
    10**30,
    -(2**63),
    2**64,
    1e308,
    -0.0,
    1.5,
    "\ud800",  # a lone surrogate: valid JSON ("\\ud800"), not text
    "",
    " ",
    "=1+1",
    "NaN",
    "1e400",
    "2026-13-45",
]
# any JSON value, flat: st.recursive costs more to draw than the reader costs to test
_json_value = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | _odd_text
    | st.sampled_from(_ODD_VALUES)
)
_VALID: dict[str, st.SearchStrategy[object]] = {
    S.REQUEST_ID: st.sampled_from(["r1", "r2", "r3", "r4", "r5"]),
    S.ACCOUNT_ID: st.sampled_from(["a", "b", "ç", "123"]) | st.integers(0, 10**20),
    S.TIMESTAMP: st.sampled_from(
        ["2026-03-01T00:00:00Z", "2026-03-02 10:00:00+02:00", "2026-03-03T01:02:03.5", "1970-01-01"]
    ),
    S.MODEL: st.sampled_from(["m1", "m2"]),
    S.INPUT_TOKENS: st.integers(0, 10**6),
    S.OUTPUT_TOKENS: st.integers(0, 10**6) | st.sampled_from(["7", " 8 "]),
    S.STATUS: st.sampled_from([*S.STATUSES, " OK "]),
    S.MAX_TOKENS: st.integers(1, 10**5),
    S.TEMPERATURE: st.floats(0, 2),
    S.TURN_INDEX: st.integers(0, 50),
    S.LOGPROBS: st.sampled_from([True, False, "true", "0", None]),
    S.PROMPT: _odd_text,
}


_COLUMNS = [*S.ALL_COLUMNS, "extra"]
_BASE = [
    {
        S.REQUEST_ID: f"r{i}",  # five ids: duplicates are likely
        S.ACCOUNT_ID: "ç" if i == 3 else f"a{i % 2}",
        S.TIMESTAMP: ["2026-03-01T00:00:00Z", "2026-03-02 10:00:00+02:00"][i % 2],
        S.MODEL: "m1",
        S.INPUT_TOKENS: 10 * i,
        S.OUTPUT_TOKENS: 7,
        S.STATUS: S.STATUSES[i % 4],
        S.LOGPROBS: [True, "false", None][i % 3],
        S.PROMPT: "hello",
    }
    for i in range(5)
]


@st.composite
def request(draw: st.DrawFn) -> dict[str, object]:
    """A request object: a valid one with up to three keys dropped or set to a valid value
    of another row or to any JSON value."""
    out = dict(draw(st.sampled_from(_BASE)))
    for _ in range(draw(st.integers(0, 3))):
        col = draw(st.sampled_from(_COLUMNS))
        action = draw(st.integers(0, 2))
        if action == 0:
            out.pop(col, None)
        else:
            out[col] = draw(_json_value if action == 1 else _VALID.get(col, _odd_text))
    return out


@st.composite
def json_line(draw: st.DrawFn) -> bytes:
    """One line (no newline): a request, or one of the ways a line goes wrong."""
    kind = draw(st.integers(0, 12))
    if kind <= 4:
        # ensure_ascii=False writes a lone surrogate as its (invalid) UTF-8 bytes
        text = json.dumps(draw(request()), ensure_ascii=draw(st.booleans()))
        return text.encode("utf-8", "surrogatepass")
    if kind == 5:
        return draw(st.sampled_from([b"", b"  ", b"\t\r", "\u2003".encode(), b"\x0b"]))
    if kind == 6:
        depth = draw(st.integers(1, 3000))
        return b"[" * depth + b"]" * draw(st.integers(0, depth))
    if kind == 7:  # an object cut anywhere (the first half of a stitched pair)
        text = json.dumps(draw(request())).encode()
        return text[: draw(st.integers(0, len(text)))]
    if kind == 8:  # two objects on one line
        return json.dumps(draw(request())).encode() + b"," + json.dumps(draw(request())).encode()
    if kind == 9:  # a byte that is not UTF-8
        text = json.dumps(draw(request()), ensure_ascii=False).encode("utf-8", "surrogatepass")
        at = draw(st.integers(0, len(text)))
        return (
            text[:at]
            + draw(st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\xed\xa0\x80"]))
            + text[at:]
        )
    if kind == 10:
        return json.dumps(draw(_json_value)).encode()  # valid JSON, maybe not an object
    if kind == 11:
        return duplicate_key_line(draw)
    return draw(st.binary(max_size=30)).replace(b"\n", b" ")


def duplicate_key_line(draw: st.DrawFn) -> bytes:
    """A request whose object may name a key twice: a contract column or an extra key,
    spelled plainly or with a ``\\u`` escape, with any JSON whitespace around the colon,
    among values that hold quotes, backslashes and colons."""
    pairs = [(k, v) for k, v in draw(request()).items()]
    key = draw(st.sampled_from([*S.ALL_COLUMNS, "extra"]))
    pairs.insert(draw(st.integers(0, len(pairs))), (key, draw(_VALID.get(key, _odd_text))))
    if draw(st.booleans()):
        pairs.append(("nested", {key: 1, "x": 'a \\" : \\'}))
    ws = st.sampled_from(["", " ", "\t", "\r", " \t "])
    parts = []
    for k, v in pairs:
        name = json.dumps(k)
        if draw(st.integers(0, 4)) == 0 and len(k) > 1:  # "r\u0065quest_id" is request_id
            name = json.dumps(k[0])[:-1] + f"\\u{ord(k[1]):04x}" + json.dumps(k[2:])[1:]
        parts.append(f"{name}{draw(ws)}:{draw(ws)}{json.dumps(v)}")
    return ("{" + ",".join(parts) + "}").encode("utf-8", "surrogatepass")


def jsonl_oracle(data: bytes) -> tuple[list[str], set[str]]:
    """Each row's expected reader reason, and the keys of the parsed objects, computed
    the slow, obvious way: split on newline, skip blank lines, parse each line."""
    lines = data.split(b"\n")
    if lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    reasons, keys = [], set()
    for line in lines:
        if not line.strip(JSON_WHITESPACE):
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            reasons.append(S.REASON_INVALID_UTF8)
            continue
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            reasons.append(S.REASON_INVALID_JSON)
            continue
        if isinstance(value, dict):
            names = Counter(k for k, _ in json.loads(text, object_pairs_hook=list))
            twice = [c for c in S.ALL_COLUMNS if names[c] > 1]
            reasons.append(S.REASON_DUPLICATE_KEY.format(column=twice[0]) if twice else "")
            keys |= set(value)
        else:
            reasons.append(S.REASON_NOT_OBJECT)
    return reasons, keys


def check_jsonl_reader(path: Path, data: bytes, gz: bool, chunk_rows: int) -> None:
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    expected, keys = jsonl_oracle(data)
    try:
        chunks = list(read_jsonl(LogFile(path, "jsonl", gz, None), chunk_rows))
    except IngestError as err:
        one_line_error(err)
        assert keys and not set(S.REQUIRED) <= keys, err  # only: no line has them all
        return
    assert not keys or set(S.REQUIRED) <= keys
    got = [r for c in chunks for r in c.reason.tolist()]
    assert got == expected  # every non-blank line is one row, in order, with its reason
    for c in chunks:
        assert len(c.frame) == len(c.reason) <= chunk_rows
        assert set(c.frame.columns) <= set(S.ALL_COLUMNS)


@settings(max_examples=4100, **SETTINGS)
@given(data=st.binary(max_size=200), gz=st.booleans(), chunk_rows=st.integers(1, 5))
def test_jsonl_reader_on_any_bytes(tmp_path: Path, data: bytes, gz: bool, chunk_rows: int) -> None:
    check_jsonl_reader(tmp_path / "l.jsonl", data, gz, chunk_rows)


@settings(max_examples=1000, **SETTINGS)
@given(
    lines=st.lists(json_line(), max_size=8),
    bom=st.booleans(),
    final_newline=st.booleans(),
    chunk_rows=st.integers(1, 4) | st.just(1000),
)
def test_jsonl_reader_on_any_mix_of_lines(
    tmp_path: Path, lines: list[bytes], bom: bool, final_newline: bool, chunk_rows: int
) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (b"\n" if final_newline else b"")
    check_jsonl_reader(tmp_path / "l.jsonl", data, False, chunk_rows)


_tricky_text = st.text(alphabet='ab":\\ \t{}u', max_size=8)
_nested_json = st.recursive(
    st.none() | st.integers() | _tricky_text,
    lambda inner: (
        st.lists(inner, max_size=3) | st.lists(st.tuples(_tricky_text, inner), max_size=3)
    ),  # pairs: an object, keys may repeat
    max_leaves=12,
)


def write_json(value: object, ws: list[str]) -> str:
    """``value`` as JSON, a list of pairs as an object (repeats kept), ``ws`` around colons."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        parts = [f"{json.dumps(k)}{ws[0]}:{ws[1]}{write_json(v, ws)}" for k, v in value]
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list):
        return "[" + ",".join(write_json(v, ws) for v in value) + "]"
    return json.dumps(value)


def all_keys(value: object) -> int:
    """Keys at every depth, repeats included, of a value decoded with list-of-pairs objects."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return len(value) + sum(all_keys(v) for _, v in value)
    if isinstance(value, list):
        return sum(map(all_keys, value))
    return 0


@settings(max_examples=600, **SETTINGS)
@given(
    objects=st.lists(st.lists(st.tuples(_tricky_text, _nested_json), max_size=4), max_size=5),
    ws=st.lists(st.sampled_from(["", " ", "\t", "\r", "  "]), min_size=2, max_size=2),
)
def test_key_marks_never_count_fewer_keys_than_a_row_holds(
    objects: list[list[tuple[str, object]]], ws: list[str]
) -> None:
    """The byte-level bound that decides which rows are decoded again to look for a
    repeated key: were it ever below a row's real key count, a repeat could pass."""
    rows = [write_json(pairs, ws).encode() if pairs else b"{}" for pairs in objects]
    marks = key_marks(rows)
    for row, mark in zip(rows, marks, strict=True):
        decoded = json.loads(row, object_pairs_hook=lambda pairs: [tuple(p) for p in pairs])
        assert mark >= all_keys(decoded), row


# --- CSV --------------------------------------------------------------------------------------

_CSV_COLUMNS = [*S.REQUIRED, S.PROMPT, S.LOGPROBS, S.MAX_TOKENS]
_csv_field = st.sampled_from(
    ["", "r1", "a", "ok", "12", "2026-03-01T00:00:00Z", "-1", "true", "m1"]
) | st.text(max_size=8)


_CSV_BASE = [{c: str(v) for c, v in r.items() if v is not None} for r in _BASE]


@st.composite
def csv_file(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A CSV log (header + records) and the reader reason of each record, in file order."""
    header = draw(st.permutations(_CSV_COLUMNS))
    records = []
    for _ in range(draw(st.integers(0, 6))):
        base = draw(st.sampled_from(_CSV_BASE))
        fields = [base.get(c, "") for c in header]
        for _ in range(draw(st.integers(0, 2))):  # odd values: quotes, commas, newlines
            fields[draw(st.integers(0, len(header) - 1))] = draw(_csv_field)
        change = draw(st.integers(-len(header), 2)) if draw(st.integers(0, 3)) == 0 else 0
        spoil = draw(st.integers(0, len(header) - 1)) if draw(st.integers(0, 4)) == 0 else -1
        records.append((fields, change, spoil))
    out = io.BytesIO()
    expected: list[str] = []
    out.write((",".join(header) + "\r\n").encode())
    for fields, change, spoil in records:
        fields = fields + ["x"] * change if change > 0 else fields[: len(fields) + change]
        bad_byte = 0 <= spoil < len(fields)
        if bad_byte:  # a lone surrogate is written as the byte 0xFF: not UTF-8
            fields[spoil] += "\udcff"
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerow(fields)
        out.write(text.getvalue().encode("utf-8", "surrogateescape"))
        if not fields:
            continue  # an empty line is not a record
        if len(fields) != len(header):
            expected.append(S.REASON_FIELD_COUNT)
        elif bad_byte:
            expected.append(S.REASON_INVALID_UTF8)
        else:
            expected.append("")
    return out.getvalue(), expected


@settings(max_examples=800, **SETTINGS)
@given(case=csv_file(), gz=st.booleans(), chunk_rows=st.integers(1, 4) | st.just(1000))
def test_csv_reader_accounts_for_every_record(
    tmp_path: Path, case: tuple[bytes, list[str]], gz: bool, chunk_rows: int
) -> None:
    """Every record comes out once with its reason, in file order: a ragged record
    among parsed ones too (the quarantine file lists rows in file order)."""
    data, expected = case
    path = tmp_path / "l.csv"
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    chunks = list(read_csv(LogFile(path, "csv", gz, None), chunk_rows))
    assert [r for c in chunks for r in c.reason.tolist()] == expected
    for c in chunks:  # cut at chunk_rows records, not at the end of pyarrow's parse block
        assert 0 < len(c.frame) == len(c.reason) <= chunk_rows


@settings(max_examples=2000, **SETTINGS)
@given(data=st.binary(max_size=200), header=st.booleans(), gz=st.booleans())
def test_csv_reader_on_any_bytes(tmp_path: Path, data: bytes, header: bool, gz: bool) -> None:
    if header:
        data = (",".join(S.REQUIRED) + "\n").encode() + data
    path = tmp_path / "l.csv"
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    try:
        chunks = list(read_csv(LogFile(path, "csv", gz, None), 4))
    except IngestError as err:
        one_line_error(err)
        return
    physical = len(re.split(rb"\r\n|\r|\n", data))  # a record takes one line or more
    assert sum(len(c.frame) for c in chunks) <= physical
    for c in chunks:
        assert len(c.frame) == len(c.reason)
        assert set(c.reason.tolist()) <= READER_REASONS


@settings(max_examples=1800, **SETTINGS)
@given(data=st.binary(max_size=300), magic=st.booleans())
def test_parquet_reader_on_any_bytes(tmp_path: Path, data: bytes, magic: bool) -> None:
    path = tmp_path / "l.parquet"
    path.write_bytes(b"PAR1" + data + b"PAR1" if magic else data)
    try:
        chunks = list(read_parquet(LogFile(path, "parquet", False, None), 4))
    except IngestError as err:
        one_line_error(err)
        return
    for c in chunks:  # pragma: no cover - random bytes are essentially never Parquet
        assert len(c.frame) == len(c.reason)


# --- the whole read -------------------------------------------------------------------------

WINDOWS = [None, (dt.date(2026, 3, 1), dt.date(2026, 3, 2))]


def check_read(path: Path, rows: int, tmp_path: Path, chunk_rows: int, window: object) -> None:
    """``read_log`` on ``path`` holding ``rows`` rows: a one-line error or a full account."""
    qpath = tmp_path / "q.csv"
    qpath.unlink(missing_ok=True)  # hypothesis runs every example in one tmp_path
    start, end = window if window else (None, None)  # type: ignore[misc]
    try:
        out, report = read_log(
            path, start=start, end=end, config=Config(chunk_rows=chunk_rows), quarantine_path=qpath
        )
    except UserError as err:
        one_line_error(err)
        assert not qpath.exists() and not qpath.with_name("q.csv.part").exists()
        return
    assert report.read + report.outside_window == rows
    assert report.read == report.kept + report.duplicates + report.quarantined
    assert report.kept == len(out)
    assert sum(report.reasons.values()) == report.quarantined
    quarantined = pd.read_csv(qpath, dtype=str, keep_default_na=False)
    assert len(quarantined) == report.quarantined
    assert Counter(quarantined[S.QUARANTINE_REASON]) == report.reasons
    if len(out):
        assert out[S.REQUEST_ID].is_unique
        assert out[S.TIMESTAMP].dtype == "datetime64[ns, UTC]"
        assert out[S.INPUT_TOKENS].dtype == np.dtype("int64") and (out[S.INPUT_TOKENS] >= 0).all()
        assert out[S.STATUS].isin(list(S.STATUSES)).all()
        assert not out[S.ACCOUNT_ID].astype(object).str.strip().eq("").any()
        if start is not None:
            assert (out[S.TIMESTAMP] >= pd.Timestamp(start, tz="UTC")).all()
            assert (out[S.TIMESTAMP] < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)).all()


@settings(max_examples=100, **SETTINGS)
@given(
    lines=st.lists(json_line(), max_size=8),
    chunk_rows=st.integers(1, 5),
    window=st.sampled_from(WINDOWS),
)
def test_read_log_jsonl_reconciles(
    tmp_path: Path, lines: list[bytes], chunk_rows: int, window: object
) -> None:
    path = tmp_path / "l.jsonl"
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(data)
    check_read(path, len(jsonl_oracle(data)[0]), tmp_path, chunk_rows, window)


@settings(max_examples=100, **SETTINGS)
@given(case=csv_file(), chunk_rows=st.integers(1, 5), window=st.sampled_from(WINDOWS))
def test_read_log_csv_reconciles(
    tmp_path: Path, case: tuple[bytes, list[str]], chunk_rows: int, window: object
) -> None:
    data, expected = case
    path = tmp_path / "l.csv"
    path.write_bytes(data)
    check_read(path, len(expected), tmp_path, chunk_rows, window)


_ARROW_COLUMN = st.sampled_from(
    [
        (pa.string(), st.none() | _odd_text),
        (pa.int64(), st.none() | st.integers(-(2**63), 2**63 - 1)),
        (pa.int32(), st.none() | st.integers(-(2**31), 2**31 - 1)),
        (pa.uint64(), st.none() | st.integers(0, 2**64 - 1)),
        (pa.float64(), st.none() | st.floats()),
        (pa.bool_(), st.none() | st.booleans()),
        (pa.timestamp("us", tz="UTC"), st.none() | st.integers(-(2**62), 2**62)),
        (pa.timestamp("s"), st.none() | st.integers(-(2**40), 2**40)),
        (pa.binary(), st.none() | st.binary(max_size=5)),
        (pa.list_(pa.int64()), st.none() | st.lists(st.integers(-5, 5), max_size=2)),
        (pa.null(), st.none()),
    ]
)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


@st.composite
def parquet_table(draw: st.DrawFn) -> pa.Table:
    """A table with the contract's columns (some missing), each of any Arrow type."""
    n = draw(st.integers(0, 5))
    arrays, names = [], []
    for col in S.ALL_COLUMNS:
        if col not in S.REQUIRED and draw(st.integers(0, 3)):
            continue
        if draw(st.integers(0, 2)):  # usually a fitting type and value
            arrow_type, values = {
                "string": (pa.string(), _VALID.get(col, _odd_text).filter(_is_str)),
                "timestamp": (
                    pa.timestamp("us", tz="UTC"),
                    st.integers(1_770_000 * 10**9, 1_780_000 * 10**9),
                ),
                "int": (pa.int64(), st.integers(-1, 10**6)),
                "float": (pa.float64(), st.floats(-1, 3)),
                "bool": (pa.bool_(), st.booleans()),
            }[S.COLUMNS_BY_NAME[col].kind]
            values = st.none() | values
        else:
            arrow_type, values = draw(_ARROW_COLUMN)
        arrays.append(pa.array(draw(st.lists(values, min_size=n, max_size=n)), type=arrow_type))
        names.append(col)
    return pa.Table.from_arrays(arrays, names=names)


@settings(max_examples=100, **SETTINGS)
@given(table=parquet_table(), chunk_rows=st.integers(1, 5), window=st.sampled_from(WINDOWS))
def test_read_log_parquet_reconciles(
    tmp_path: Path, table: pa.Table, chunk_rows: int, window: object
) -> None:
    path = tmp_path / "l.parquet"
    pq.write_table(table, path)
    check_read(path, table.num_rows, tmp_path, chunk_rows, window)
