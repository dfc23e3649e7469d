"""Detection quality of a scoring against labels (contract section 3.2).

:func:`evaluate` compares a score table (3.1) with a label table (1.3) and returns a
JSON-ready dict: ROC-AUC, PR-AUC (average precision), precision and recall at
``k`` = the number of ``extraction`` labels among the scored accounts, recall at 1 %
false-positive rate, flag counts and a per-scenario breakdown. Given the feature table
it also scores two naive baselines *in the same run* — ranking by request volume and
an isolation forest on five raw volume features — so every figure comes with the
number it has to beat.

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
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from detector import schema
from detector.config import DEFAULT

__all__ = ["NAIVE_VOLUME_FEATURES", "VOLUME_FEATURES", "check_label_overlap", "evaluate"]

VOLUME_FEATURES: Final[tuple[str, ...]] = ("requests_per_day", "requests_total")
"""Volume baseline: ranks by the first of these columns present in the feature table."""
NAIVE_VOLUME_FEATURES: Final[tuple[str, ...]] = (
    "requests_per_day",
    "output_tokens_per_day",
    "active_day_share",
    "mean_input_tokens",
    "mean_output_tokens",
)
"""Inputs of the naive isolation-forest baseline (those present are used, raw)."""
MAX_FPR: Final = 0.01
_TRUE_STRINGS: Final = {"true", "1", "yes", "y", "t"}
_FALSE_STRINGS: Final = {"false", "0", "no", "n", "f", ""}


def _account_frame(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """A copy with ``account_id`` as a str column (taken from the index if needed)."""
    if schema.ACCOUNT_ID not in frame.columns:
        if frame.index.name == schema.ACCOUNT_ID:
            frame = frame.reset_index()
        else:
            raise ValueError(f"{what} has no {schema.ACCOUNT_ID!r} column")
    out = frame.copy()
    out[schema.ACCOUNT_ID] = out[schema.ACCOUNT_ID].astype(str)
    return out


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


def _ranking_metrics(
    y: np.ndarray, score: np.ndarray, order: np.ndarray, notes: list[str], who: str
) -> dict[str, float | int | None]:
    """ROC-AUC, PR-AUC, precision/recall at k and recall at 1 % FPR.

    ``order`` lists the positions of ``y``/``score`` from most to least suspicious.
    """
    n_pos = int(y.sum())
    n_neg = int(len(y) - n_pos)
    k = n_pos
    out: dict[str, float | int | None] = {
        "roc_auc": None,
        "pr_auc": None,
        "precision_at_k": None,
        "recall_at_k": None,
        "recall_at_1pct_fpr": None,
        "k": k,
    }
    if len(y) == 0:
        notes.append(f"{who}: no account is both scored and labelled; no metric computed")
        return out
    if n_pos == 0:
        notes.append(
            f"{who}: no extraction labels among scored accounts; ROC-AUC, PR-AUC and "
            "metrics at k are undefined"
        )
        return out
    hits = int(y[order[:k]].sum())
    out["precision_at_k"] = hits / k
    out["recall_at_k"] = hits / n_pos
    out["pr_auc"] = float(average_precision_score(y, score))
    if n_neg == 0:
        notes.append(
            f"{who}: every labelled account is extraction; ROC-AUC and recall at 1% FPR "
            "are undefined"
        )
        return out
    out["roc_auc"] = float(roc_auc_score(y, score))
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    out["recall_at_1pct_fpr"] = float(tpr[fpr <= MAX_FPR + 1e-12].max())
    return out


def _score_order(score: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions from most to least suspicious: score descending, then account_id."""
    return np.lexsort((ids.astype(str), -score))


