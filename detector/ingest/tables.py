"""The small side tables: the account table (contract 1.2) and labels (contract 1.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.ingest.discover import discover
from detector.ingest.raw import one_line
from detector.ingest.report import IngestError
from detector.ingest.validate import numbers_from_text, parse_timestamp

SOURCE_ATTR: Final = "source"
"""``DataFrame.attrs`` key of the file an account table was read from."""
OVERLAP_MIN_ACCOUNTS: Final = 20
"""A log with at least this many accounts must share one with its account table."""


def read_accounts(path: Path) -> pd.DataFrame:
    """Read the optional account table (contract 1.2), indexed by ``account_id``.

    Unknown columns are dropped; ``created_at`` is parsed to UTC (empty → NaT, which
    features treat as unknown). Refused, with one line naming the file, column and
    count: a table without rows, a ``created_at`` that is not an instant (a table whose
    every date is garbage would otherwise silently make every account's age unknown),
    and an account listed twice with different values (which row is right is the
    operator's call, not first-come). A row repeated exactly counts once.
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
        table[S.CREATED_AT] = _created_at(table[S.CREATED_AT], path)
    if S.IDLE_DAYS in table.columns:
        table[S.IDLE_DAYS] = parse_idle_days(table[S.IDLE_DAYS], path)
    for c in (S.PLAN, S.COUNTRY, S.PAYMENT_FINGERPRINT, S.ORG_ID):
        if c in table.columns:
            table[c] = table[c].astype(object).where(table[c].notna(), "").astype(str)
    table = table.drop_duplicates()
    _refuse_conflicts(table, S.ACCOUNT_ID, path, "account table", "keep one row per account")
    table = table.set_index(S.ACCOUNT_ID).sort_index()
    table.attrs[SOURCE_ATTR] = str(path)  # for messages about the table later on
    return table


def account_table(accounts: str | Path | pd.DataFrame | None) -> pd.DataFrame | None:
    """The account table an engine works with: read from a path (:func:`read_accounts`),
    or a caller's frame indexed by ``account_id`` (moved from a column to the index when
    it is one: reindexing a table keyed by row number would make every account unknown).
    """
    if accounts is None or isinstance(accounts, pd.DataFrame):
        if accounts is not None and S.ACCOUNT_ID in accounts.columns:
            accounts = accounts.set_index(accounts[S.ACCOUNT_ID].astype(str)).drop(
                columns=S.ACCOUNT_ID
            )
        return accounts
    return read_accounts(Path(accounts))


def check_account_overlap(accounts: pd.DataFrame, log_ids: pd.Index) -> None:
    """Refuse an account table that lists none of a log's accounts.

    Such a table is another population's, or its ids are spelled otherwise (numbers for
    ``acct_…`` ids): every account would silently get unknown age, plan and card, which
    moves scores. A log of fewer than :data:`OVERLAP_MIN_ACCOUNTS` accounts may
    genuinely be all new sign-ups the table has not caught up with, so it passes.
    """
    if len(log_ids) < OVERLAP_MIN_ACCOUNTS or log_ids.isin(accounts.index).any():
        return
    where = accounts.attrs.get(SOURCE_ATTR, "the account table")
    theirs = str(accounts.index[0])[:40] if len(accounts) else "none"
    raise IngestError(
        f"{where}: lists none of the log's {len(log_ids):,} accounts (its ids look like "
        f"{theirs!r}, the log's like {str(log_ids[0])[:40]!r}); pass this log's account table"
    )


def _created_at(values: pd.Series, path: Path) -> pd.Series:
    """``created_at`` as UTC instants (empty: unknown, NaT); a value that is not an
    instant is an error naming how many rows and the first."""
    parsed = parse_timestamp(values)
    bad = parsed.isna() & ~_blank(values)
    if bad.any():
        first = str(values[bad].iloc[0])[:40]
        raise IngestError(
            f"{path}: column {S.CREATED_AT}: {int(bad.sum()):,} value(s) are not a UTC "
            f"instant (first: {first!r}); fix them or leave them empty"
        )
    return parsed


def _refuse_conflicts(table: pd.DataFrame, key: str, path: Path, what: str, fix: str) -> None:
    """Refuse ``table`` (exact repeats already dropped) when a ``key`` still occurs
    more than once: its rows disagree, and keeping the first would be a silent guess."""
    twice = table[key].duplicated(keep=False)
    if not twice.any():
        return
    ids = table.loc[twice, key]
    rows = table.loc[twice].set_index(key)
    varies = rows.groupby(level=0).nunique(dropna=False).gt(1).any()
    differs = [str(c) for c in varies.index[varies.to_numpy()]]
    raise IngestError(
        f"{path}: {ids.nunique():,} account(s) appear more than once in the {what} with "
        f"different values (first: {str(ids.iloc[0])[:60]!r}; columns: "
        f"{', '.join(differs) or 'none'}); {fix}"
    )


def _blank(values: pd.Series) -> pd.Series:
    """Cells that say nothing (missing, empty, or a missing value spelled as text): an
    optional account-table value left unknown, never an error."""
    return values.isna() | values.astype(str).str.strip().isin(["", "nan", "NaN", "NaT", "None"])


def parse_idle_days(values: pd.Series, path: Path) -> pd.Series:
    """The ``idle_days`` column as float days (empty: unknown, NaN); anything else than
    a number of days at least 0 is an error naming how many rows and what to do."""
    blank = _blank(values)
    days = numbers_from_text(values.where(~blank))
    bad = (~blank & (days.isna() | (days < 0) | ~np.isfinite(days.fillna(0)))).sum()
    if bad:
        raise IngestError(
            f"{path}: column {S.IDLE_DAYS}: {bad:,} value(s) are not a number of days >= 0; "
            "give days the account was idle before the log's window, or leave it empty"
        )
    return days


def read_labels(path: Path) -> pd.DataFrame:
    """Read a labels CSV (contract 1.3), checking the label values; an account labelled
    both ``benign`` and ``extraction`` is refused (first-come would be a silent guess)."""
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
    # the same label twice (another scenario text) counts once; two labels are refused
    table = table[[S.ACCOUNT_ID, S.LABEL, S.SCENARIO]].drop_duplicates([S.ACCOUNT_ID, S.LABEL])
    _refuse_conflicts(
        table[[S.ACCOUNT_ID, S.LABEL]], S.ACCOUNT_ID, path, "labels", "give each account one label"
    )
    return table
