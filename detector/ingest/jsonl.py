"""JSON Lines: every non-blank line is exactly one JSON object, or it is quarantined.

A line is split on ``\\n`` only. A *blank* line (nothing but JSON whitespace: space,
tab, CR) is not a row and is not counted, like the newline at the end of the file;
any other line is a row: parsed as strict UTF-8 and then as one JSON value, which
must be an object. A line that fails is quarantined with its reason (``invalid
UTF-8``, ``invalid JSON line`` -- including nesting too deep to parse --, ``JSON line
is not an object``); it is never repaired (a replaced byte would alter an account
id) and never joined with its neighbour. An object that names a contract column twice
is quarantined too (``duplicate key in JSON object: account_id``): a decoder would keep
one of the two values silently (:func:`twice_named`).

Each line is parsed on its own (the C ``json`` decoder, line by line, checked to
consume the whole line): no parse can see two lines, so no row is stitched from two
lines and no line yields two rows. Values
are kept as Python objects (``dtype=object``) so an integer stays an exact integer
whatever else its chunk holds.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from operator import itemgetter, methodcaller

import numpy as np
import pandas as pd

from detector import schema as S
from detector.ingest.discover import LogFile
from detector.ingest.raw import RawChunk, check_header, one_line
from detector.ingest.report import IngestError

JSON_WHITESPACE = b" \t\r\n"
UTF8_BOM = b"\xef\xbb\xbf"
_DECODER = json.JSONDecoder()
_PAIRS = json.JSONDecoder(object_pairs_hook=list)
"""Decodes an object as its list of ``(key, value)`` pairs: every key, repeats kept."""
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_ENDS_KEY = np.zeros(256, dtype=bool)
_ENDS_KEY[list(b":" + JSON_WHITESPACE)] = True
"""The bytes that may follow a key's closing quote: ``:`` or JSON whitespace."""
_BLOCK_ROWS = 1024
_strip = methodcaller("strip", JSON_WHITESPACE)
_decode = methodcaller("decode", "utf-8")


def drop_bom(lines: list[bytes]) -> None:
    """Remove a UTF-8 byte order mark from the first line of a file, in place.

    Windows tools write one; it is not part of the first row's JSON. ``lines`` must
    start at the file's first line (a BOM anywhere else is data, and quarantined).
    Both engines' JSON Lines readers call this on a file's first batch of lines.
    """
    if lines and lines[0].startswith(UTF8_BOM):
        lines[0] = lines[0][len(UTF8_BOM) :]


def strip_lines(lines: Iterable[bytes]) -> list[bytes]:
    """Lines without surrounding JSON whitespace: an empty result is a blank line."""
    return list(map(_strip, lines))


def rows_of(lines: Iterable[bytes]) -> list[bytes]:
    """The lines that are rows, stripped of JSON whitespace (a blank line is not a row)."""
    return list(filter(None, map(_strip, lines)))


