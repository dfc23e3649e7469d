"""Reading the log for a few accounts: hourly and daily counts and sample prompts
(shared with ``detector explain``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detector import schema as S
from detector.config import DEFAULT, Config
from detector.errors import UserError
from detector.ingest import read_account_rows
from detector.pipeline import Progress
from detector.report.constants import (
    MAX_DAILY_SPAN_DAYS,
    PROGRESS_STAGE,
    SAMPLE_CHARS,
    SAMPLE_PROMPTS,
    SPARK_BLOCKS,
)

# --- reading the log: activity of a few accounts -------------------------------------------


@dataclass
class Activity:
    """What the log says about a handful of accounts (the flagged ones).

    Attributes
    ----------
    hourly : requests per UTC hour of day; index ``account_id``, columns ``0..23``.
    daily : requests per UTC day; index ``account_id``, one column per day (midnight
        UTC timestamps, contiguous from the first to the last day seen).
    samples : up to :data:`SAMPLE_PROMPTS` distinct prompts per account, in log order,
        cut to :data:`SAMPLE_CHARS` + 1 characters (so :func:`truncate` can tell a cut).
    has_prompts : whether the log has a ``prompt`` column at all.
    """

    hourly: pd.DataFrame
    daily: pd.DataFrame
    samples: dict[str, list[str]] = field(default_factory=dict)
    has_prompts: bool = False

    def requests(self, account_id: str) -> int:
        """Requests of ``account_id`` in the log window (0 if none)."""
        if account_id not in self.hourly.index:
            return 0
        return int(self.hourly.loc[account_id].sum())


def account_activity(
    log: Path | Sequence[Path],
    accounts: Iterable[str],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    max_samples: int = SAMPLE_PROMPTS,
    sample_chars: int = SAMPLE_CHARS,
    config: Config = DEFAULT,
    progress: Progress | None = None,
) -> Activity:
    """Hourly and daily request counts and sample prompts of ``accounts`` in ``log``.

    Streams the log chunk by chunk and keeps only the wanted accounts' rows, validated
    and deduplicated exactly as scoring saw them (:func:`detector.ingest.
    read_account_rows`: only their rows are screened), so memory is bounded by the
    chunk size plus a few counts per account, whatever the log's size. Nothing is
    quarantined here; invalid rows are skipped as scoring skipped them.
    ``progress(stage, rows)`` is called once per chunk read.
    """
    wanted = list(pd.unique(pd.Series(list(accounts), dtype=object)))
    has_prompts = False

    def seen(rows: int, columns: Collection[str]) -> None:
        nonlocal has_prompts
        has_prompts = has_prompts or S.PROMPT in columns
        if progress is not None:
            progress(PROGRESS_STAGE, rows)

    samples = _Samples(max_samples, sample_chars)

    def fold(chunks: Iterable[pd.DataFrame]) -> Activity:
        samples.clear()  # a re-run over the full read starts afresh
        return _activity(chunks, samples)

    def wants_prompts() -> bool:
        return not samples.complete(wanted)

    if not wanted:
        return fold([])
    activity = read_account_rows(
        log,
        wanted,
        fold,
        start=start,
        end=end,
        config=config,
        seen=seen,
        wants_prompts=wants_prompts,
    )
    activity.has_prompts = has_prompts  # whether the log has prompts, anyone's
    return activity


class _Samples:
    """Up to ``max_samples`` distinct non-blank prompts per account, in log order, each
    cut to ``sample_chars`` + 1 characters."""

    def __init__(self, max_samples: int, sample_chars: int) -> None:
        self.max_samples, self.sample_chars = max_samples, sample_chars
        self.clear()

    def clear(self) -> None:
        """Forget every sample."""
        self.frame = pd.DataFrame({S.ACCOUNT_ID: pd.Series(dtype=object), S.PROMPT: []})

    def add(self, acct: np.ndarray, prompts: pd.Series) -> None:
        """Take the first new prompts of a chunk (``acct``: each row's account)."""
        text = prompts.astype(object)
        keep = text.notna().to_numpy() & (text.astype(str).str.strip() != "").to_numpy()
        part = pd.DataFrame(
            {S.ACCOUNT_ID: acct[keep], S.PROMPT: text[keep].astype(str).to_numpy()}
        ).drop_duplicates()
        part[S.PROMPT] = part[S.PROMPT].str.slice(0, self.sample_chars + 1)
        self.frame = (
            pd.concat([self.frame, part.groupby(S.ACCOUNT_ID, sort=False).head(self.max_samples)])
            .drop_duplicates()
            .groupby(S.ACCOUNT_ID, sort=False)
            .head(self.max_samples)
        )

    def complete(self, accounts: Sequence[str]) -> bool:
        """Whether every one of ``accounts`` has all its samples: later rows cannot
        change them, so their prompts need not be read."""
        have = self.frame[S.ACCOUNT_ID].value_counts()
        return bool((have.reindex(list(accounts), fill_value=0) >= self.max_samples).all())

    def by_account(self) -> dict[str, list[str]]:
        """The samples, account by account."""
        return {
            str(a): [str(p) for p in g[S.PROMPT]]
            for a, g in self.frame.groupby(S.ACCOUNT_ID, sort=False)  # one group per account
        }


def _activity(chunks: Iterable[pd.DataFrame], samples: _Samples) -> Activity:
    """Fold clean chunks of the wanted accounts' rows into their :class:`Activity`."""
    hourly_parts: list[pd.Series] = []
    daily_parts: list[pd.Series] = []
    for chunk in chunks:
        acct = chunk[S.ACCOUNT_ID].astype(object).to_numpy()
        ts = chunk[S.TIMESTAMP]
        hourly_parts.append(pd.Series(1, index=[acct, ts.dt.hour.to_numpy()]))
        day = ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize().to_numpy()
        daily_parts.append(pd.Series(1, index=[acct, day]))
        # aggregate each chunk at once so memory stays at accounts × (24 + days)
        hourly_parts = [pd.concat(hourly_parts).groupby(level=[0, 1]).sum()]
        daily_parts = [pd.concat(daily_parts).groupby(level=[0, 1]).sum()]
        if S.PROMPT in chunk.columns:
            samples.add(acct, chunk[S.PROMPT])
    hourly = _unstack(hourly_parts, columns=range(24))
    days: pd.DatetimeIndex | None = None
    if daily_parts and len(daily_parts[0]):
        seen = daily_parts[0].index.get_level_values(1)
        days = pd.DatetimeIndex(seen.unique()).sort_values()
        if (seen.max() - seen.min()).days < MAX_DAILY_SPAN_DAYS:  # else only the days seen
            days = pd.date_range(seen.min(), seen.max(), freq="D")
    daily = _unstack(daily_parts, columns=days if days is not None else [])
    return Activity(hourly=hourly, daily=daily, samples=samples.by_account())


def require_activity(
    activity: Activity,
    accounts: Sequence[str],
    log: Path | Sequence[Path],
    start: dt.date | None,
    end: dt.date | None,
) -> None:
    """Fail when ``log`` has no request of any of ``accounts`` between ``start`` and ``end``.

    Every scored account made requests in the scored window, so a log in which none of
    them appears is not the log the scores came from (or the window is wrong): the
    report would show empty activity as if that were a finding.
    """
    if not len(accounts) or int(activity.hourly.to_numpy().sum()) > 0:
        return
    window = f" between {start or 'the first day'} and {end or 'the last day'}"
    raise UserError(
        f"--log {log}: no request from any of the {len(accounts):,} scored account(s) "
        f"looked up{window}; give the log these scores were made from (or fix --start/--end)"
    )


def _unstack(parts: list[pd.Series], columns: Iterable[Any]) -> pd.DataFrame:
    """A (account, key) → count series as an account × key frame with all ``columns``."""
    cols = list(columns)
    if not parts or not len(parts[0]):
        frame = pd.DataFrame(columns=cols, dtype=np.int64)
        frame.index.name = S.ACCOUNT_ID
        return frame
    frame = parts[0].unstack(fill_value=0).reindex(columns=cols, fill_value=0).astype(np.int64)
    frame.index.name = S.ACCOUNT_ID
    return frame


def sparkline(counts: Sequence[float]) -> str:
    """Unicode block sparkline (``▁▂▃▄▅▆▇█``); zero is ``▁``, any activity at least ``▂``."""
    values = np.asarray(counts, dtype=float)
    top = values.max() if len(values) else 0.0
    if top <= 0:
        return SPARK_BLOCKS[0] * len(values)
    levels = np.where(values > 0, np.clip(np.ceil(values / top * 7 - 1e-9), 1, 7), 0).astype(int)
    return "".join(SPARK_BLOCKS[i] for i in levels)
