"""Which flagged accounts are alerted tonight, and the ``alerts.jsonl`` they become.

``new``: flagged tonight and never alerted before, or alerted before with a ``benign``
verdict that has expired (``Config.benign_verdict_days``: the decision lapsed, the
account is judged again). ``rise``: flagged tonight and the score rose by more than
``Config.rise_margin`` -- for a confirmed account (alerted before) over its previous
score, for a cleared account (``benign``, not expired) over the score the verdict
answered. Never alerted: a suppressed account, an account covered by an active
suppression rule (:mod:`detector.rules`), a cleared account whose score did not rise,
an account alerted before that has no verdict yet (its case is still open).

"Before" is every *other* run date, later ones included: a night run out of order (a
backfill, a missed date run late) never raises again an account a later night already
raised. A re-run of a date reproduces that date's alerts (given the same verdicts,
suppressions and rules), and never retracts one: an account an earlier run of the date
published and tonight's run no longer raises (other options, a corrected log) keeps its
published alert, record for record (:func:`keep_published`). Otherwise the store would
forget it was alerted, and a later night would raise it as new a second time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.config import DEFAULT, Config
from detector.rules import covered_by_rules
from detector.safe import atomic_write_text
from detector.store import (
    ALERT_KINDS,
    ALERT_NEW,
    ALERT_RISE,
    EXPIRES,
    KIND,
    RUN_DATE,
    VERDICT,
    VERDICT_SCORE,
    Store,
)

__all__ = [
    "alert_records",
    "alerts_for_tonight",
    "counts_by_kind",
    "keep_published",
    "published_records",
    "select_alerts",
    "write_alerts",
]

PREVIOUS_SCORE: Final = "previous_score"
"""Column of the alerts frame: the account's score before tonight (NaN when none)."""
PUBLISHED_RECORD: Final = "published_record"
"""Column of the alerts frame: the ``alerts.jsonl`` object an earlier run of this date
published for an alert kept from it (:func:`keep_published`), else missing."""


def select_alerts(
    scores: pd.DataFrame,
    *,
    alerted_before: Collection[str],
    verdicts: pd.Series,
    previous: pd.Series,
    suppressed: Collection[str],
    rise_margin: float = DEFAULT.rise_margin,
    verdict_scores: pd.Series | None = None,
    expired: Collection[str] = (),
) -> pd.DataFrame:
    """Today's alerts from a score table, with set operations over whole columns.

    Parameters
    ----------
    scores : the score table (contract columns, ``band``, optional ``suppressed``).
    alerted_before : accounts alerted on an earlier run date.
    verdicts : each account's latest verdict (``extraction`` / ``benign``), by id.
    previous : each account's previous score (before this run date), by id.
    suppressed : accounts suppressed on this run date.
    rise_margin : score points a closed case must rise by to alert again.
    verdict_scores : the score each latest verdict answered, by id (NaN: unknown, the
        previous score stands in).
    expired : accounts whose latest verdict is a ``benign`` one that has expired.

    Returns
    -------
    The alerted rows of ``scores`` in rank order, with ``kind`` (``new`` / ``rise``)
    and ``previous_score`` (NaN when none).
    """
    ids = scores[S.ACCOUNT_ID]
    flagged = scores[S.FLAGGED].astype(bool) & ~ids.isin(set(suppressed))
    if S.SUPPRESSED in scores.columns:
        flagged &= ~scores[S.SUPPRESSED].astype(bool)
    before = pd.Index(list(alerted_before), dtype=object)
    judged = verdicts.dropna()
    lapsed = ids.isin(set(expired)).to_numpy()
    standing = judged[~judged.index.isin(set(expired))]
    cleared = ids.isin(standing.index[standing == S.LABEL_BENIGN]).to_numpy()
    open_cases = before.difference(judged.index)
    candidates = (flagged & ~ids.isin(open_cases)).to_numpy()
    was_alerted = ids.isin(before).to_numpy()
    score = scores[S.SCORE].to_numpy(dtype=float)
    prev = previous.reindex(ids.to_numpy()).to_numpy(dtype=float)
    answered = prev.copy()
    if verdict_scores is not None:
        given = verdict_scores.reindex(ids.to_numpy()).to_numpy(dtype=float)
        answered = np.where(np.isnan(given), prev, given)
    with np.errstate(invalid="ignore"):
        rose = (score - prev) > rise_margin
        rose_over_verdict = (score - answered) > rise_margin
    new = candidates & ~cleared & (~was_alerted | lapsed)
    rise = candidates & ~new & np.where(cleared, rose_over_verdict, was_alerted & rose)
    keep = new | rise
    out = scores.loc[keep].copy()
    out[KIND] = np.where(new[keep], ALERT_NEW, ALERT_RISE)
    out[PREVIOUS_SCORE] = prev[keep]
    return out


