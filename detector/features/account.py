"""Account: facts from the optional account table."""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

ESTABLISHED_DAYS = 365.0
NEW_ACCOUNT_DAYS = 14.0
"""An account under this many days old at its first request in the window is new (and a
request sent before its account was this old was sent while it was new)."""
DORMANT_DAYS = 30.0
"""An account idle this many days before the window (``idle_days``) that starts inside it
switched on, as a new one does (:func:`detector.coordination.tokens.activations`)."""

SPECS = [
    FeatureSpec(
        name="account_age_days",
        family="account",
        unit="days",
        description="Days from the account's creation to its first request in the window "
        "(365 when the account table or created_at is missing for it).",
        why="Extraction burns fresh accounts; real products are established.",
        needs=(S.CREATED_AT,),
        neutral=ESTABLISHED_DAYS,
        scale="log",
        direction="low",
        reason="account only {value} old at its first request",
    ),
]


def age_at_first_request(b: Bucket) -> np.ndarray | None:
    """Per account: days from its creation to its first request in the window; NaN where
    the account table has no ``created_at`` for it, ``None`` without that column."""
    created = b.creation_seconds
    if created is None:
        return None
    first = np.full(b.n, np.iinfo(np.int64).max)
    np.minimum.at(first, b.codes, b.col(A.TS))
    return (first - created) / 86_400.0


def sent_while_new(b: Bucket) -> np.ndarray | None:
    """Per request: whether its account was under :data:`NEW_ACCOUNT_DAYS` old when it was
    sent; False where the account table has no ``created_at`` for it (unknown is not
    new), ``None`` without that column."""
    created = b.creation_seconds
    if created is None:
        return None
    age_days = (b.col(A.TS) - created[b.codes]) / 86_400.0
    return np.nan_to_num(age_days, nan=np.inf) < NEW_ACCOUNT_DAYS


@family("account", SPECS)
def account(b: Bucket) -> dict[str, np.ndarray]:
    """Account age at first request."""
    age = age_at_first_request(b)
    if age is None:
        return {}
    return {"account_age_days": np.clip(np.where(np.isnan(age), ESTABLISHED_DAYS, age), 0.0, None)}
