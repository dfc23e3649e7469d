"""Timing: scripted traffic is regular, flat over the day and never sleeps."""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

_T = (S.TIMESTAMP,)
MIN_DAYS_FOR_WEEKLY = 4  # a weekly rhythm needs several active days to be measured

SPECS = [
    FeatureSpec(
        name="interarrival_cv",
        family="timing",
        unit="ratio",
        description="Coefficient of variation of the gaps between consecutive requests (gaps over 6 h "
        "excluded). Neutral 1 (a Poisson process) under 5 requests.",
        why="A script with a fixed pace has near-constant gaps (CV well under 1); people are bursty (CV over 1).",
        needs=_T,
        neutral=1.0,
        scale="linear",
        direction="low",
        reason="inter-arrival variation of only {value} (machine-regular pacing)",
    ),
    FeatureSpec(
        name="burstiness",
        family="timing",
        unit="ratio",
        description="Busiest minute's requests over the mean requests per active minute.",
        why="Bursty sessions (probing, interactive use) versus the flat stream of a paced script.",
        needs=_T,
        neutral=1.0,
        scale="log",
        direction="both",
        reason="busiest minute {value} times the typical active minute",
    ),
    FeatureSpec(
        name="hour_entropy",
        family="timing",
        unit="bits",
        description="Entropy of the hour-of-day distribution (max 4.58 bits = perfectly flat).",
        why="Round-the-clock scripts spread evenly over 24 hours; people follow a day.",
        needs=_T,
        neutral=0.0,
        scale="linear",
        direction="high",
        reason="hour-of-day entropy {value} (flat, round-the-clock)",
    ),
    FeatureSpec(
        name="quiet_hours_share",
        family="timing",
        unit="share",
        description="Share of requests in the account's own quietest 6-hour window of the day.",
        why="Humans and products serving one region sleep; extraction scripts keep running.",
        needs=_T,
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of requests fall in its own quietest 6 hours",
    ),
    FeatureSpec(
        name="weekend_ratio",
        family="timing",
        unit="ratio",
        description="Requests per weekend day over requests per weekday (1 when the window lacks either "
        "or the account was active on fewer than 4 days).",
        why="Business traffic dips at weekends; a script does not notice them.",
        needs=_T,
        neutral=1.0,
        scale="linear",
        direction="both",
        reason="weekend rate {value} of the weekday rate",
    ),
    FeatureSpec(
        name="hourly_coverage_vs_volume",
        family="timing",
        unit="ratio",
        description="Share of the hours between its first and last request that have a request, "
        "over the share its requests would fill if thrown at random into those hours "
        "(1 - exp(-requests / hours)); 0 when that span is under a day.",
        why="24/7 coverage: an extraction job fills every hour of its lifetime. A busy account "
        "fills most hours whatever it does, and people bunch their requests into sessions: "
        "judged against what its volume explains, a big product is not round-the-clock for "
        "being big (the raw share ranked 24/7 products by size; docs/realistic-baseline.md, "
        "session 18).",
        needs=_T,
        neutral=0.0,
        scale="linear",
        direction="high",
        reason="active in {value}× the hours its volume would fill at random",
    ),
]


def weekend_and_week_days(first_day: int, last_day: int) -> tuple[int, int]:
    """Saturdays+Sundays and other days among epoch days ``first_day..last_day``.

    Arithmetic, not a day-by-day array: a log spanning centuries (a stray row from
    1677) must not allocate by its span. Epoch day 0 (1970-01-01) was a Thursday.
    """
    total = max(0, last_day - first_day + 1)
    weeks, rest = divmod(total, 7)
    weekday0 = (first_day + 3) % 7  # Monday = 0
    tail = sum(1 for k in range(rest) if (weekday0 + k) % 7 >= 5)
    weekend = 2 * weeks + tail
    return weekend, total - weekend


@family("timing", SPECS)
def timing(b: Bucket) -> dict[str, np.ndarray]:
    """Regularity, burstiness and daily rhythm per account."""
    n, c = b.n, b.codes
    ts = b.col(A.TS)
    reqs = agg.count(c, n)
    enough = reqs >= b.context.config.min_requests_for_timing

    order = np.lexsort((ts, c))
    cs, tss = c[order], ts[order]
    gap = np.diff(tss).astype(np.float64)
    same = cs[1:] == cs[:-1]
    use = same & (gap <= 6 * 3600)
    gap_c = cs[1:][use]
    g = gap[use]
    m = agg.mean(gap_c, g, n, np.nan)
    s = agg.std(gap_c, g, n, np.nan)
    cv = np.where(enough & (m > 0), s / np.where(m > 0, m, 1), 1.0)
    cv = np.where(np.isnan(cv), 1.0, cv)

    minute = ts // 60
    pc, cnt = agg.pair_codes_and_counts(c, minute.astype(np.uint64) + 1)
    peak = np.zeros(n)
    np.maximum.at(peak, pc, cnt)
    active_minutes = np.bincount(pc, minlength=n)
    burst = np.where(enough, peak / np.maximum(reqs / np.maximum(active_minutes, 1), 1e-9), 1.0)

    hours = agg.bin_matrix(c, b.col(A.HOUR), n, 24)
    ent = np.where(enough, agg.entropy_of_bins(hours), 0.0)
    w = b.context.config.quiet_window_hours
    rolled = sum(np.roll(hours, -k, axis=1) for k in range(w))  # circular 6-hour windows
    quiet = np.where(enough, rolled.min(axis=1) / np.maximum(reqs, 1), 0.0)

    weekday = b.col(A.WEEKDAY)
    weekend = weekday >= 5
    n_weekend_days, n_week_days = weekend_and_week_days(
        b.context.window_start // 86_400, b.context.window_end // 86_400
    )
    we = agg.total(c, weekend.astype(float), n)
    wd = reqs - we
    if n_weekend_days and n_week_days:
        ratio = (we / n_weekend_days) / np.maximum(wd / n_week_days, 1e-9)
        steady = enough & (wd > 0) & (b.active_days >= MIN_DAYS_FOR_WEEKLY)
        ratio = np.where(steady, np.minimum(ratio, 10.0), 1.0)
    else:
        ratio = np.ones(n)

    hour_index = (ts // 3600).astype(np.uint64) + 1
    active_hours = agg.nunique(c, hour_index, n)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, c, ts)
    last = np.zeros(n, dtype=np.int64)
    np.maximum.at(last, c, ts)
    lifetime_hours = (last // 3600 - first // 3600) + 1
    span = np.maximum(lifetime_hours, 1)
    # requests thrown at random into the lifetime's hours fill 1 - e^(-requests/hours)
    at_random = -np.expm1(-reqs / span)
    coverage = np.where(
        enough & (lifetime_hours >= 24), (active_hours / span) / np.maximum(at_random, 1e-9), 0.0
    )
    return {
        "interarrival_cv": np.minimum(cv, 20.0),
        "burstiness": burst,
        "hour_entropy": ent,
        "quiet_hours_share": quiet,
        "weekend_ratio": ratio,
        "hourly_coverage_vs_volume": coverage,
    }