def _reason_list(text: str) -> list[str]:
    """A score table's ``"; "``-joined reasons as the list an alert line carries."""
    return [x for x in text.split(S.REASONS_SEPARATOR) if x]


def _empty_as_none(series: pd.Series) -> pd.Series:
    """Text with empty / missing values as ``None`` (JSON ``null``)."""
    text = series.fillna("").astype(str).astype(object)
    return text.where(text != "", None)


def alert_records(alerts: pd.DataFrame, run_date: dt.date, version: str) -> list[dict[str, Any]]:
    """``alerts.jsonl`` objects (one per alerted account; alerts are few per night).

    An alert kept from an earlier run of the date is its published object, unchanged.
    """
    if PUBLISHED_RECORD in alerts.columns:
        kept = alerts[PUBLISHED_RECORD].notna().to_numpy()
        fresh = alert_records(alerts.loc[~kept].drop(columns=PUBLISHED_RECORD), run_date, version)
        return fresh + [dict(r) for r in alerts.loc[kept, PUBLISHED_RECORD]]
    frame = pd.DataFrame(
        {
            "account_id": alerts[S.ACCOUNT_ID].astype(str),
            "score": alerts[S.SCORE].astype(float),
            "band": alerts[S.BAND].astype(str) if S.BAND in alerts else "",
            "reasons": alerts[S.REASONS].fillna("").astype(str).map(_reason_list),
            "cluster_id": _empty_as_none(alerts[S.CLUSTER_ID]),
            "kind": alerts[KIND].astype(str),
            "run_date": run_date.isoformat(),
            "model_version": version,
            "previous_score": alerts[PREVIOUS_SCORE].astype(float).round(2),
        }
    )
    records = frame.to_dict("records")
    for record in records:  # NaN is not JSON
        if record["previous_score"] != record["previous_score"]:
            record["previous_score"] = None
    return records


