"""Detection quality of a scoring against labels (contract section 3.2).

:func:`evaluate` compares a score table (3.1) with a label table (1.3) and returns a
JSON-ready dict: ROC-AUC, PR-AUC (average precision), precision and recall at
``k`` = the number of ``extraction`` labels among the scored accounts, recall at 1 %
false-positive rate, flag counts and a per-scenario breakdown. Given the feature table
it also scores two naive baselines *in the same run* — ranking by request volume and
an isolation forest on five raw volume features — so every figure comes with the
number it has to beat (:mod:`detector.baselines`).

Conventions:

* Only accounts that are both scored and labelled are measured; the others are
  counted (``n_scored_unlabelled``, ``n_labels_unscored``) and otherwise ignored.
* "Top k" is the first ``k`` labelled accounts in rank order (the ``rank`` column
  when present, else score descending then ``account_id``), the same order the
  contract's ``rank`` uses.
* A metric that is undefined for the data (no extraction labels, a single class) is
  ``None`` and a line in ``notes`` says why; nothing raises for degenerate labels.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from detector import schema
from detector.baselines import (
    NAIVE_VOLUME_FEATURES,
    VOLUME_FEATURES,
    account_frame,
    baselines,
    ranking_metrics,
    score_order,
)

# the baselines' inputs stay importable from here, where evaluations were always read
__all__ = ["NAIVE_VOLUME_FEATURES", "VOLUME_FEATURES", "check_label_overlap", "evaluate"]

_TRUE_STRINGS: Final = {"true", "1", "yes", "y", "t"}
_FALSE_STRINGS: Final = {"false", "0", "no", "n", "f", ""}


def _parse_flags(values: pd.Series) -> np.ndarray:
    if values.dtype == bool:
        return values.to_numpy()
    text = values.astype(str).str.strip().str.lower()
    bad = ~text.isin(_TRUE_STRINGS | _FALSE_STRINGS)
    if bad.any():
        raise ValueError(
            f"column {schema.FLAGGED!r} has {int(bad.sum())} value(s) that are not "
            f"true/false, e.g. {values[bad].iloc[0]!r}"
        )
    return text.isin(_TRUE_STRINGS).to_numpy()


def _in_cluster(joined: pd.DataFrame) -> np.ndarray | None:
    """Per row: whether the account is in a coordination cluster (a non-empty
    ``cluster_id``), or None when the score table has no such column. A campaign of
    light accounts is found when it is grouped, not only when each ranks high (issue 16's
    bar: within the top k *and* in a cluster)."""
    if schema.CLUSTER_ID not in joined.columns:
        return None
    ids = joined[schema.CLUSTER_ID]
    return (ids.notna() & (ids.astype(str).str.strip() != "")).to_numpy()


def check_label_overlap(
    scores: pd.DataFrame, labels: pd.DataFrame, *, min_share: float, source: str
) -> tuple[int, int]:
    """``(matched, labelled)``: labelled accounts among the scored ones, and all of them.

    Raises :class:`~detector.errors.UserError` when no labelled account was scored, or
    fewer than ``min_share`` of them: the labels (named ``source`` in the message) are
    then for another population, and every metric would silently describe a handful
    of accounts.
    """
    from detector.errors import UserError

    labelled = pd.Index(pd.unique(labels[schema.ACCOUNT_ID].astype(str)))
    scored = pd.Index(scores[schema.ACCOUNT_ID].astype(str))
    matched = int(labelled.isin(scored).sum())
    n = len(labelled)
    if n == 0:
        raise UserError(f"{source}: no labelled accounts; give one row per labelled account")
    if matched == 0:
        raise UserError(
            f"{source}: none of its {n:,} labelled accounts is among the {len(scored):,} "
            "scored accounts; these labels are for another population"
        )
    if n and matched < min_share * n:
        raise UserError(
            f"{source}: only {matched:,} of its {n:,} labelled accounts ({matched / n:.0%}) "
            f"are among the {len(scored):,} scored accounts, below {min_share:.0%}; check "
            "that the labels and the scores are of the same population (--min-overlap "
            "lowers the bar)"
        )
    return matched, n


def evaluate(
    scores: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    features: pd.DataFrame | None = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """Measure a scoring against labels.

    Parameters
    ----------
    scores : score table (contract 3.1): ``account_id`` (column or index), ``score``,
        and optionally ``rank``, ``flagged`` (bool or ``true``/``false`` strings) and
        ``cluster_id`` (empty or missing: in no cluster).
    labels : label table (contract 1.3): ``account_id``, ``label`` (``benign`` or
        ``extraction``, case-insensitive) and optionally ``scenario``.
    features : feature table (index or column ``account_id``); enables the baselines.
    random_state : seed of the naive isolation-forest baseline.

    Returns
    -------
    dict with ``roc_auc``, ``pr_auc``, ``precision_at_k``, ``recall_at_k``,
    ``recall_at_1pct_fpr``, ``k``, the counts ``n_accounts`` (scored),
    ``n_labelled`` (scored and labelled), ``n_extraction``, ``n_benign``,
    ``n_scored_unlabelled``, ``n_labels_unscored``, ``flagged`` (counts, precision and
    recall of the flags), ``per_scenario`` (scenario → accounts, label, flagged,
    ``share_flagged``, ``share_in_top_k``, ``share_in_cluster``: None without a
    ``cluster_id`` column), ``baselines`` and ``notes``. Undefined
    metrics are ``None``.

    Raises
    ------
    ValueError
        When a required column is missing, an account is scored or labelled twice
        with different values, or a label is not ``benign``/``extraction``.
    """
    notes: list[str] = []
    s = account_frame(scores, "score table")
    if schema.SCORE not in s.columns:
        raise ValueError(f"score table has no {schema.SCORE!r} column")
    if s[schema.ACCOUNT_ID].duplicated().any():
        dup = s.loc[s[schema.ACCOUNT_ID].duplicated(), schema.ACCOUNT_ID].iloc[0]
        raise ValueError(f"score table lists account {dup!r} more than once")
    s[schema.SCORE] = pd.to_numeric(s[schema.SCORE], errors="raise").astype(float)

    lab = account_frame(labels, "label table")
    if schema.LABEL not in lab.columns:
        raise ValueError(f"label table has no {schema.LABEL!r} column")
    lab[schema.LABEL] = lab[schema.LABEL].astype(str).str.strip().str.lower()
    bad = ~lab[schema.LABEL].isin(schema.LABELS)
    if bad.any():
        values = sorted(lab.loc[bad, schema.LABEL].unique())[:5]
        raise ValueError(
            f"label table has {int(bad.sum())} label(s) other than "
            f"{'/'.join(schema.LABELS)}: {', '.join(map(repr, values))}"
        )
    if schema.SCENARIO not in lab.columns:
        lab[schema.SCENARIO] = ""
    lab[schema.SCENARIO] = lab[schema.SCENARIO].fillna("").astype(str).str.strip()
    lab = lab[[schema.ACCOUNT_ID, schema.LABEL, schema.SCENARIO]].drop_duplicates()
    if lab[schema.ACCOUNT_ID].duplicated().any():
        dup = lab.loc[lab[schema.ACCOUNT_ID].duplicated(), schema.ACCOUNT_ID].iloc[0]
        raise ValueError(f"label table gives account {dup!r} conflicting labels")

    keep = [
        c
        for c in (schema.ACCOUNT_ID, schema.SCORE, schema.RANK, schema.FLAGGED, schema.CLUSTER_ID)
        if c in s
    ]
    joined = s[keep].merge(lab, on=schema.ACCOUNT_ID, how="inner")
    n_labelled = len(joined)
    ids = joined[schema.ACCOUNT_ID].to_numpy(dtype=str)
    score = joined[schema.SCORE].to_numpy(dtype=float)
    y = (joined[schema.LABEL] == schema.LABEL_EXTRACTION).to_numpy()
    if schema.RANK in joined.columns:
        rank = pd.to_numeric(joined[schema.RANK], errors="raise").to_numpy(dtype=float)
        order = np.lexsort((ids, rank))
    else:
        order = score_order(score, ids)
    metrics = ranking_metrics(y, score, order, notes, "detector")
    k = int(metrics["k"] or 0)
    in_top_k = np.zeros(n_labelled, dtype=bool)
    in_top_k[order[:k]] = True

    # flags
    flagged_all = _parse_flags(s[schema.FLAGGED]) if schema.FLAGGED in s.columns else None
    if flagged_all is None:
        notes.append(f"score table has no {schema.FLAGGED!r} column; flag metrics are undefined")
        flags = np.zeros(n_labelled, dtype=bool)
        flag_summary: dict[str, Any] = {"available": False}
    else:
        flags = _parse_flags(joined[schema.FLAGGED])
        n_flag_lab = int(flags.sum())
        n_flag_ext = int((flags & y).sum())
        flag_summary = {
            "available": True,
            "n_flagged": int(flagged_all.sum()),
            "n_flagged_labelled": n_flag_lab,
            "n_flagged_extraction": n_flag_ext,
            "n_flagged_benign": n_flag_lab - n_flag_ext,
            "precision": n_flag_ext / n_flag_lab if n_flag_lab else None,
            "recall": n_flag_ext / int(y.sum()) if y.any() else None,
        }

    clustered = _in_cluster(joined)

    # per scenario: scenario name, or the label when the scenario is empty
    scenario = joined[schema.SCENARIO].where(joined[schema.SCENARIO] != "", joined[schema.LABEL])
    per_scenario: dict[str, Any] = {}
    for name in sorted(scenario.unique()):
        at = (scenario == name).to_numpy()
        n_ext = int((y & at).sum())
        n_ben = int(at.sum()) - n_ext
        kind = (
            schema.LABEL_EXTRACTION
            if n_ben == 0
            else schema.LABEL_BENIGN
            if n_ext == 0
            else "mixed"
        )
        per_scenario[str(name)] = {
            "label": kind,
            "accounts": int(at.sum()),
            "flagged": int((flags & at).sum()) if flagged_all is not None else None,
            "share_flagged": float((flags & at).sum() / at.sum())
            if flagged_all is not None
            else None,
            "share_in_top_k": float((in_top_k & at).sum() / at.sum()),
            "share_in_cluster": float((clustered & at).sum() / at.sum())
            if clustered is not None
            else None,
        }

    result: dict[str, Any] = {
        "roc_auc": metrics["roc_auc"],
        "pr_auc": metrics["pr_auc"],
        "precision_at_k": metrics["precision_at_k"],
        "recall_at_k": metrics["recall_at_k"],
        "recall_at_1pct_fpr": metrics["recall_at_1pct_fpr"],
        "k": k,
        "n_accounts": len(s),
        "n_labelled": n_labelled,
        "n_extraction": int(y.sum()),
        "n_benign": int(n_labelled - y.sum()),
        "n_scored_unlabelled": len(s) - n_labelled,
        "n_labels_unscored": len(lab) - n_labelled,
        "flagged": flag_summary,
        "per_scenario": per_scenario,
        "baselines": baselines(joined, y, score, metrics["pr_auc"], features, random_state),
        "notes": notes,
    }
    return result
