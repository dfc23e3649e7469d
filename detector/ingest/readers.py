"""The Parquet reader, and the dispatch to each format's reader.

Every reader yields :class:`~detector.ingest.raw.RawChunk` s of at most ``chunk_rows``
rows and accounts for every input row: it is in a chunk, parsed or with the reason it
could not be (see :mod:`~detector.ingest.jsonl` and :mod:`~detector.ingest.csvlog`).
A file that cannot be read at all (not Parquet, a damaged footer, a truncated gzip,
no header, a required column missing) raises :class:`IngestError` naming the file.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

from detector import schema as S
from detector.ingest.csvlog import read_csv
from detector.ingest.discover import LogFile
from detector.ingest.jsonl import JSON_WHITESPACE, UTF8_BOM, read_jsonl
from detector.ingest.raw import RawChunk, arrow_types, check_header, one_line
from detector.ingest.report import IngestError


def open_parquet(f: LogFile) -> tuple[pq.ParquetFile, list[str]]:
    """Open a Parquet log file (footer only) and list its contract columns.

    Raises :class:`IngestError` naming the file when it is not Parquet or lacks a
    required column.
    """
    try:
        pf = pq.ParquetFile(f.path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise IngestError(f"{f.path}: not a readable Parquet file ({one_line(exc)})") from None
    names = pf.schema_arrow.names  # a list: a column named twice must reach check_header
    check_header(f, names)
    return pf, [c for c in S.ALL_COLUMNS if c in names]


def read_parquet(f: LogFile, chunk_rows: int) -> Iterator[RawChunk]:
    """Stream a Parquet file's contract columns, in the file's own types."""
    pf, cols = open_parquet(f)
    yield from _batches(f, pf, cols, chunk_rows)


def _batches(
    f: LogFile, pf: pq.ParquetFile, cols: list[str], chunk_rows: int
) -> Iterator[RawChunk]:
    """The chunks of the open Parquet file ``pf`` (``f``), its columns ``cols``."""
    try:
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=cols):
            yield RawChunk.parsed(batch.to_pandas(types_mapper=arrow_types))
    except Exception as exc:
        raise IngestError(f"{f.path}: Parquet file is damaged ({one_line(exc)})") from None


READERS: dict[str, Callable[[LogFile, int], Iterator[RawChunk]]] = {
    "parquet": read_parquet,
    "csv": read_csv,
    "jsonl": read_jsonl,
}


def read_file(f: LogFile, chunk_rows: int) -> Iterator[RawChunk]:
    """The raw chunks of one log file, by its format."""
    return READERS[f.fmt](f, chunk_rows)


def read_without_text(
    f: LogFile, chunk_rows: int, column: str
) -> tuple[tuple[str, ...], Iterator[RawChunk]]:
    """The raw chunks of ``f``, with ``column`` left unread when that gives every other
    row the same verdicts, and the columns left unread (``(column,)`` or ``()``).

    Only a Parquet file whose ``column`` is typed as text qualifies: no value of it can
    break a rule. A CSV or JSON line is parsed whole anyway, and a Parquet column of
    another type can hold values that are not text. The file is opened once.
    """
    if f.fmt != "parquet":
        return (), read_file(f, chunk_rows)
    pf, cols = open_parquet(f)
    kind = pf.schema_arrow.field(column).type if column in cols else None
    text = kind is not None and (pa.types.is_string(kind) or pa.types.is_large_string(kind))
    without = (column,) if text else ()
    return without, _batches(f, pf, [c for c in cols if c not in without], chunk_rows)


def holds_rows(f: LogFile) -> bool:
    """Whether ``f`` holds at least one row, decided without reading its data.

    Parquet: the footer's row count. JSON Lines: a line that is not blank. CSV: a
    non-empty line after the header. The text formats stop at the first such line, so
    a day partition's check costs a few kilobytes, never the day. A file that cannot be
    opened or decompressed counts as holding rows: the read itself then reports it,
    naming the file, instead of the day being called missing.
    """
    try:
        if f.fmt == "parquet":
            return pq.ParquetFile(f.path).metadata.num_rows > 0
        with _open_bytes(f) as fh:
            skip = 1 if f.fmt == "csv" else 0  # the header is not a row
            for i, line in enumerate(fh):
                text = line.removeprefix(UTF8_BOM) if i == 0 else line
                if f.fmt == "csv" and not text.rstrip(b"\r\n"):
                    continue  # an empty line is not a record
                if f.fmt == "jsonl" and not text.strip(JSON_WHITESPACE):
                    continue  # a blank line is not a row
                if skip:
                    skip -= 1
                    continue
                return True
            return False
    except Exception:  # damaged: reported by the read, with the file named
        return True


def _open_bytes(f: LogFile) -> IO[bytes]:
    """``f`` opened for reading its (decompressed) bytes line by line."""
    return gzip.open(f.path, "rb") if f.gzipped else open(f.path, "rb")
