"""Write day partitions, the account table and labels with byte-stable options.

Determinism matters (same seed, same bytes), so every writer uses fixed options,
no wall-clock metadata and a stable row order; tables are written in bounded
slices so a day of millions of long prompts never needs one giant string buffer.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from detector import schema as sc

Format = Literal["parquet", "jsonl", "csv"]
FORMATS: tuple[str, ...] = ("parquet", "jsonl", "csv")
SLICE_ROWS = 100_000
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}


def partition_path(out_dir: Path, day: dt.date, fmt: Format) -> Path:
    """``OUT_DIR/requests/date=YYYY-MM-DD/part-00000.<fmt>``."""
    return out_dir / "requests" / f"date={day.isoformat()}" / f"part-00000.{fmt}"


def clear_requests(out_dir: Path) -> None:
    """Remove part files a previous simulation left under ``OUT_DIR/requests``."""
    root = out_dir / "requests"
    if not root.is_dir():
        return
    for part in root.glob("date=*/part-*"):
        if part.suffix.lstrip(".") in FORMATS and part.is_file():
            part.unlink()
    for folder in root.glob("date=*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _plain_strings(table: pa.Table) -> pa.Table:
    """Cast ``large_string`` columns to ``string`` (one slice stays far below 2 GiB)."""
    fields = [
        pa.field(f.name, pa.string()) if f.type == pa.large_string() else f for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def _iso(table: pa.Table) -> pa.Table:
    """Timestamps as ISO-8601 strings with microseconds and ``Z``."""
    i = table.schema.get_field_index(sc.TIMESTAMP)
    text = pc.strftime(table.column(sc.TIMESTAMP), format="%Y-%m-%dT%H:%M:%SZ")
    return table.set_column(i, sc.TIMESTAMP, text)


class DayRows(Protocol):
    """A day of rows that can be read in order, slice by slice."""

    @property
    def num_rows(self) -> int: ...

    def rows(self, start: int, length: int) -> pa.Table: ...


def write_day(day: DayRows, path: Path, fmt: Format) -> None:
    """Write one day's rows to ``path`` in ``fmt``, ``SLICE_ROWS`` at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    starts = range(0, max(day.num_rows, 1), SLICE_ROWS)
    first = _plain_strings(day.rows(0, 0))
    if fmt == "parquet":
        with pq.ParquetWriter(path, first.schema, **PARQUET_OPTIONS) as writer:
            for o in starts:
                writer.write_table(
                    _plain_strings(day.rows(o, SLICE_ROWS)), row_group_size=SLICE_ROWS
                )
    elif fmt == "csv":
        options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
        with pacsv.CSVWriter(str(path), _iso(first).schema, write_options=options) as writer:
            for o in starts:
                writer.write_table(_iso(_plain_strings(day.rows(o, SLICE_ROWS))))
    elif fmt == "jsonl":
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            for o in starts:
                part = day.rows(o, SLICE_ROWS)
                if part.num_rows == 0:
                    continue
                frame = _iso(_plain_strings(part)).to_pandas()
                text = frame.to_json(
                    orient="records", lines=True, force_ascii=True, double_precision=15
                )
                # ASCII-only, so no raw U+2028 can trip a line splitter. pandas also
                # escapes every "/" as "\/"; both are valid JSON, the plain one reads better
                text = text.replace("\\/", "/")
                fh.write(text if text.endswith("\n") else text + "\n")
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def write_accounts(path: Path, rows: dict[str, list]) -> None:
    """The account table (contract 1.2) as Parquet, sorted by account id."""
    order = np.argsort(np.array(rows[sc.ACCOUNT_ID], dtype=object), kind="stable")
    table = pa.table(
        {
            sc.ACCOUNT_ID: pa.array([rows[sc.ACCOUNT_ID][i] for i in order], pa.string()),
            sc.CREATED_AT: pa.array(
                np.asarray(rows[sc.CREATED_AT], dtype=np.int64)[order], pa.int64()
            ).cast(pa.timestamp("us", tz="UTC")),
            sc.PLAN: pa.array([rows[sc.PLAN][i] for i in order], pa.string()),
            sc.COUNTRY: pa.array([rows[sc.COUNTRY][i] for i in order], pa.string()),
            sc.PAYMENT_FINGERPRINT: pa.array(
                [rows[sc.PAYMENT_FINGERPRINT][i] for i in order], pa.string()
            ),
            sc.ORG_ID: pa.array([rows[sc.ORG_ID][i] for i in order], pa.string()),
        }
    )
    pq.write_table(table, path, **PARQUET_OPTIONS)


def write_labels(path: Path, labels: list[tuple[str, str, str]]) -> None:
    """``account_id,label,scenario`` sorted by account id (contract 1.3)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([sc.ACCOUNT_ID, sc.LABEL, sc.SCENARIO])
    w.writerows(sorted(labels))
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
