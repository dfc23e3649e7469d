"""Read request logs, validate them against the contract, dedupe, quarantine.

A log is a directory (read recursively) or a list of files: Parquet, JSON Lines or
CSV, each optionally gzip-compressed. Hive partitions (``date=YYYY-MM-DD``) are
pruned by ``start``/``end`` from the path alone, so days outside the window are
never opened. Reading streams in chunks of ``Config.chunk_rows`` rows; nothing here
holds the whole log in memory.

Every row read is accounted for exactly once::

    read == kept + duplicates + quarantined

``kept`` rows go on to scoring, ``duplicates`` repeat a ``request_id`` already kept
(log shipping is at-least-once), ``quarantined`` rows break a contract rule and are
written to the quarantine file with the reason. Rows of an unpartitioned file whose
timestamp falls outside ``start``/``end`` are not part of the narrowed log: they are
counted separately as ``outside_window`` and are not in ``read``.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from detector import schema as S
from detector.config import DEFAULT, Config
from detector.errors import UserError

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl", ".csv": "csv"}
_PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_TRUE = frozenset({"true", "1", "t", "yes", "y"})
_FALSE = frozenset({"false", "0", "f", "no", "n", ""})
MAX_FIRST_REASONS = 10


class IngestError(UserError):
    """A log cannot be read at all (as opposed to a bad row, which is quarantined)."""


@dataclass(frozen=True)
class LogFile:
    """One input file: its path, format, compression and hive partition date."""

    path: Path
    fmt: str
    gzipped: bool
    partition: dt.date | None


@dataclass
class IngestReport:
    """Reconciliation counts and findings of one read of a log."""

    files: list[str] = field(default_factory=list)
    read: int = 0
    kept: int = 0
    duplicates: int = 0
    quarantined: int = 0
    outside_window: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    first_reasons: list[dict[str, str]] = field(default_factory=list)
    present_optional: set[str] = field(default_factory=set)
    pruned_files: int = 0
    quarantine_path: str | None = None

    @property
    def missing_optional(self) -> list[str]:
        """Optional contract columns absent from every file (features needing them are off)."""
        return [c for c in S.OPTIONAL if c not in self.present_optional]

    def reconciles(self) -> bool:
        """True when every read row is kept, a duplicate, or quarantined."""
        return self.read == self.kept + self.duplicates + self.quarantined

    def to_dict(self) -> dict[str, object]:
        """Plain-data view for JSON summaries."""
        return {
            "files": len(self.files),
            "pruned_files": self.pruned_files,
            "read": self.read,
            "kept": self.kept,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "outside_window": self.outside_window,
            "reconciles": self.reconciles(),
            "quarantine_reasons": dict(self.reasons.most_common()),
            "missing_optional_columns": self.missing_optional,
            "quarantine_file": self.quarantine_path,
        }


# --- discovery -------------------------------------------------------------------------


def _classify(path: Path) -> tuple[str, bool] | None:
    name = path.name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    fmt = FORMATS.get(Path(name).suffix)
    if fmt is None or (gz and fmt == "parquet"):
        return None
    return fmt, gz


def _partition_date(path: Path, root: Path) -> dt.date | None:
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:
        parts = path.parts[:-1]
    for part in reversed(parts):
        m = _PARTITION.match(part)
        if m:
            try:
                return dt.date.fromisoformat(m.group(1))
            except ValueError:
                return None
    return None


def discover(
    paths: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> tuple[list[LogFile], int]:
    """List the log files under ``paths``, pruning hive partitions outside [start, end].

    Returns the files in a deterministic (sorted) order and how many were pruned.
    Raises :class:`IngestError` when a path does not exist or holds no log file.
    """
    roots = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    found: list[LogFile] = []
    pruned = 0
    for root in roots:
        if not root.exists():
            raise IngestError(f"{root}: no such file or directory")
        candidates = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in candidates:
            kind = _classify(path)
            if kind is None:
                if not root.is_dir():
                    raise IngestError(
                        f"{path}: unknown log format; expected .parquet, .jsonl[.gz] or .csv[.gz]"
                    )
                continue
            part = _partition_date(path, root) if root.is_dir() else None
            if part is not None and (
                (start is not None and part < start) or (end is not None and part > end)
            ):
                pruned += 1
                continue
            found.append(LogFile(path, kind[0], kind[1], part))
    if not found and not pruned:
        raise IngestError(f"{', '.join(map(str, roots))}: no .parquet, .jsonl or .csv files found")
    return found, pruned


# --- raw readers (each yields DataFrames of at most chunk_rows rows) --------------------


def open_parquet(f: LogFile) -> tuple[pq.ParquetFile, list[str]]:
    """Open a Parquet log file (footer only) and list its contract columns.

    Raises :class:`IngestError` naming the file when it is not Parquet or lacks a
    required column.
    """
    try:
        pf = pq.ParquetFile(f.path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise IngestError(f"{f.path}: not a readable Parquet file ({exc})") from None
    names = set(pf.schema_arrow.names)
    missing = [c for c in S.REQUIRED if c not in names]
    if missing:
        raise IngestError(
            f"{f.path}: missing required column(s) {', '.join(missing)}; "
            "the request log must have the columns listed in CONTRACT.md 1.1"
        )
    return pf, [c for c in S.ALL_COLUMNS if c in names]


def _read_parquet(f: LogFile, chunk_rows: int) -> Iterator[pd.DataFrame]:
    pf, cols = open_parquet(f)
    try:
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=cols):
            yield batch.to_pandas(types_mapper=_arrow_types)
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(f"{f.path}: Parquet file is damaged ({exc})") from None


def _arrow_types(t: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.ArrowDtype(pa.string())
    return None


def _check_header(f: LogFile, names: Sequence[str]) -> None:
    missing = [c for c in S.REQUIRED if c not in names]
    if missing:
        raise IngestError(
            f"{f.path}: missing required column(s) {', '.join(missing)} in the header; "
            "the request log must have the columns listed in CONTRACT.md 1.1"
        )


def _read_csv(f: LogFile, chunk_rows: int) -> Iterator[pd.DataFrame]:
    block = 1 << 22
    try:
        stream = pa.input_stream(str(f.path), compression="gzip" if f.gzipped else None)
        header = pacsv.open_csv(
            stream, read_options=pacsv.ReadOptions(block_size=block)
        ).schema.names
        stream.close()
        _check_header(f, header)
        stream = pa.input_stream(str(f.path), compression="gzip" if f.gzipped else None)
        cols = [c for c in S.ALL_COLUMNS if c in header]
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=block),
            convert_options=pacsv.ConvertOptions(
                include_columns=cols,
                column_types={c: pa.string() for c in cols},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
        )
        pending: list[pd.DataFrame] = []
        size = 0
        for batch in reader:
            pending.append(batch.to_pandas(types_mapper=_arrow_types))
            size += batch.num_rows
            if size >= chunk_rows:
                yield pd.concat(pending, ignore_index=True)
                pending, size = [], 0
        if pending:
            yield pd.concat(pending, ignore_index=True)
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(f"{f.path}: cannot read CSV ({_one_line(exc)})") from None


def _read_jsonl(f: LogFile, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """JSON Lines: fast path parses a chunk at once; a chunk with a bad line is re-parsed
    line by line so only the bad lines are quarantined (reason ``invalid JSON``)."""
    opener = gzip.open if f.gzipped else open
    seen_columns: set[str] = set()
    try:
        # utf-8-sig: a leading byte-order mark (Windows tools) must not break the first line
        with opener(f.path, "rt", encoding="utf-8-sig", errors="replace", newline="\n") as fh:
            while True:
                lines = [ln for ln in _take(fh, chunk_rows) if ln.strip()]
                if not lines:
                    break
                frame = _parse_json_lines(lines)
                seen_columns.update(frame.columns)
                yield frame
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise IngestError(f"{f.path}: cannot read ({_one_line(exc)})") from None
    if seen_columns:
        _check_header(f, [c for c in seen_columns if c != _BAD_JSON])


_BAD_JSON = "__invalid_json__"


def _take(fh: io.TextIOBase, n: int) -> list[str]:
    out = []
    for line in fh:
        out.append(line)
        if len(out) >= n:
            break
    return out


def _parse_json_lines(lines: list[str]) -> pd.DataFrame:
    # the fast path only for lines that are JSON objects: pandas turns a chunk holding
    # arrays, scalars or ``null`` into odd columns (or raises TypeError), depending on
    # how the lines fall into chunks
    if all(ln.lstrip().startswith("{") for ln in lines):
        try:
            frame = pd.read_json(
                io.StringIO("".join(lines)),
                lines=True,
                dtype=False,
                convert_dates=False,
                precise_float=True,  # the default parser is off by an ulp for ~15% of floats
            )
            if len(frame) == len(lines):
                return frame
        except (ValueError, TypeError):
            pass
    # slow path, only for a chunk that holds a malformed line
    records: list[dict[str, object]] = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        records.append(obj if isinstance(obj, dict) else {_BAD_JSON: True})
    return pd.DataFrame.from_records(records)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


# --- validation and coercion -------------------------------------------------------------


def _as_text(s: pd.Series) -> pd.Series:
    """Any column as nullable Arrow strings (numbers from JSON become their text)."""
    if isinstance(s.dtype, pd.ArrowDtype) and pa.types.is_string(s.dtype.pyarrow_dtype):
        return s
    out = s.astype(object).where(s.notna(), None)
    return out.map(
        lambda v: v if v is None or isinstance(v, str) else str(v), na_action="ignore"
    ).astype(pd.ArrowDtype(pa.string()))


def _parse_timestamp(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        ts = s if getattr(s.dtype, "tz", None) is not None else s.dt.tz_localize("UTC")
        ts = ts.dt.tz_convert("UTC")
        # Parquet µs/ms timestamps can lie outside the nanosecond range: unparseable, not a crash
        in_range = ts.between(
            pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
        )
        return ts.where(in_range).astype("datetime64[ns, UTC]")
    text = _as_text(s).astype(object)
    return pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601").astype(
        "datetime64[ns, UTC]"
    )


def _parse_number(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(np.nan, index=s.index)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64")
    text = _as_text(s).astype(object)
    num = pd.to_numeric(text, errors="coerce")
    # JSON booleans arrive as Python bools inside object columns: not numbers
    # (no ``fillna`` on an object column: its FutureWarning would reach the user's stderr)
    is_bool = s.astype(object).map(lambda v: isinstance(v, bool))
    return num.astype("float64").mask(is_bool.astype(bool))


def _parse_bool(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (value as float 0/1/NaN, invalid mask)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64"), pd.Series(False, index=s.index)
    text = _as_text(s).str.strip().str.lower()
    is_true = text.isin(list(_TRUE)).fillna(False).astype(bool)
    is_false = text.isin(list(_FALSE)).fillna(False).astype(bool)
    missing = s.isna()
    out = pd.Series(np.where(is_true, 1.0, np.where(is_false, 0.0, np.nan)), index=s.index)
    invalid = ~(is_true | is_false | missing)
    out[text.eq("").fillna(False).astype(bool)] = np.nan
    return out, invalid


def _is_missing(s: pd.Series) -> pd.Series:
    """Null, or (for text columns) empty after stripping whitespace."""
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.isna()
    return s.isna() | _as_text(s).str.strip().eq("").fillna(True).astype(bool)


@dataclass
class _Checked:
    clean: pd.DataFrame
    reason: np.ndarray  # object array, "" for a valid row


def validate_frame(raw: pd.DataFrame) -> _Checked:
    """Coerce one raw chunk to contract dtypes and give each row its first broken rule.

    Vectorised: one boolean mask per rule, combined with ``np.select`` so the reason is
    the first rule (in contract column order) the row breaks.
    """
    n = len(raw)
    conditions: list[np.ndarray] = []
    reasons: list[str] = []
    out: dict[str, pd.Series] = {}

    def rule(mask: pd.Series | np.ndarray, reason: str) -> None:
        conditions.append(np.asarray(mask, dtype=bool))
        reasons.append(reason)

    if _BAD_JSON in raw.columns:
        rule(raw[_BAD_JSON].eq(True), "invalid JSON line")

    for col in S.REQUEST_COLUMNS:
        present = col.name in raw.columns
        if not present:
            if col.required:
                rule(np.ones(n, dtype=bool), f"missing required value: {col.name}")
            continue
        s = raw[col.name]
        if col.kind == "string":
            text = _as_text(s)
            if col.required:
                empty = text.isna() | text.str.strip().eq("").fillna(True)
                rule(empty, f"missing required value: {col.name}")
            if col.name == S.STATUS:
                text = text.str.strip().str.lower()
                bad = ~text.isin(list(S.STATUSES)).fillna(False).astype(bool) & text.notna()
                bad &= ~text.eq("").fillna(True)
                rule(bad, "unknown status (expected ok, refused, error or rate_limited)")
            out[col.name] = text
        elif col.kind == "timestamp":
            ts = _parse_timestamp(s)
            missing = _is_missing(s)
            rule(missing, f"missing required value: {col.name}")
            rule(ts.isna() & ~missing, f"unparseable timestamp: {col.name}")
            out[col.name] = ts
        elif col.kind in ("int", "float"):
            num = _parse_number(s)
            missing = _is_missing(s)
            if col.required:
                rule(missing, f"missing required value: {col.name}")
            rule(num.isna() & ~missing, f"not a number: {col.name}")
            if col.kind == "int":
                rule(num.notna() & (np.floor(num) != num), f"not an integer: {col.name}")
            if col.minimum is not None:
                if col.strictly_positive:
                    rule(num.notna() & (num <= col.minimum), f"must be > 0: {col.name}")
                else:
                    rule(num.notna() & (num < col.minimum), f"negative value: {col.name}")
            rule(num.notna() & ~np.isfinite(num.fillna(0)), f"not finite: {col.name}")
            if col.kind == "int":
                # beyond int64 the cast in finalize_dtypes would raise or wrap around
                rule(num.notna() & (num.abs() >= 2.0**63), f"out of range: {col.name}")
            out[col.name] = num
        else:  # bool
            val, invalid = _parse_bool(s)
            rule(invalid, f"not a boolean: {col.name}")
            out[col.name] = val

    reason = (
        np.select(conditions, reasons, default="") if conditions else np.full(n, "", dtype=object)
    )
    clean = pd.DataFrame(out, index=raw.index)
    return _Checked(clean, np.asarray(reason, dtype=object))


def finalize_dtypes(clean: pd.DataFrame) -> pd.DataFrame:
    """Cast valid rows to the contract dtypes (ints as int64, optional ints nullable)."""
    for col in S.REQUEST_COLUMNS:
        if col.name not in clean.columns:
            continue
        if col.kind == "int":
            s = clean[col.name]
            clean[col.name] = s.astype("int64") if col.required else s.astype("Int64")
    return clean


# --- dedupe ------------------------------------------------------------------------------


class Deduper:
    """Remembers the 64-bit hashes of kept ``request_id`` values across chunks.

    Memory is 8 bytes per kept request (80 MB per 10M). A 64-bit collision between two
    different ids would wrongly count one as a duplicate; at 10M requests the chance
    is about 3 in a million per run.
    """

    def __init__(self) -> None:
        self._seen = np.empty(0, dtype=np.uint64)

    def duplicated(self, request_ids: pd.Series) -> np.ndarray:
        """Mask of rows whose id was kept before (in an earlier chunk or earlier here)."""
        h = pd.util.hash_array(request_ids.astype(object).to_numpy(), categorize=False)
        within = pd.Series(h).duplicated(keep="first").to_numpy()
        if len(self._seen):
            pos = np.searchsorted(self._seen, h)
            pos[pos >= len(self._seen)] = 0
            before = self._seen[pos] == h
        else:
            before = np.zeros(len(h), dtype=bool)
        dup = within | before
        new = np.unique(h[~dup])
        # stable sort of two sorted runs is a linear merge
        self._seen = np.sort(np.concatenate([self._seen, new]), kind="stable")
        return dup


# --- the streaming reader -----------------------------------------------------------------


class QuarantineWriter:
    """Appends quarantined rows (as text, formulas neutralised) with their reason to a CSV."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._tmp = path.with_name(path.name + ".part") if path else None
        self._started = False

    def write(self, raw: pd.DataFrame, reasons: np.ndarray, source: str) -> None:
        if self._tmp is None or len(raw) == 0:
            return
        from detector.safe import neutralise_csv_frame

        frame = raw.reindex(columns=[c for c in S.ALL_COLUMNS]).astype(object)
        frame = frame.where(frame.notna(), "").astype(str)
        frame.insert(0, S.QUARANTINE_REASON, reasons)
        frame.insert(1, S.SOURCE_FILE, source)
        frame = neutralise_csv_frame(frame)
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(
            self._tmp,
            mode="a" if self._started else "w",
            header=not self._started,
            index=False,
            lineterminator="\n",
            # quote every cell: with "\n" line ends a bare "\r" in a prompt is left unquoted,
            # splits the row for CSV readers and starts a fresh, un-neutralised cell
            quoting=csv.QUOTE_ALL,
        )
        self._started = True

    def close(self) -> str | None:
        """Publish the quarantine file atomically; an empty quarantine still gets a header."""
        if self._tmp is None or self.path is None:
            return None
        if not self._started:
            cols = [S.QUARANTINE_REASON, S.SOURCE_FILE, *S.ALL_COLUMNS]
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(columns=cols).to_csv(self._tmp, index=False, lineterminator="\n")
        self._tmp.replace(self.path)
        return str(self.path)


