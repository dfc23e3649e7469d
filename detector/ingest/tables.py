"""The small side tables: the account table (contract 1.2) and labels (contract 1.3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from detector import schema as S
from detector.ingest.discover import discover
from detector.ingest.raw import one_line
from detector.ingest.report import IngestError
from detector.ingest.validate import parse_timestamp


def read_accounts(path: Path) -> pd.DataFrame:
    """Read the optional account table (contract 1.2), indexed by ``account_id``.

    Unknown columns are dropped; ``created_at`` is parsed to UTC (unparseable → NaT,
    which features treat as unknown). Duplicate account ids keep the first row. A table
    of no rows is an error: an account table that lost its rows would otherwise score
    every account as unknown without a word.
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
            raise IngestError(f"{f.path}: cannot read account table ({one_line(exc)})") from None
    if not sum(map(len, frames)):  # 0 bytes, a header only, or no row in any file
        raise IngestError(
            f"{path}: account table holds no rows (an empty file, or a header only); "
            "give one row per account, or leave out --accounts to score without it"
        )
    table = pd.concat(frames, ignore_index=True)
    if S.ACCOUNT_ID not in table.columns:
        raise IngestError(f"{path}: account table has no {S.ACCOUNT_ID} column")
    known = (*S.ACCOUNT_COLUMNS, *S.ACCOUNT_HISTORY_COLUMNS)
    table = table[[c for c in known if c in table.columns]].copy()
    table[S.ACCOUNT_ID] = table[S.ACCOUNT_ID].astype(str)
    if S.CREATED_AT in table.columns:
        table[S.CREATED_AT] = parse_timestamp(table[S.CREATED_AT])
    if S.IDLE_DAYS in table.columns:
        table[S.IDLE_DAYS] = parse_idle_days(table[S.IDLE_DAYS], path)
    for c in (S.PLAN, S.COUNTRY, S.PAYMENT_FINGERPRINT, S.ORG_ID):
        if c in table.columns:
            table[c] = table[c].astype(object).where(table[c].notna(), "").astype(str)
    return table.drop_duplicates(S.ACCOUNT_ID).set_index(S.ACCOUNT_ID).sort_index()


def parse_idle_days(values: pd.Series, path: Path) -> pd.Series:
    """The ``idle_days`` column as float days (empty: unknown, NaN); anything else than
    a number of days at least 0 is an error naming how many rows and what to do."""
    blank = values.isna() | values.astype(str).str.strip().isin(["", "nan", "NaN", "None"])
    days = pd.to_numeric(values.where(~blank), errors="coerce").astype("float64")
    bad = (~blank & (days.isna() | (days < 0) | ~np.isfinite(days.fillna(0)))).sum()
    if bad:
        raise IngestError(
            f"{path}: column {S.IDLE_DAYS}: {bad:,} value(s) are not a number of days >= 0; "
            "give days the account was idle before the log's window, or leave it empty"
        )
    return days


def read_labels(path: Path) -> pd.DataFrame:
    """Read a labels CSV (contract 1.3), checking the label values."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise IngestError(f"{path}: cannot read labels CSV ({one_line(exc)})") from None
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
