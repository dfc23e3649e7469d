"""The numbers every evaluation is measured against: two naive baselines, and the
ranking metrics they share with the detector (contract section 3.2).

:func:`baselines` scores the labelled accounts *in the same run* as the detector with
two rankings anyone could build -- by request volume, and by an isolation forest on
five raw volume features -- and gives each one's ROC-AUC, PR-AUC, recall at ``k`` and
the detector's lift over it. :func:`ranking_metrics` computes those figures for any
ranking (the detector's in :func:`detector.evaluate.evaluate`, a baseline's here), so
a baseline is never measured by another rule than the one it is compared with.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from detector import schema
from detector.config import DEFAULT

__all__ = [
    "MAX_FPR",
    "NAIVE_VOLUME_FEATURES",
    "VOLUME_FEATURES",
    "account_frame",
    "baselines",
    "ranking_metrics",
    "score_order",
]

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
"""The false-positive rate ``recall_at_1pct_fpr`` is read at."""


def account_frame(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """A copy with ``account_id`` as a str column (taken from the index if needed)."""
    if schema.ACCOUNT_ID not in frame.columns:
        if frame.index.name == schema.ACCOUNT_ID:
            frame = frame.reset_index()
        else:
            raise ValueError(f"{what} has no {schema.ACCOUNT_ID!r} column")
    out = frame.copy()
    out[schema.ACCOUNT_ID] = out[schema.ACCOUNT_ID].astype(str)
    return out


def ranking_metrics(
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


def score_order(score: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions from most to least suspicious: score descending, then account_id."""
    return np.lexsort((ids.astype(str), -score))


def baselines(
    labelled: pd.DataFrame,
    y: np.ndarray,
    detector_score: np.ndarray,
    detector_pr_auc: float | None,
    features: pd.DataFrame | None,
    random_state: int,
) -> dict[str, Any]:
    """The ``baselines`` entry of an evaluation: each baseline's metrics and lift.

    ``labelled`` holds the scored and labelled accounts (``account_id``), ``y`` whether
    each is extraction, ``detector_score`` the detector's scores and ``detector_pr_auc``
    its PR-AUC on them (the lift's numerator; recomputed on the accounts that have
    features when some do not). Without a feature table no baseline can be built:
    ``available`` is False and a note says what to pass.
    """
    if features is None:
        return {
            "available": False,
            "note": "no feature table given: pass the features to compare with the volume "
            "and naive isolation-forest baselines",
        }
    feats = account_frame(features, "feature table").set_index(schema.ACCOUNT_ID)
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
        detector_on_subset = ranking_metrics(y_b, sub, score_order(sub, ids_b), [], "")["pr_auc"]

    def summary(name: str, score: np.ndarray, extra: dict[str, Any]) -> dict[str, Any]:
        m = ranking_metrics(y_b, score, score_order(score, ids_b), notes, name)
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