def iter_clean(
    paths: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    quarantine_path: Path | None = None,
    report: IngestReport | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream the log as clean, deduplicated chunks in contract dtypes.

    ``report`` (created if not given) is filled in as chunks are read; read it after
    the iterator is exhausted. Rows breaking a rule go to ``quarantine_path``.
    """
    report = report if report is not None else IngestReport()
    files, report.pruned_files = discover(paths, start=start, end=end)
    report.files = [str(f.path) for f in files]
    dedupe = Deduper()
    quarantine = QuarantineWriter(quarantine_path)
    lo = pd.Timestamp(start, tz="UTC") if start else None
    hi = pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1) if end else None
    readers = {"parquet": _read_parquet, "csv": _read_csv, "jsonl": _read_jsonl}
    for f in files:
        for raw in readers[f.fmt](f, config.chunk_rows):
            raw = raw.reset_index(drop=True)
            report.present_optional.update(c for c in raw.columns if c in S.OPTIONAL)
            checked = validate_frame(raw)
            bad = checked.reason != ""
            clean = checked.clean
            if f.partition is None and (lo is not None or hi is not None):
                ts = clean[S.TIMESTAMP]
                outside = ~bad & (
                    (ts < lo).fillna(False).to_numpy() if lo is not None else False
                ) | (~bad & ((ts >= hi).fillna(False).to_numpy() if hi is not None else False))
                report.outside_window += int(outside.sum())
                raw, clean = raw[~outside], clean[~outside]
                bad = bad[~outside]
                checked.reason = checked.reason[~outside]
            report.read += len(raw)
            if bad.any():
                n_bad = int(bad.sum())
                report.quarantined += n_bad
                rs = checked.reason[bad]
                report.reasons.update(pd.Series(rs).value_counts().to_dict())
                for r in rs[: max(0, MAX_FIRST_REASONS - len(report.first_reasons))]:
                    report.first_reasons.append({"file": str(f.path), "reason": r})
                quarantine.write(raw[bad], rs, str(f.path))
            clean = clean[~bad]
            if len(clean) == 0:
                continue
            dup = dedupe.duplicated(clean[S.REQUEST_ID])
            report.duplicates += int(dup.sum())
            clean = clean[~dup]
            report.kept += len(clean)
            if len(clean):
                yield finalize_dtypes(clean.reset_index(drop=True))
    report.quarantine_path = quarantine.close()


def read_log(
    paths: Path | Sequence[Path],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    quarantine_path: Path | None = None,
) -> tuple[pd.DataFrame, IngestReport]:
    """Read a whole log into one clean frame (for small logs, tests and notebooks)."""
    report = IngestReport()
    chunks = list(
        iter_clean(
            paths,
            start=start,
            end=end,
            config=config,
            quarantine_path=quarantine_path,
            report=report,
        )
    )
    if chunks:
        frame = pd.concat(chunks, ignore_index=True)
    else:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in S.REQUIRED})
    return frame, report


# --- account table -------------------------------------------------------------------------


def read_accounts(path: Path) -> pd.DataFrame:
    """Read the optional account table (contract 1.2), indexed by ``account_id``.

    Unknown columns are dropped; ``created_at`` is parsed to UTC (unparseable → NaT,
    which features treat as unknown). Duplicate account ids keep the first row.
    """
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    files, _ = discover(path)
    frames = []
    for f in files:
        try:
            if f.fmt == "parquet":
                frames.append(pd.read_parquet(f.path))
            elif f.fmt == "csv":
                frames.append(pd.read_csv(f.path, dtype=str, keep_default_na=False))
            else:
                frames.append(pd.read_json(f.path, lines=True, dtype=False, convert_dates=False))
        except Exception as exc:
            raise IngestError(f"{f.path}: cannot read account table ({_one_line(exc)})") from None
    table = pd.concat(frames, ignore_index=True)
    if S.ACCOUNT_ID not in table.columns:
        raise IngestError(f"{path}: account table has no {S.ACCOUNT_ID} column")
    table = table[[c for c in S.ACCOUNT_COLUMNS if c in table.columns]].copy()
    table[S.ACCOUNT_ID] = table[S.ACCOUNT_ID].astype(str)
    if S.CREATED_AT in table.columns:
        table[S.CREATED_AT] = _parse_timestamp(table[S.CREATED_AT])
    for c in (S.PLAN, S.COUNTRY, S.PAYMENT_FINGERPRINT, S.ORG_ID):
        if c in table.columns:
            table[c] = table[c].astype(object).where(table[c].notna(), "").astype(str)
    return table.drop_duplicates(S.ACCOUNT_ID).set_index(S.ACCOUNT_ID).sort_index()


def read_labels(path: Path) -> pd.DataFrame:
    """Read a labels CSV (contract 1.3), checking the label values."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise IngestError(f"{path}: cannot read labels CSV ({_one_line(exc)})") from None
    for col in (S.ACCOUNT_ID, S.LABEL):
        if col not in table.columns:
            raise IngestError(f"{path}: labels file has no {col} column")
    bad = ~table[S.LABEL].isin(S.LABELS)
    if bad.any():
        raise IngestError(
            f"{path}: column {S.LABEL}: {int(bad.sum())} row(s) not 'benign' or 'extraction'; "
            "fix or remove them"
        )
    if S.SCENARIO not in table.columns:
        table[S.SCENARIO] = ""
    return table[[S.ACCOUNT_ID, S.LABEL, S.SCENARIO]].drop_duplicates(S.ACCOUNT_ID)
