"""Account: facts from the optional account table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector import annotate as A
from detector import schema as S
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

ESTABLISHED_DAYS = 365.0

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


@family("account", SPECS)
def account(b: Bucket) -> dict[str, np.ndarray]:
    """Account age at first request."""
    table = b.context.accounts
    if table is None or S.CREATED_AT not in table.columns:
        return {}
    n, c = b.n, b.codes
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, c, b.col(A.TS))
    created = table[S.CREATED_AT].reindex(pd.Index(b.account_ids))
    created_s = created.astype("int64").to_numpy() // 1_000_000_000
    known = created.notna().to_numpy()
    age = np.where(known, (first - created_s) / 86_400.0, ESTABLISHED_DAYS)
    return {"account_age_days": np.clip(age, 0.0, None)}
