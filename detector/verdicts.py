"""Where labels for learning come from, and a record of which labels were used.

Two sources give the same table (``account_id, label, decided_at``):

* a labels CSV (contract 1.3: ``account_id,label[,scenario]``), e.g. from an
  investigation or a red-team exercise; it carries no dates, so ``decided_at`` is empty;
* the analysts' verdicts in a state store (``detector label``): each account's
  **latest** verdict, so a changed mind wins, and verdicts older than
  ``Config.verdict_max_age_days`` are **expired** and left out, because accounts
  change hands and behaviour (a customer cleared a year ago is not evidence today).

:func:`provenance` is what a model bundle records about the labels it learned from:
how many of each class, the date range of the decisions, and the SHA-256 of the sorted
``(account_id, label)`` pairs, so two bundles can be shown to have learned from the
same verdicts without storing a second copy of them in the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.config import DEFAULT

if TYPE_CHECKING:
    from detector.store import Store

__all__ = [
    "DECIDED_AT",
    "current_verdicts",
    "labels_from_csv",
    "labels_from_store",
    "new_verdicts_since",
    "provenance",
]

DECIDED_AT: Final = "decided_at"
"""When the label was decided (UTC ISO instant); empty for labels read from a CSV."""
LABEL_COLUMNS: Final = (S.ACCOUNT_ID, S.LABEL, DECIDED_AT)


def labels_from_csv(path: Path) -> pd.DataFrame:
    """Labels from a contract 1.3 CSV, as ``account_id, label, decided_at`` (empty)."""
    from detector.ingest import read_labels

    table = read_labels(Path(path))
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: table[S.ACCOUNT_ID].astype(str).to_numpy(dtype=object),
            S.LABEL: table[S.LABEL].astype(str).to_numpy(dtype=object),
            DECIDED_AT: "",
        },
        columns=list(LABEL_COLUMNS),
    )


def labels_from_store(
    state: Path,
    *,
    on: dt.date | None = None,
    max_age_days: int | None = DEFAULT.verdict_max_age_days,
) -> pd.DataFrame:
    """The analysts' current verdicts: latest per account, expired ones left out.

    Parameters
    ----------
    state : the state directory (``--state``); it must already hold a store
        (:class:`~detector.store.StoreError` otherwise).
    on, max_age_days : see :func:`current_verdicts`.

    Returns
    -------
    DataFrame ``account_id, label, decided_at``, sorted by account.
    """
    from detector.store import Store

    with Store.open(Path(state)) as store:  # a missing store is an error, never created
        return current_verdicts(store, on=on, max_age_days=max_age_days)


def current_verdicts(
    store: Store,
    *,
    on: dt.date | None = None,
    max_age_days: int | None = DEFAULT.verdict_max_age_days,
) -> pd.DataFrame:
    """Each account's latest verdict in an open store, expired ones left out.

    Parameters
    ----------
    store : an open :class:`~detector.store.Store`.
    on : the day the labels are wanted for (default today, UTC); a verdict recorded
        more than ``max_age_days`` days before it is expired.
    max_age_days : see :attr:`detector.config.Config.verdict_max_age_days`; ``None``
        keeps every latest verdict, however old (for display).

    Returns
    -------
    DataFrame ``account_id, label, decided_at``, sorted by account.
    """
    from detector.store import VERDICT

    latest = store.latest_verdicts()
    current = latest
    if max_age_days is not None:
        day = on or dt.datetime.now(dt.UTC).date()
        decided = pd.to_datetime(latest[S.CREATED_AT], utc=True, format="ISO8601")
        cutoff = pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=max_age_days)
        current = latest[(decided >= cutoff).to_numpy()]
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: current[S.ACCOUNT_ID].astype(str).to_numpy(dtype=object),
            S.LABEL: current[VERDICT].astype(str).to_numpy(dtype=object),
            DECIDED_AT: current[S.CREATED_AT].astype(str).to_numpy(dtype=object),
        },
        columns=list(LABEL_COLUMNS),
    )


def new_verdicts_since(store: Store, since: str) -> int:
    """Accounts given a verdict after ``since`` (an ISO instant, e.g. a model's training).

    Counts accounts, not verdicts: an analyst changing their mind twice about one account
    teaches the layer about one account.
    """
    history = store.verdict_history()
    decided = pd.to_datetime(history[S.CREATED_AT], utc=True, format="ISO8601")
    after = decided > pd.to_datetime(since, utc=True)
    return int(history.loc[after.to_numpy(), S.ACCOUNT_ID].nunique())


def provenance(labels: pd.DataFrame, source: str) -> dict[str, Any]:
    """What a bundle records about the labels it learned from (plain JSON data).

    Parameters
    ----------
    labels : ``account_id, label`` and optionally ``decided_at`` — the labels actually
        used (those of accounts in the training population).
    source : where they came from, e.g. ``"labels.csv"`` or ``"state:/var/lib/detector"``.

    Returns
    -------
    ``source``, ``n_labels``, ``n_extraction``, ``n_benign``, ``decided_from`` and
    ``decided_to`` (ISO instants, ``None`` when the labels carry no dates) and
    ``pairs_sha256``: SHA-256 of the sorted ``account_id<TAB>label`` lines, joined with
    newlines, UTF-8.
    """
    kinds = labels[S.LABEL].astype(str)
    pairs = np.sort((labels[S.ACCOUNT_ID].astype(str) + "\t" + kinds).to_numpy(dtype=str))
    digest = hashlib.sha256("\n".join(pairs.tolist()).encode("utf-8")).hexdigest()
    dates = labels[DECIDED_AT].astype(str) if DECIDED_AT in labels.columns else pd.Series([])
    dates = dates[dates != ""]
    return {
        "source": source,
        "n_labels": len(pairs),
        "n_extraction": int((kinds == S.LABEL_EXTRACTION).sum()),
        "n_benign": int((kinds == S.LABEL_BENIGN).sum()),
        "decided_from": str(dates.min()) if len(dates) else None,
        "decided_to": str(dates.max()) if len(dates) else None,
        "pairs_sha256": digest,
    }