def parse_line(line: bytes) -> tuple[dict[str, object], str]:
    """One line as ``(object, "")``, or ``({}, reason)`` when it is not one JSON object."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return {}, S.REASON_INVALID_UTF8
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser
        return {}, S.REASON_INVALID_JSON
    if type(value) is not dict:
        return {}, S.REASON_NOT_OBJECT
    return value, ""


def key_marks(rows: Sequence[bytes]) -> np.ndarray:
    """Per row, an upper bound on how many object keys it holds, from its bytes alone.

    Every key of valid JSON is a string whose closing quote is followed by ``:`` or by
    JSON whitespace, so counting such quotes never undercounts a row's keys (at any
    depth). A quote after a single backslash (``\\"``, inside a string) is not counted,
    as it cannot close a key; a quote after two (``\\\\"``) closes a string and is,
    so the bound holds. Inside strings the count can only run over: a nested object,
    or text like ``\\" :``. Vectorised (numpy), a block of rows at a time so each
    block's bytes stay in cache: about 1.3 ms a megabyte, a tenth of what parsing the
    rows takes (``docs/performance.md``).
    """
    return np.concatenate(
        [_block_key_marks(rows[i : i + _BLOCK_ROWS]) for i in range(0, len(rows), _BLOCK_ROWS)]
        or [np.zeros(0, dtype=np.int64)]
    )


def _block_key_marks(rows: Sequence[bytes]) -> np.ndarray:
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    pad = b"\0\0"  # every quote has two bytes before it to look at, and one after
    data = np.frombuffer(b"".join([pad, *rows, pad]), dtype=np.uint8)
    quotes = np.flatnonzero(data == _QUOTE)
    quotes = quotes[_ENDS_KEY[data[quotes + 1]]]
    escaped = (data[quotes - 1] == _BACKSLASH) & (data[quotes - 2] != _BACKSLASH)
    row_of = np.searchsorted(np.cumsum(lengths), quotes[~escaped] - len(pad), "right")
    return np.bincount(row_of, minlength=len(rows))


def twice_named(
    rows: Sequence[bytes], records: Sequence[dict[str, object]], reason: np.ndarray
) -> Iterator[tuple[int, str]]:
    """``(row, column)`` for each parsed row whose object names a contract column twice.

    JSON allows an object to repeat a key, and every decoder keeps one of the values
    (Python's, the last) without a word: ``{"account_id": "a", "account_id": "b"}``
    would be scored as account ``b``. A row that names a contract column twice is not
    what its writer meant, so it is quarantined like a CSV header naming one twice is
    refused (an extra key repeated is ignored, like the extra key itself). Only the
    rows whose :func:`key_marks` exceed their parsed key count -- none, in a log
    without nested objects or escaped quotes before a colon -- are decoded again,
    keeping every key, to look.
    """
    counts = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    suspect = np.flatnonzero((key_marks(rows) > counts) & (reason == ""))
    for i in suspect.tolist():
        pairs = _PAIRS.raw_decode(rows[i].decode("utf-8"))[0]
        seen = Counter(key for key, _ in pairs)
        repeated = [c for c in S.ALL_COLUMNS if seen[c] > 1]
        if repeated:
            yield i, repeated[0]


def parse_json_lines(rows: Sequence[bytes]) -> RawChunk:
    """Parse rows (from :func:`rows_of`), one JSON object per row (see the module docstring).

    The common case (every row valid) is a ``map`` of the C decoder and parser over the
    rows, checking that each parse consumed its whole row; a chunk holding a bad row is
    parsed again row by row, so only the bad rows are quarantined.
    """
    n = len(rows)
    reason = np.full(n, "", dtype=object)
    try:
        texts = list(map(_decode, rows))
        parsed = list(map(_DECODER.raw_decode, texts))
        records = list(map(itemgetter(0), parsed))
        if set(map(type, records)) - {dict} or list(map(itemgetter(1), parsed)) != list(
            map(len, texts)
        ):
            raise ValueError("a row is not exactly one object")
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        pairs = [parse_line(row) for row in rows]
        records = [p[0] for p in pairs]
        reason[:] = [p[1] for p in pairs]
    for i, column in twice_named(rows, records, reason):
        reason[i] = S.REASON_DUPLICATE_KEY.format(column=column)
    keys: set[str] = set().union(*records) if records else set()
    columns = [c for c in S.ALL_COLUMNS if c in keys]
    frame = pd.DataFrame(records, columns=columns, dtype=object, index=pd.RangeIndex(n))
    return RawChunk(frame, reason, frozenset(keys))


def read_jsonl(f: LogFile, chunk_rows: int) -> Iterator[RawChunk]:
    """Stream a JSON Lines file (optionally gzipped) as chunks of at most ``chunk_rows`` rows.

    Raises :class:`IngestError` naming the file when it cannot be read (or decompressed),
    or when no line of it holds a required column (a file of some other data).
    """
    opener = gzip.open if f.gzipped else open
    seen: set[str] = set()
    first = True
    try:
        with opener(f.path, "rb") as fh:
            while lines := list(islice(fh, chunk_rows)):
                if first:
                    drop_bom(lines)
                first = False
                rows = rows_of(lines)
                if rows:
                    chunk = parse_json_lines(rows)
                    seen.update(chunk.names)
                    yield chunk
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"{f.path}: cannot read ({one_line(exc)})") from None
    if seen:
        check_header(f, seen)