def alerts_for_tonight(
    store: Store,
    scores: pd.DataFrame,
    day: dt.date,
    suppressed: Collection[str],
    rise_margin: float,
    *,
    accounts: pd.DataFrame | None = None,
    log_rows: Callable[[list[str]], pd.DataFrame] | None = None,
    config: Config = DEFAULT,
    published: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[pd.DataFrame, int]:
    """:func:`select_alerts` against the store, then the active suppression rules, then
    the alerts an earlier run of ``day`` published (:func:`keep_published`).

    Returns tonight's alerts and how many would-be alerts a rule kept quiet. Verdict
    expiry is judged on ``day``; rules active on ``day`` apply (``accounts`` is the
    account table for org and card rules, ``log_rows`` the accounts' requests for
    user-agent and template patterns). ``published`` is the date's ``alerts.jsonl``
    as an earlier run wrote it (:func:`published_records`), by account.
    """
    before = store.alerted_on_other_dates(day)
    details = store.verdict_details(latest=True).set_index(S.ACCOUNT_ID)
    expires = details[EXPIRES].astype(object)
    expired = details.index[expires.notna() & (expires.astype(str) < day.isoformat())]
    alerts = select_alerts(
        scores,
        alerted_before=before.astype(str).tolist(),
        verdicts=details[VERDICT],
        previous=store.previous_scores(day),
        suppressed=suppressed,
        rise_margin=rise_margin,
        verdict_scores=pd.to_numeric(details[VERDICT_SCORE], errors="coerce"),
        expired=expired.tolist(),
    )
    rules = store.rules_frame(day)
    by_rules = 0
    if not alerts.empty and not rules.empty:
        covered = covered_by_rules(alerts, rules, accounts, log_rows, config) > 0
        alerts, by_rules = alerts.loc[~covered.to_numpy()], int(covered.sum())
    return keep_published(alerts, store.alerts_frame(day), published or {}), by_rules


def keep_published(
    alerts: pd.DataFrame, earlier: pd.DataFrame, records: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """Tonight's ``alerts`` and every alert of this date an earlier run published
    (``earlier``: the store's rows of the date) that tonight did not raise again.

    A published alert is never retracted: downstream has seen it, and the store must
    keep knowing the account was alerted. A kept alert is the object the earlier run
    wrote (``records``, by account), or, when that file is gone, rebuilt from the
    store's row (no cluster, previous score or model version). Kept alerts follow
    tonight's, by account id.
    """
    gone = earlier[~earlier[S.ACCOUNT_ID].astype(str).isin(alerts[S.ACCOUNT_ID].astype(str))]
    if gone.empty:
        return alerts
    run_date = str(gone[RUN_DATE].iloc[0])
    kept = pd.DataFrame(
        {
            S.ACCOUNT_ID: gone[S.ACCOUNT_ID].astype(str).to_numpy(),
            S.SCORE: pd.to_numeric(gone[S.SCORE], errors="coerce").to_numpy(),
            S.BAND: gone[S.BAND].fillna("").astype(str).to_numpy(),
            S.REASONS: gone[S.REASONS].fillna("").astype(str).to_numpy(),
            KIND: gone[KIND].astype(str).to_numpy(),
            S.CLUSTER_ID: "",
        }
    )
    kept[PUBLISHED_RECORD] = [
        dict(records.get(a) or _stored_record(row, run_date))
        for a, row in zip(kept[S.ACCOUNT_ID], kept.to_dict("records"), strict=True)
    ]
    return pd.concat([alerts, kept], ignore_index=True)


def _stored_record(row: Mapping[str, Any], run_date: str) -> dict[str, Any]:
    """An ``alerts.jsonl`` object rebuilt from the store's row of a published alert."""
    reasons = str(row[S.REASONS])
    return {
        "account_id": row[S.ACCOUNT_ID],
        "score": None if pd.isna(row[S.SCORE]) else float(row[S.SCORE]),
        "band": row[S.BAND],
        "reasons": _reason_list(reasons),
        "cluster_id": None,
        "kind": row[KIND],
        "run_date": run_date,
        "model_version": None,
        "previous_score": None,
    }


def published_records(path: Path) -> dict[str, dict[str, Any]]:
    """The objects of an ``alerts.jsonl`` an earlier run of the date wrote, by account
    (empty when there is none). A line that is not a JSON object naming an account is
    skipped: the store's row stands in for it (:func:`keep_published`)."""
    if not path.is_file():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("account_id"), str):
            out[record["account_id"]] = record
    return out


def counts_by_kind(alerts: pd.DataFrame) -> dict[str, int]:
    """How many alerts of each kind (every kind present, zero when none)."""
    kinds = alerts[KIND].value_counts()
    return {kind: int(kinds.get(kind, 0)) for kind in ALERT_KINDS}


def write_alerts(path: Path, records: list[dict[str, Any]]) -> None:
    """``alerts.jsonl``: one JSON object per line, written atomically."""
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
