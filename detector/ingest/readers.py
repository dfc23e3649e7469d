"""Parquet and CSV readers, and the dispatch to each format's reader.

Every reader yields :class:`~detector.ingest.raw.RawChunk` s of at most ``chunk_rows``
rows and accounts for every input row: it is in a chunk, parsed or with the reason it
could not be (a CSV record with the wrong number of fields, a cell of invalid UTF-8).
A file that cannot be read at all (not Parquet, a damaged footer, a truncated gzip,
no header, a required column missing) raises :class:`IngestError` naming the file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from detector import schema as S
from detector.ingest.discover import LogFile
from detector.ingest.jsonl import read_jsonl
from detector.ingest.raw import RawChunk, arrow_types, check_header, one_line
from detector.ingest.report import IngestError

CSV_BLOCK_BYTES = 1 << 22


def open_parquet(f: LogFile) -> tuple[pq.ParquetFile, list[str]]:
    """Open a Parquet log file (footer only) and list its contract columns.

    Raises :class:`IngestError` naming the file when it is not Parquet or lacks a
    required column.
    """
    try:
        pf = pq.ParquetFile(f.path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise IngestError(f"{f.path}: not a readable Parquet file ({one_line(exc)})") from None
    names = set(pf.schema_arrow.names)
    check_header(f, names)
    return pf, [c for c in S.ALL_COLUMNS if c in names]


def read_parquet(f: LogFile, chunk_rows: int) -> Iterator[RawChunk]:
    """Stream a Parquet file's contract columns, in the file's own types."""
    pf, cols = open_parquet(f)
    try:
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=cols):
            yield RawChunk.parsed(batch.to_pandas(types_mapper=arrow_types))
    except Exception as exc:
        raise IngestError(f"{f.path}: Parquet file is damaged ({one_line(exc)})") from None


def _csv_stream(f: LogFile) -> pa.NativeFile:
    return pa.input_stream(str(f.path), compression="gzip" if f.gzipped else None)


def csv_header(f: LogFile) -> list[str]:
    """The header names of a CSV file; :class:`IngestError` when it has none or lacks a
    required column."""
    try:
        stream = _csv_stream(f)
        try:
            names = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                # the rows are read (and a ragged one set aside) by read_csv
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=lambda _row: "skip"
                ),
            ).schema.names
        finally:
            stream.close()
    except Exception as exc:
        raise IngestError(f"{f.path}: cannot read CSV ({one_line(exc)})") from None
    check_header(f, names)
    return names


def utf8_column(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Binary cells as UTF-8 text, and the mask of cells that are not valid UTF-8.

    One validated cast when the column is valid (the common case); otherwise each cell
    is decoded on its own and a bad one shown with replacement characters (its row is
    quarantined, so the replacement never reaches scoring).
    """
    try:
        return values.cast(pa.string()), np.zeros(len(values), dtype=bool)
    except pa.ArrowInvalid:
        pass
    cells = values.to_pylist()
    bad = np.zeros(len(cells), dtype=bool)
    text: list[str | None] = []
    for i, cell in enumerate(cells):
        try:
            text.append(None if cell is None else cell.decode("utf-8"))
        except UnicodeDecodeError:
            bad[i] = True
            text.append(cell.decode("utf-8", errors="replace"))
    return pa.array(text, type=pa.string()), bad


def _ragged_rows(texts: list[str], header: list[str], cols: list[str]) -> pd.DataFrame:
    """CSV records with the wrong number of fields, their fields put under the header
    names they line up with (for the quarantine file)."""
    position = {name: i for i, name in enumerate(header)}
    rows = []
    for text in texts:
        fields = next(csv.reader([text]), [])
        rows.append(
            {c: fields[position[c]] for c in cols if position[c] < len(fields)},
        )
    return pd.DataFrame(rows, columns=cols, dtype=object, index=pd.RangeIndex(len(rows)))


def _csv_chunk(
    batches: list[pa.RecordBatch], ragged: list[str], header: list[str], cols: list[str]
) -> RawChunk:
    table = pa.Table.from_batches(batches) if batches else None
    arrays, bad = {}, np.zeros(table.num_rows if table is not None else 0, dtype=bool)
    if table is not None:
        for c in cols:
            arrays[c], invalid = utf8_column(table.column(c).combine_chunks())
            bad |= invalid
    frame = pa.table(arrays).to_pandas(types_mapper=arrow_types) if arrays else pd.DataFrame()
    reason = np.where(bad, S.REASON_INVALID_UTF8, "").astype(object)
    if ragged:
        extra = _ragged_rows(ragged, header, cols)
        frame = pd.concat([frame.astype(object), extra], ignore_index=True)
        frame = frame.astype({c: pd.ArrowDtype(pa.string()) for c in cols})
        reason = np.concatenate([reason, np.full(len(extra), S.REASON_FIELD_COUNT, dtype=object)])
    return RawChunk(frame.reset_index(drop=True), reason, frozenset(header))


def read_csv(f: LogFile, chunk_rows: int) -> Iterator[RawChunk]:
    """Stream a CSV file (header row, RFC 4180 quoting, optionally gzipped) as text columns.

    Cells are read as bytes and checked for UTF-8 per column; a record with more or
    fewer fields than the header is set aside by the parser and comes back in its chunk
    with the reason ``wrong number of CSV fields``.
    """
    header = csv_header(f)
    cols = [c for c in S.ALL_COLUMNS if c in header]
    ragged: list[str] = []

    def set_aside(row: pacsv.InvalidRow) -> str:
        ragged.append(row.text)
        return "skip"

    try:
        reader = pacsv.open_csv(
            _csv_stream(f),
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(
                include_columns=cols,
                column_types={c: pa.binary() for c in cols},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=set_aside
            ),
        )
        pending: list[pa.RecordBatch] = []
        size = 0
        for batch in reader:
            pending.append(batch)
            size += batch.num_rows
            if size + len(ragged) >= chunk_rows:
                yield _csv_chunk(pending, ragged, header, cols)
                pending, size = [], 0
                ragged.clear()
        if pending or ragged:
            yield _csv_chunk(pending, ragged, header, cols)
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(f"{f.path}: cannot read CSV ({one_line(exc)})") from None


READERS: dict[str, Callable[[LogFile, int], Iterator[RawChunk]]] = {
    "parquet": read_parquet,
    "csv": read_csv,
    "jsonl": read_jsonl,
}


def read_file(f: LogFile, chunk_rows: int) -> Iterator[RawChunk]:
    """The raw chunks of one log file, by its format."""
    return READERS[f.fmt](f, chunk_rows)
