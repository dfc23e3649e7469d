"""Context an analyst expects next to a score: actual vs typical, who the account is,
what was decided about it, and how its score moved over the nightly runs.

* **Actual vs typical** -- each feature's value beside the population median and the
  median of the account's peers, peers being the accounts of the same plan (from the
  account table): a translation pipeline on ``scale`` is compared with other ``scale``
  customers, not with hobbyists. Medians are computed once per column over the whole
  feature table (vectorised), not per account.
* **Metadata** -- plan, country, created, org, card from the account table.
* **Decisions** -- every verdict (with the score it answered and its expiry), every
  suppression (lifted ones too), the alerts, and the rules that cover the account by id.
* **Score history** -- the account's score per nightly run, with a sparkline on the
  fixed 0-100 scale (so two accounts' lines compare).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.casefile import plain
from detector.store import RUN_DATE, Store

__all__ = [
    "SPARK_BLOCKS",
    "account_metadata",
    "actual_vs_typical",
    "decision_history",
    "score_history",
    "score_sparkline",
]

SPARK_BLOCKS: Final = "▁▂▃▄▅▆▇█"
METADATA_COLUMNS: Final[tuple[str, ...]] = (
    S.PLAN,
    S.COUNTRY,
    S.CREATED_AT,
    S.ORG_ID,
    S.PAYMENT_FINGERPRINT,
)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def score_sparkline(scores: Sequence[float]) -> str:
    """One block per score on the fixed 0-100 scale (``▁`` up to 12.5, ``█`` from 87.5)."""
    values = np.clip(np.asarray(scores, dtype=float), 0.0, 100.0)
    levels = np.clip(np.floor(values / 12.5), 0, 7).astype(int)
    return "".join(SPARK_BLOCKS[i] for i in levels)


def account_metadata(accounts: pd.DataFrame | None, account_id: str) -> dict[str, Any] | None:
    """Plan, country, created, org and card of one account (``None`` without a table)."""
    if accounts is None:
        return None
    if account_id not in accounts.index:
        return {"in_account_table": False}
    row = accounts.loc[account_id]
    out: dict[str, Any] = {"in_account_table": True}
    for column in METADATA_COLUMNS:
        if column in accounts.columns:
            value = plain(row[column])
            out[column] = value.isoformat() if isinstance(value, pd.Timestamp) else value
    return out


def actual_vs_typical(
    features: pd.DataFrame,
    account_id: str,
    names: Sequence[str],
    accounts: pd.DataFrame | None,
) -> dict[str, Any]:
    """Each feature of ``names``: the account's value, the population and peer medians.

    ``features`` is the scored feature table (indexed by account id); peers are the
    accounts of the same plan in ``accounts`` (none without a table or a plan).
    """
    columns = [n for n in names if n in features.columns]
    table = features[columns].astype(float)
    population = table.median()
    plan = None
    peers = pd.Series(np.nan, index=columns)
    n_peers = 0
    if accounts is not None and S.PLAN in accounts.columns and account_id in accounts.index:
        plan = str(accounts.at[account_id, S.PLAN]) or None
        if plan is not None:
            same = accounts.index[accounts[S.PLAN].astype(str) == plan]
            peer_rows = table.loc[table.index.intersection(same)]
            n_peers = len(peer_rows)
            peers = peer_rows.median()
    actual = table.loc[account_id]
    rows = pd.DataFrame(
        {
            "feature": columns,
            "actual": actual.to_numpy(),
            "population_median": population.to_numpy(),
            "peer_median": peers.reindex(columns).to_numpy(),
        }
    )
    return {
        "peer_group": None if plan is None else {"plan": plan, "accounts": n_peers},
        "population": len(table),
        "features": _records(rows.round(4)),
    }


def score_history(store: Store, account_id: str) -> dict[str, Any]:
    """The account's score per nightly run, oldest first, and its sparkline."""
    runs = store.score_timeline([account_id])
    rows = runs[[RUN_DATE, S.SCORE, S.FLAGGED, S.CASE_ID, S.CASE_SCORE, S.BAND]]
    return {
        "account_id": account_id,
        "runs": _records(rows),
        "sparkline": score_sparkline(runs[S.SCORE].to_numpy(dtype=float)),
    }


def decision_history(
    store: Store, account_id: str, accounts: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Verdicts, suppressions (lifted too), alerts, and the rules naming the account, one
    of its cases, or (with the account table ``accounts``) its org or card."""
    verdicts = store.verdict_details()
    suppressions = store.suppressions_frame(include_lifted=True)
    alerts = store.alerts_frame()
    rules = store.rules_frame(include_removed=True)
    cases = store.score_timeline([account_id])[S.CASE_ID].unique().tolist()
    names = {"account": [account_id], "case": cases}
    if accounts is not None and account_id in accounts.index:
        for field, column in (("org", S.ORG_ID), ("card", S.PAYMENT_FINGERPRINT)):
            if column in accounts.columns and accounts.at[account_id, column]:
                names[field] = [str(accounts.at[account_id, column])]
    named = rules[
        pd.concat(
            [(rules["field"] == f) & rules["value"].isin(v) for f, v in names.items()], axis=1
        ).any(axis=1)
    ]
    return {
        "verdicts": _records(verdicts[verdicts[S.ACCOUNT_ID] == account_id]),
        "suppressions": _records(suppressions[suppressions[S.ACCOUNT_ID] == account_id]),
        "alerts": _records(
            alerts.loc[alerts[S.ACCOUNT_ID] == account_id, [RUN_DATE, S.SCORE, S.BAND, "kind"]]
        ),
        "rules": _records(named),
    }
