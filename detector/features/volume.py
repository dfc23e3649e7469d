"""Volume: how much an account asks for, and how fast a new account gets there."""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.account import NEW_ACCOUNT_DAYS, age_at_first_request
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

SPECS = [
    FeatureSpec(
        name="requests_per_day",
        family="volume",
        unit="per_day",
        description="Requests per active day.",
        why="Distillation and sweeps pull thousands of answers a day; most accounts send far fewer.",
        needs=(S.TIMESTAMP,),
        neutral=0.0,
        scale="log",
        direction="high",
        reason="{value} requests per active day",
    ),
    FeatureSpec(
        name="output_tokens_per_day",
        family="volume",
        unit="per_day",
        description="Output (completion) tokens per active day.",
        why="Extraction is after the answers: output volume, not input, is what it harvests.",
        needs=(S.OUTPUT_TOKENS,),
        neutral=0.0,
        scale="log",
        direction="high",
        reason="{value} output tokens per active day",
    ),
    FeatureSpec(
        name="active_day_share",
        family="volume",
        unit="share",
        description="Days with at least one request, over the days of the window.",
        why="Scripted pulls run every day; occasional human use does not.",
        needs=(S.TIMESTAMP,),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="active on {value} of the window's days",
    ),
    FeatureSpec(
        name="first_day_ramp",
        family="volume",
        unit="ratio",
        description="For an account whose first request is after the window's first day (and, "
        f"with created_at, that was under {NEW_ACCOUNT_DAYS:g} days old then): requests in its "
        "first 24 hours over its average requests per day (0 for established accounts).",
        why="New extraction accounts hit full volume (often their quota) at once; real products ramp up.",
        needs=(S.TIMESTAMP,),
        neutral=0.0,
        scale="linear",
        direction="high",
        reason="a new account that sent {value} its daily average in its first 24 hours",
    ),
]


def active_day_share(b: Bucket) -> np.ndarray:
    """Per account: its active days over the window's days, at most 1."""
    return np.minimum(b.active_days / b.context.window_days, 1.0)


@family("volume", SPECS)
def volume(b: Bucket) -> dict[str, np.ndarray]:
    """Per-account request and token volumes normalised by active days."""
    n, c = b.n, b.codes
    reqs = agg.count(c, n)
    days = np.maximum(b.active_days, 1)
    ts = b.col(A.TS)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, c, ts)
    in_first_day = ts < first[c] + 86_400
    first_day = agg.total(c, in_first_day.astype(np.float64), n)
    last = np.zeros(n, dtype=np.int64)
    np.maximum.at(last, c, ts)
    span_days = np.maximum((last - first) / 86_400, 1.0)
    # new: first seen after the window's first day and, where the account table says
    # when it was created, created at most NEW_ACCOUNT_DAYS before that (an established
    # account that starts a monthly suite mid-window is not a fresh account)
    is_new = first > b.context.window_start + 86_400
    age = age_at_first_request(b)
    if age is not None:
        is_new &= np.isnan(age) | (age < NEW_ACCOUNT_DAYS)  # NaN: creation unknown
    ramp = np.where(is_new, first_day / np.maximum(reqs / span_days, 1e-9), 0.0)
    return {
        "requests_per_day": reqs / days,
        "output_tokens_per_day": agg.total(c, b.col(S.OUTPUT_TOKENS), n) / days,
        "active_day_share": active_day_share(b),
        "first_day_ramp": np.minimum(ramp, 10.0),
    }
