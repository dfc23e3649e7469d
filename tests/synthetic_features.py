"""A small synthetic feature table and its specs, shared by the model and explain tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector import schema
from detector.features.registry import FeatureSpec


def spec(name: str, unit: str, scale: str, direction: str, reason: str) -> FeatureSpec:
    """A FeatureSpec with only what the model and the explanations read."""
    return FeatureSpec(
        name=name,
        family="test",
        unit=unit,
        description=name,
        why="test",
        needs=(),
        neutral=0.0,
        scale=scale,  # type: ignore[arg-type]
        direction=direction,  # type: ignore[arg-type]
        reason=reason,
    )


SPECS = {
    "requests_per_day": spec(
        "requests_per_day", "per_day", "log", "high", "{value} requests per active day"
    ),
    "reasoning_share": spec(
        "reasoning_share", "share", "share", "high", "{value} of prompts ask for reasoning"
    ),
    "topic_entropy": spec("topic_entropy", "bits", "linear", "low", "topic entropy {value}"),
    "mean_output_tokens": spec(
        "mean_output_tokens", "tokens", "log", "both", "{value} output tokens per request"
    ),
}


def population(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` ordinary accounts: heavy-tailed volume, rare reasoning, normal topics."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "requests_per_day": rng.lognormal(3.0, 1.0, n),
            "reasoning_share": rng.beta(1.0, 12.0, n),
            "topic_entropy": rng.normal(3.0, 0.5, n),
            "mean_output_tokens": rng.lognormal(6.0, 0.4, n),
        },
        index=pd.Index([f"acct-{i:05d}" for i in range(n)], name=schema.ACCOUNT_ID),
    )


def family_population(n: int, seed: int) -> pd.DataFrame:
    """``n`` ordinary accounts over registered features of four families (volume, timing,
    content, conversation), for tests of the subspace blend's family forests."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "requests_per_day": rng.lognormal(3.0, 1.0, n),
            "hour_entropy": rng.uniform(2.0, 4.5, n),
            "reasoning_share": rng.beta(1, 20, n),
            "unread_followup_share": rng.beta(1, 15, n),
            "broad_harvest_share": rng.beta(1, 12, n),
        },
        index=pd.Index([f"acct-{i:05d}" for i in range(n)], name=schema.ACCOUNT_ID),
    )
