"""The days a flat log's rows are dense on, so one stray timestamp cannot stretch the window.

A hive log is held to its partitions' days (:mod:`detector.ingest.window`). A flat log
(files without a ``date=`` partition) has only its rows' timestamps, and the window
every per-day feature divides by runs from the earliest to the latest: one row a month
early made every account's ``active_day_share`` a month long. So before the read, a
pre-scan counts the flat files' rows per UTC day (the timestamp column alone: a Parquet
column read; the text formats through the same readers) and finds the log's *span*:

- the days with rows, split wherever more than ``Config.span_max_gap_days`` empty days
  separate two of them; the span is the run of days holding the most rows;
- rows off the span, when at most ``Config.span_max_stray_share`` of the log's rows, are
  quarantined (``timestamp isolated from the rest of the log: …``) by the main read;
- more than that is a log of two periods: everything is read, as before, and the read
  carries one warning naming the gap.

``--start`` and ``--end`` both given choose the window explicitly: no span is looked
for (rows outside the window are selected away as ``outside_window``, as always).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from detector import schema as S
from detector.config import Config
from detector.ingest.discover import LogFile
from detector.ingest.raw import one_line
from detector.ingest.readers import open_parquet, read_file
from detector.ingest.report import IngestError
from detector.ingest.validate import FIRST_INSTANT, LAST_INSTANT, epoch_seconds, parse_timestamp

__all__ = ["LogSpan", "dense_span", "flat_day_counts", "log_span"]

_EPOCH = dt.date(1970, 1, 1)
_DAY_S = 86_400


def _date(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(day))


@dataclass(frozen=True)
class LogSpan:
    """The days (epoch day numbers, inclusive) a flat log's rows are dense on."""

    first: int
    last: int

    @property
    def bounds(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The span as a half-open ``[lo, hi)`` instant range."""
        lo = pd.Timestamp(_date(self.first), tz="UTC")
        return lo, lo + pd.Timedelta(days=self.last - self.first + 1)

    def reasons(self, seconds: np.ndarray) -> np.ndarray:
        """The quarantine reason of rows at ``seconds`` (epoch) off the span: how many days
        lie between each row's day and the span (one string per distinct distance)."""
        day = seconds // _DAY_S
        gap = np.where(day < self.first, self.first - day - 1, day - self.last - 1)
        span = f"{_date(self.first)}..{_date(self.last)}"
        text = {g: S.REASON_ISOLATED.format(days=g, span=span) for g in np.unique(gap).tolist()}
        return pd.Series(gap).map(text).to_numpy(dtype=object)


_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_DENSE_DAYS = 100_000
"""Day ranges up to this long are counted with a bincount (a sort beyond)."""


def _counts(seconds: np.ndarray) -> Counter[int]:
    """Rows per epoch day of instants at ``seconds``."""
    days = seconds // _DAY_S
    if len(days) == 0:
        return Counter()
    first = int(days.min())
    if int(days.max()) - first < _DENSE_DAYS:
        n = np.bincount(days - first)
        at = np.flatnonzero(n)
        return Counter(dict(zip((at + first).tolist(), n[at].tolist(), strict=True)))
    found, n = np.unique(days, return_counts=True)
    return Counter(dict(zip(found.tolist(), n.tolist(), strict=True)))


def _arrow_seconds(
    column: pa.Array, lo: pd.Timestamp | None, hi: pd.Timestamp | None
) -> np.ndarray | None:
    """Epoch seconds of a Parquet timestamp column's values within ``[lo, hi)`` and within
    :data:`~detector.ingest.validate.FIRST_INSTANT` .. ``LAST_INSTANT``, straight from its
    integers (a naive timestamp means UTC); ``None`` for another type."""
    if not pa.types.is_timestamp(column.type):
        return None
    ticks = column.drop_null().cast(pa.int64()).to_numpy()
    # an instant the read quarantines as out of range is not counted (year 0 would not
    # even make a date to name in a warning)
    ns_per_tick = 1_000_000_000 // _UNITS[column.type.unit]
    lo_tick = -(-FIRST_INSTANT.value // ns_per_tick)
    hi_tick = LAST_INSTANT.value // ns_per_tick
    ticks = ticks[(ticks >= lo_tick) & (ticks <= hi_tick)]
    seconds = ticks // _UNITS[column.type.unit]
    keep = np.ones(len(seconds), dtype=bool)
    if lo is not None:
        keep &= seconds >= lo.value // 1_000_000_000
    if hi is not None:
        keep &= seconds < hi.value // 1_000_000_000
    return seconds if keep.all() else seconds[keep]


def flat_day_counts(
    files: Iterable[LogFile], window: tuple[pd.Timestamp | None, pd.Timestamp | None], rows: int
) -> Counter[int]:
    """Rows per UTC epoch day of the unpartitioned ``files``, within ``window``.

    Only the timestamp column is parsed (a Parquet file reads that column alone); a row
    whose timestamp does not parse is not counted (the read quarantines it).
    """
    out: Counter[int] = Counter()
    lo, hi = window
    for f in files:
        if f.fmt == "parquet":
            pf, _ = open_parquet(f)  # the read's own errors: not Parquet, no required column
            try:
                for batch in pf.iter_batches(batch_size=rows, columns=[S.TIMESTAMP]):
                    seconds = _arrow_seconds(batch.column(0), lo, hi)
                    if seconds is None:  # text or another type: parsed as the read parses it
                        seconds = _seconds(batch.column(0).to_pandas(), lo, hi)
                    out.update(_counts(seconds))
            except Exception as exc:  # damaged: worded as the read words it
                raise IngestError(f"{f.path}: Parquet file is damaged ({one_line(exc)})") from None
            continue
        for raw in read_file(f, rows):
            if S.TIMESTAMP in raw.frame.columns:
                out.update(_counts(_seconds(raw.frame[S.TIMESTAMP], lo, hi)))
    return out


def _seconds(values: pd.Series, lo: pd.Timestamp | None, hi: pd.Timestamp | None) -> np.ndarray:
    """Epoch seconds of the parseable timestamps within ``[lo, hi)``."""
    ts = parse_timestamp(values)
    keep = ts.notna()
    if lo is not None:
        keep &= ts >= lo
    if hi is not None:
        keep &= ts < hi
    return epoch_seconds(ts[keep])


def dense_span(
    counts: Mapping[int, int], max_gap_days: int, max_stray_share: float
) -> tuple[LogSpan | None, str | None]:
    """The span of ``counts`` (rows per epoch day) and, for a log of two periods, the
    warning naming its widest gap; ``(None, None)`` when the days are one run."""
    days = np.array(sorted(counts), dtype=np.int64)
    if len(days) < 2:
        return None, None
    rows = np.array([counts[d] for d in days.tolist()], dtype=np.int64)  # per day, not row
    gaps = np.diff(days) - 1
    breaks = np.flatnonzero(gaps > max_gap_days)
    if len(breaks) == 0:
        return None, None
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(days) - 1]])
    sizes = np.add.reduceat(rows, starts)
    best = len(sizes) - 1 - int(np.argmax(sizes[::-1]))  # the most rows; the latest on a tie
    stray = int(rows.sum() - sizes[best])
    if stray <= max_stray_share * rows.sum():
        return LogSpan(int(days[starts[best]]), int(days[ends[best]])), None
    widest = int(breaks[np.argmax(gaps[breaks])])
    before, after = _date(days[widest]), _date(days[widest + 1])
    return None, (
        f"rows on {before} and {after} are {int(gaps[widest])} empty days apart, and "
        f"{stray:,} of {int(rows.sum()):,} rows lie off the busiest stretch: read as one "
        "window; pass --start/--end to choose one"
    )


def log_span(
    files: Iterable[LogFile], start: dt.date | None, end: dt.date | None, config: Config
) -> tuple[LogSpan | None, str | None]:
    """The span the flat ``files`` of a log are held to, and a warning (see the module).

    Nothing is scanned when both ``start`` and ``end`` are given, or no file is flat.
    """
    flat = [f for f in files if f.partition is None]
    if not flat or (start is not None and end is not None):
        return None, None
    lo = pd.Timestamp(start, tz="UTC") if start is not None else None
    hi = pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1) if end is not None else None
    counts = flat_day_counts(flat, (lo, hi), config.chunk_rows)
    return dense_span(counts, config.span_max_gap_days, config.span_max_stray_share)
