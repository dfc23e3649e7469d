"""CSV logs: a header row, then one row per record (RFC 4180 quoting, optionally gzipped).

Every record is a row: parsed, or quarantined with its reason -- ``wrong number of CSV
fields`` (more or fewer fields than the header) or ``invalid UTF-8`` (a cell that is
not UTF-8 text, which would otherwise be altered). An empty line is not a record.

Two parsers, chosen per file before any row is read:

- a file that is UTF-8 throughout (checked in one streaming pass of the C decoder,
  a few ms per 50 MB) is parsed by pyarrow's CSV reader, which sets a ragged record
  aside for us with its record number; the record goes back to its place among its
  chunk's rows, so chunks (and the quarantine file) hold records in file order;
- a file holding any invalid UTF-8 is parsed by Python's ``csv`` module over the bytes
  decoded with ``surrogateescape``, so a bad byte stays visible in its cell and only
  its record is quarantined. (pyarrow cannot do this: it decodes a ragged record's
  text before handing it over, and fails the file when that is not UTF-8.)
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import csv
import gzip
import re
import threading
from collections.abc import Iterable, Iterator
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from detector import schema as S
from detector.ingest.discover import LogFile
from detector.ingest.raw import RawChunk, arrow_types, check_header, one_line
from detector.ingest.report import IngestError

CSV_BLOCK_BYTES = 1 << 22
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a bad byte
_TEXT = pd.ArrowDtype(pa.string())


def _reader(lines: Iterable[str]) -> Iterator[list[str]]:
    """Python's CSV parser (RFC 4180, as pyarrow's) without its 128 KB field limit."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # a prompt can be long
    return csv.reader(lines)


def _stream(f: LogFile) -> pa.NativeFile:
    return pa.input_stream(str(f.path), compression="gzip" if f.gzipped else None)


def is_utf8(f: LogFile) -> bool:
    """Whether the whole (decompressed) file is valid UTF-8: one streaming pass."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _stream(f) as stream:
            while block := stream.read(CSV_BLOCK_BYTES):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    except Exception as exc:  # unreadable, not gzip, truncated
        raise IngestError(f"{f.path}: cannot read CSV ({one_line(exc)})") from None
    return True


def csv_header(f: LogFile) -> list[str]:
    """The header names of a CSV file (its first record); :class:`IngestError` when it has
    none or lacks a required column. Reads only the first record."""
    try:
        with _text(f) as text:
            names = next(_reader(text), [])
    except Exception as exc:
        raise IngestError(f"{f.path}: cannot read CSV ({one_line(exc)})") from None
    if not names:
        raise IngestError(f"{f.path}: empty CSV file; a CSV log starts with a header row")
    check_header(f, names)
    return names


def read_csv(f: LogFile, chunk_rows: int) -> Iterator[RawChunk]:
    """Stream a CSV file as chunks of text columns (see the module docstring)."""
    header = csv_header(f)
    cols = [c for c in S.ALL_COLUMNS if c in header]
    try:
        if is_utf8(f):
            yield from _read_utf8(f, chunk_rows, header, cols)
        else:
            yield from _read_bytes(f, chunk_rows, header, cols)
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(f"{f.path}: cannot read CSV ({one_line(exc)})") from None


# --- a UTF-8 file: pyarrow ----------------------------------------------------------------


def _read_utf8(
    f: LogFile, chunk_rows: int, header: list[str], cols: list[str]
) -> Iterator[RawChunk]:
    ragged = _SetAside()
    reader = pacsv.open_csv(
        _stream(f),
        # one thread: pyarrow numbers a set-aside record only when it reads serially,
        # and the number is what puts the record back in its place
        read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, use_threads=False),
        convert_options=pacsv.ConvertOptions(
            include_columns=cols,
            column_types={c: pa.string() for c in cols},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=ragged.set_aside
        ),
    )
    pending = pa.Table.from_batches([], schema=reader.schema)
    start = 0  # the index of the pending chunk's first record
    for batch in reader:
        pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
        # a chunk is cut at chunk_rows records, not at a parse block's end: a 4 MiB block
        # of short rows holds thousands of them
        while (parsed := ragged.parsed_among(start, chunk_rows)) <= pending.num_rows:
            at, texts = ragged.take(start, chunk_rows)
            yield _chunk(pending.slice(0, parsed), at, texts, header, cols)
            pending, start = pending.slice(parsed), start + chunk_rows
    while pending.num_rows or len(ragged):  # every record is known now
        parsed = min(ragged.parsed_among(start, chunk_rows), pending.num_rows)
        at, texts = ragged.take(start, chunk_rows)
        if not parsed and not texts:  # a record numbered past the file's end: never spin
            raise RuntimeError("pyarrow numbered a CSV record past the end of its file")
        yield _chunk(pending.slice(0, parsed), at, texts, header, cols)
        pending, start = pending.slice(parsed), start + chunk_rows


class _SetAside:
    """The records pyarrow set aside for their number of fields, in file order, each with
    its index among the file's records (0: the first after the header).

    pyarrow parses ahead of the batches it hands over, on a thread of its own at times:
    the list can already hold records of a later batch (:meth:`take` hands out only
    those of the chunk asked for) and grow while a chunk is taken (hence the lock).
    """

    def __init__(self) -> None:
        self._records: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def set_aside(self, row: pacsv.InvalidRow) -> str:
        """pyarrow's ``invalid_row_handler``: keep the record, skip it in the batch."""
        if row.number is None:  # only a threaded read leaves records unnumbered
            raise RuntimeError("pyarrow did not number a CSV record with the wrong field count")
        with self._lock:  # pyarrow counts from 1, the header included
            self._records.append((row.number - 2, row.text))
        return "skip"

    def parsed_among(self, start: int, n: int) -> int:
        """How many of the ``n`` records from record ``start`` on were parsed: ``n`` less
        those set aside among them. Exact once pyarrow has parsed past them; until then it
        exceeds the parsed rows handed over so far, so the caller waits for more."""
        with self._lock:
            return n - bisect.bisect_left(self._records, start + n, key=_index)

    def take(self, start: int, n: int) -> tuple[np.ndarray, list[list[str]]]:
        """Remove and return the records set aside among the ``n`` records from record
        ``start`` on (all those before ``start`` were taken already): their places among
        those ``n`` and their fields."""
        with self._lock:
            k = bisect.bisect_left(self._records, start + n, key=_index)
            records = self._records[:k]
            del self._records[:k]
        at = np.fromiter((i - start for i, _ in records), dtype=np.int64, count=len(records))
        return at, [_fields(text) for _, text in records]


