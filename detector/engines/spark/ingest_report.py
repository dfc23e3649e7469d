"""The ingest report from the staged rows: the local engine's counts and quarantine.

The read stage leaves meta rows (per batch and file: rows read, rows outside the
window, columns seen) and quarantined rows. :func:`reconcile` turns their summary into
the :class:`~detector.ingest.IngestReport` counts and makes the per-file checks the
local readers make while reading; :func:`record_dedupe` adds the dedupe's duplicates
and reused ids; :func:`record_quarantine` collects the quarantined rows, reused ids
among them, in file order for the first reasons and the quarantine file.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from detector import schema as S
from detector.engines.spark.dedupe import Deduped
from detector.engines.spark.session import run_job
from detector.engines.spark.staging import (
    POSITION,
    STATE_KEPT,
    STATE_META,
    STATE_QUARANTINED,
)
from detector.ingest import (
    MAX_FIRST_REASONS,
    IngestReport,
    LogFile,
    QuarantineWriter,
    check_header,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["reconcile", "record_dedupe", "record_quarantine"]


def reconcile(
    report: IngestReport,
    summary: pd.DataFrame,
    files: Sequence[LogFile],
    parquet_rows: Mapping[int, int],
) -> int:
    """Fill the report's counts from the stage summary; returns the valid (pre-dedupe) rows.

    Also the per-file checks the local readers make while reading: a JSON Lines file
    without a required column is an error, and Spark must have read every row a
    Parquet footer announces.
    """
    meta = summary[summary["_state"] == STATE_META]
    bad = summary[summary["_state"] == STATE_QUARANTINED]
    good = summary[summary["_state"] == STATE_KEPT]
    report.read = int(meta["n"].sum() - meta["o"].sum())
    report.outside_window = int(meta["o"].sum())
    report.quarantined = int(bad["rows"].sum())
    for reason, count in bad.groupby("_reason")["rows"].sum().items():
        report.reasons[str(reason)] += int(count)
    seen_by_file: dict[int, set[str]] = {}
    rows_by_file: dict[int, int] = {}
    read_by_file: dict[int, int] = {}
    for f, reason, n, o in zip(meta["_f"], meta["_reason"], meta["n"], meta["o"], strict=True):
        cols = {c for c in str(reason or "").split(",") if c}
        seen_by_file.setdefault(int(f), set()).update(cols)
        rows_by_file[int(f)] = rows_by_file.get(int(f), 0) + int(n)
        read_by_file[int(f)] = read_by_file.get(int(f), 0) + int(n) - int(o)
    for i, cols in sorted(seen_by_file.items()):
        if read_by_file[i]:  # as the local read: a file of rows says which columns it has
            report.note_file_columns(str(files[i].path), {c for c in cols if c in S.OPTIONAL})
    for i, cols in sorted(seen_by_file.items()):
        if files[i].fmt == "jsonl":
            any_columns = bool(meta.loc[meta["_f"] == i, "ncols"].max())
            if any_columns:
                check_header(files[i], sorted(cols))
    for i, expected in parquet_rows.items():
        if rows_by_file.get(i, 0) != expected:
            raise RuntimeError(
                f"{files[i].path}: Spark read {rows_by_file.get(i, 0):,} rows, the file holds "
                f"{expected:,} (a file Spark skips, e.g. a name starting with '.' or '_')"
            )
    return int(good["rows"].sum())


def record_dedupe(report: IngestReport, candidates: int, deduped: Deduped) -> None:
    """Count the dedupe into the report: duplicates, reused ids (quarantined, with their
    reason) and the kept rows that remain of the ``candidates`` (valid rows)."""
    report.duplicates = deduped.duplicates
    if deduped.reused_rows:
        report.quarantined += deduped.reused_rows
        report.reasons[S.REASON_ID_REUSED] += deduped.reused_rows
    report.kept = candidates - deduped.duplicates - deduped.reused_rows


def record_quarantine(
    spark: SparkSession,
    staged: DataFrame,
    reused: DataFrame,
    report: IngestReport,
    files: Sequence[LogFile],
    quarantine_path: Path | None,
    reused_text: Callable[[pd.DataFrame], pd.DataFrame],
) -> None:
    """Fill the report's first quarantine reasons and write the quarantine file.

    Quarantined rows are few by nature: the rows that broke a rule and the ``reused``
    ids (:mod:`~detector.engines.spark.dedupe`) are collected to the driver together in
    file order (only the first :data:`~detector.ingest.MAX_FIRST_REASONS` when no
    quarantine file is asked for), as the local reader writes them, and written with
    the project's :class:`~detector.ingest.QuarantineWriter`. A reused row's raw cells
    are not in the staged table: ``reused_text`` gives them (a read of those rows
    again), only when a quarantine file is written.
    """
    from pyspark.sql import functions as F

    q_text = [f"q_{c}" for c in S.ALL_COLUMNS]
    bad = staged.where(F.col("_state") == STATE_QUARANTINED).select(*POSITION, "_reason", *q_text)
    # a kept row's id and account are its raw text: a valid id is text or an integer,
    # whose text validation keeps exactly
    raw_ids = {f"q_{S.REQUEST_ID}": S.REQUEST_ID, f"q_{S.ACCOUNT_ID}": S.ACCOUNT_ID}
    reused_rows = reused.select(
        *POSITION,
        F.lit(S.REASON_ID_REUSED).alias("_reason"),
        *(
            F.col(raw_ids[c]).alias(c) if c in raw_ids else F.lit(None).cast("string").alias(c)
            for c in q_text
        ),
    )
    ordered = bad.unionByName(reused_rows).orderBy(*POSITION)
    if quarantine_path is not None and report.quarantined:
        rows = run_job(
            "collect quarantined rows",
            lambda: ordered.toArrow().to_pandas(),
            spark,
        )
        again = (rows["_reason"] == S.REASON_ID_REUSED).to_numpy()
        if again.any():
            text = reused_text(rows.loc[again, [*POSITION, *raw_ids]])
            rows.loc[again, q_text] = text[q_text].to_numpy(dtype=object)
    elif report.quarantined:
        rows = run_job(
            "collect the first quarantine reasons",
            lambda: ordered.limit(MAX_FIRST_REASONS).toArrow().to_pandas(),
            spark,
        )
    else:
        rows = pd.DataFrame(columns=[*POSITION, "_reason", *q_text])
    # rows are in file order; the cap is the report's, head() only spares a long loop
    head = rows.head(MAX_FIRST_REASONS)
    for f, reason in zip(head["_f"], head["_reason"], strict=True):
        report.note_first_reasons([reason], str(files[int(f)].path))
    report.quarantine_path = (
        _write_quarantine(rows, files, quarantine_path) if quarantine_path else None
    )


def _write_quarantine(
    rows: pd.DataFrame, files: Sequence[LogFile], quarantine_path: Path | None
) -> str | None:
    """Quarantined rows (in file order) to the quarantine CSV, via the project's writer."""
    writer = QuarantineWriter(quarantine_path)
    try:
        if len(rows):
            f = rows["_f"].to_numpy()
            cuts = [0, *(np.flatnonzero(f[1:] != f[:-1]) + 1).tolist(), len(rows)]
            for lo, hi in itertools.pairwise(cuts):
                part = rows.iloc[lo:hi]
                raw = pd.DataFrame(
                    {c: part[f"q_{c}"].to_numpy(dtype=object) for c in S.ALL_COLUMNS}
                )
                reasons = part["_reason"].to_numpy(dtype=object)
                writer.write(raw, reasons, str(files[int(f[lo])].path))
        return writer.close()
    except BaseException:  # no partial quarantine file, as in the local engine
        writer.abort()
        raise
