"""Volume: how much an account asks for, and how fast a new account gets there."""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

SPECS = [
    FeatureSpec(
        "requests_per_day",
        "volume",
        "per_day",
        "Requests per active day.",
        "Distillation and sweeps pull thousands of answers a day; most accounts send far fewer.",
        (S.TIMESTAMP,),
        0.0,
        "log",
        "high",
        "{value} requests per active day",
    ),
    FeatureSpec(
        "output_tokens_per_day",
        "volume",
        "per_day",
        "Output (completion) tokens per active day.",
        "Extraction is after the answers: output volume, not input, is what it harvests.",
        (S.OUTPUT_TOKENS,),
        0.0,
        "log",
        "high",
        "{value} output tokens per active day",
    ),
    FeatureSpec(
        "active_day_share",
        "volume",
        "share",
        "Days with at least one request, over the days of the window.",
        "Scripted pulls run every day; occasional human use does not.",
        (S.TIMESTAMP,),
        0.0,
        "share",
        "high",
        "active on {value} of the window's days",
    ),
    FeatureSpec(
        "first_day_ramp",
        "volume",
        "ratio",
        "For an account whose first request is after the window's first day: requests in "
        "its first 24 hours over its average requests per day (0 for established accounts).",
        "New extraction accounts hit full volume (often their quota) at once; real products ramp up.",
        (S.TIMESTAMP,),
        0.0,
        "linear",
        "high",
        "a new account that sent {value} its daily average in its first 24 hours",
    ),
]


@family("volume", SPECS)
def volume(b: Bucket) -> dict[str, np.ndarray]:
    """Per-account request and token volumes normalised by active days."""
    n, c = b.n, b.codes
    reqs = agg.count(c, n)
    day = b.col(A.DAY)
    active_days = agg.nunique(c, day.astype(np.uint64) + 1, n)
    days = np.maximum(active_days, 1)
    ts = b.col(A.TS)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, c, ts)
    in_first_day = ts < first[c] + 86_400
    first_day = agg.total(c, in_first_day.astype(np.float64), n)
    last = np.zeros(n, dtype=np.int64)
    np.maximum.at(last, c, ts)
    span_days = np.maximum((last - first) / 86_400, 1.0)
    is_new = first > b.context.window_start + 86_400
    ramp = np.where(is_new, first_day / np.maximum(reqs / span_days, 1e-9), 0.0)
    return {
        "requests_per_day": reqs / days,
        "output_tokens_per_day": agg.total(c, b.col(S.OUTPUT_TOKENS), n) / days,
        "active_day_share": np.minimum(active_days / b.context.window_days, 1.0),
        "first_day_ramp": np.minimum(ramp, 10.0),
    }