def _index(record: tuple[int, str]) -> int:
    return record[0]


def _fields(text: str) -> list[str]:
    """The fields of one CSV record's text."""
    return next(_reader([text]), [])


def _chunk(
    parsed: pa.Table,
    at: np.ndarray,
    ragged: list[list[str]],
    header: list[str],
    cols: list[str],
) -> RawChunk:
    """Parsed rows with the ragged records put back at their places ``at`` in the
    chunk (their fields under the header names they line up with, for the quarantine
    file), so the chunk holds its records in file order."""
    frame = (
        parsed.to_pandas(types_mapper=arrow_types)
        if parsed.num_rows
        else pd.DataFrame({c: pd.Series(dtype=_TEXT) for c in cols})
    )
    reason = np.full(len(frame), "", dtype=object)
    if ragged:
        order = _file_order(len(frame), at)
        extra = _records(ragged, header, cols)
        frame = pd.concat([frame, extra], ignore_index=True).take(order)
        reason = np.concatenate([reason, np.full(len(extra), S.REASON_FIELD_COUNT, dtype=object)])
        reason = reason[order]
    return RawChunk(frame.reset_index(drop=True), reason, frozenset(header))


def _file_order(parsed: int, at: np.ndarray) -> np.ndarray:
    """The row order that takes ``parsed`` parsed rows followed by the ragged records to
    file order, each ragged record at its place ``at`` (increasing) in the chunk."""
    total = parsed + len(at)
    is_ragged = np.zeros(total, dtype=bool)
    is_ragged[at] = True
    order = np.empty(total, dtype=np.int64)
    order[~is_ragged] = np.arange(parsed)
    order[is_ragged] = np.arange(parsed, total)
    return order


def _records(rows: list[list[str]], header: list[str], cols: list[str]) -> pd.DataFrame:
    position = {name: i for i, name in enumerate(header)}
    return _text_frame(
        {c: [r[position[c]] if position[c] < len(r) else None for r in rows] for c in cols}
    )


def _text_frame(columns: dict[str, list[str | None]]) -> pd.DataFrame:
    """Columns of text (or None) as a frame of Arrow strings."""
    table = pa.table({c: pa.array(v, type=pa.string()) for c, v in columns.items()})
    return table.to_pandas(types_mapper=arrow_types)


# --- a file with invalid UTF-8: Python's csv over surrogate-escaped text -------------------


@contextlib.contextmanager
def _text(f: LogFile) -> Iterator[IO[str]]:
    opener = gzip.open if f.gzipped else open
    # utf-8-sig: a leading byte-order mark is not part of the first column's name
    with opener(f.path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        yield fh


def _shown(cell: str | None) -> str | None:
    """A cell as text, a bad byte as U+FFFD (only in rows that are quarantined)."""
    if cell is None or not _NOT_UTF8.search(cell):
        return cell
    return cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_bytes(
    f: LogFile, chunk_rows: int, header: list[str], cols: list[str]
) -> Iterator[RawChunk]:
    position = [header.index(c) for c in cols]
    with _text(f) as text:
        records = _reader(text)
        next(records, None)  # the header
        while batch := _take(records, chunk_rows):
            rows = [r for r in batch if r]  # an empty line is not a record
            if not rows:
                continue
            ragged = np.fromiter((len(r) != len(header) for r in rows), dtype=bool, count=len(rows))
            cells = [[r[i] if i < len(r) else None for i in position] for r in rows]
            bad = np.fromiter(
                (any(c is not None and _NOT_UTF8.search(c) for c in row) for row in cells),
                dtype=bool,
                count=len(rows),
            )
            frame = _text_frame({c: [_shown(row[j]) for row in cells] for j, c in enumerate(cols)})
            reason = np.where(
                ragged, S.REASON_FIELD_COUNT, np.where(bad, S.REASON_INVALID_UTF8, "")
            ).astype(object)
            yield RawChunk(frame, reason, frozenset(header))


def _take(records: Iterator[list[str]], n: int) -> list[list[str]]:
    out: list[list[str]] = []
    for record in records:
        out.append(record)
        if len(out) >= n:
            break
    return out