def _baselines(
    labelled: pd.DataFrame,
    y: np.ndarray,
    detector_score: np.ndarray,
    detector_pr_auc: float | None,
    features: pd.DataFrame | None,
    random_state: int,
) -> dict[str, Any]:
    if features is None:
        return {
            "available": False,
            "note": "no feature table given: pass the features to compare with the volume "
            "and naive isolation-forest baselines",
        }
    feats = _account_frame(features, "feature table").set_index(schema.ACCOUNT_ID)
    ids = labelled[schema.ACCOUNT_ID].to_numpy()
    present = pd.Index(feats.index).get_indexer(ids) >= 0
    out: dict[str, Any] = {"available": True, "notes": []}
    notes: list[str] = out["notes"]
    if not present.all():
        notes.append(
            f"{int((~present).sum())} labelled account(s) have no features; baselines and "
            "their lift use the other accounts"
        )
    ids_b, y_b = ids[present], y[present]
    detector_on_subset = detector_pr_auc
    if not present.all():
        sub = detector_score[present]
        detector_on_subset = _ranking_metrics(y_b, sub, _score_order(sub, ids_b), [], "")["pr_auc"]

    def summary(name: str, score: np.ndarray, extra: dict[str, Any]) -> dict[str, Any]:
        m = _ranking_metrics(y_b, score, _score_order(score, ids_b), notes, name)
        base, mine = m["pr_auc"], detector_on_subset
        lift = None if base is None or mine is None or base == 0 else float(mine) / float(base)
        return {
            **extra,
            "roc_auc": m["roc_auc"],
            "pr_auc": base,
            "recall_at_k": m["recall_at_k"],
            "lift": lift,
        }

    volume_col = next((c for c in VOLUME_FEATURES if c in feats.columns), None)
    if volume_col is None:
        out["volume"] = {
            "available": False,
            "note": "no volume column in the feature table (looked for "
            + ", ".join(VOLUME_FEATURES)
            + ")",
        }
    else:
        volume = pd.to_numeric(feats[volume_col], errors="coerce").fillna(0.0)
        out["volume"] = summary(
            "volume baseline",
            volume.reindex(ids_b).to_numpy(dtype=float),
            {"available": True, "feature": volume_col},
        )

    naive = [c for c in NAIVE_VOLUME_FEATURES if c in feats.columns]
    if not naive:
        out["naive_iforest"] = {
            "available": False,
            "note": "none of the naive volume features present ("
            + ", ".join(NAIVE_VOLUME_FEATURES)
            + ")",
        }
    else:
        X = feats[naive].apply(pd.to_numeric, errors="coerce").fillna(0.0)
        forest = IsolationForest(
            n_estimators=DEFAULT.n_estimators,
            max_samples=min(DEFAULT.max_samples, len(X)),
            random_state=random_state,
            n_jobs=1,
        ).fit(X.to_numpy(dtype=float))
        raw = pd.Series(-forest.score_samples(X.to_numpy(dtype=float)), index=X.index)
        missing = [c for c in NAIVE_VOLUME_FEATURES if c not in naive]
        out["naive_iforest"] = summary(
            "naive isolation-forest baseline",
            raw.reindex(ids_b).to_numpy(dtype=float),
            {
                "available": True,
                "features": naive,
                "note": f"IsolationForest on raw {', '.join(naive)}, fitted on all "
                f"{len(X)} accounts of the feature table"
                + (f"; not available: {', '.join(missing)}" if missing else ""),
            },
        )
    return out


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
    s = _account_frame(scores, "score table")
    if schema.SCORE not in s.columns:
        raise ValueError(f"score table has no {schema.SCORE!r} column")
    if s[schema.ACCOUNT_ID].duplicated().any():
        dup = s.loc[s[schema.ACCOUNT_ID].duplicated(), schema.ACCOUNT_ID].iloc[0]
        raise ValueError(f"score table lists account {dup!r} more than once")
    s[schema.SCORE] = pd.to_numeric(s[schema.SCORE], errors="raise").astype(float)

    lab = _account_frame(labels, "label table")
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
        order = _score_order(score, ids)
    metrics = _ranking_metrics(y, score, order, notes, "detector")
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
        "baselines": _baselines(joined, y, score, metrics["pr_auc"], features, random_state),
        "notes": notes,
    }
    return result
