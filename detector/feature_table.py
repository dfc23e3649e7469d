"""The feature table as the anomaly model reads it: checked, then ids and values.

A feature table is one row per account (index ``account_id``, or an ``account_id``
column) and one float column per feature. Everything the model does starts from the
same two arrays -- the account ids as strings and the values as float64 -- and the
same refusals (duplicate accounts, non-numeric or missing values, features the model
was not fitted on), so they are read here, once, for fitting and scoring alike. The
population's fingerprint (who was trained on) is computed from the same table.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from detector import schema

__all__ = [
    "fitted_values",
    "frame_values",
    "ordered_values",
    "population_fingerprint",
    "training_frame",
    "training_values",
    "with_account_index",
]


def population_fingerprint(features: pd.DataFrame) -> dict[str, Any]:
    """A compact identity of a training population.

    Parameters
    ----------
    features : the feature table (index = ``account_id``).

    Returns
    -------
    ``n_accounts``, ``account_ids_sha256`` (of the sorted ids, newline-joined, UTF-8)
    and ``feature_means`` (column → mean), enough to tell later whether two models
    were trained on the same accounts and roughly the same behaviour.
    """
    ids = np.sort(features.index.astype(str).to_numpy())
    digest = hashlib.sha256("\n".join(ids.tolist()).encode("utf-8")).hexdigest()
    means = features.mean(axis=0, numeric_only=True)
    return {
        "n_accounts": len(ids),
        "account_ids_sha256": digest,
        "feature_means": {str(k): float(v) for k, v in means.items() if np.isfinite(v)},
    }


def with_account_index(frame: pd.DataFrame) -> pd.DataFrame:
    """Use an ``account_id`` column as the index when there is one."""
    if schema.ACCOUNT_ID in frame.columns:
        return frame.set_index(schema.ACCOUNT_ID)
    return frame


def frame_values(frame: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Account ids (str) and the float64 values of ``names``; rejects bad input."""
    ids = frame.index.astype(str).to_numpy(dtype=object)
    if len(ids) != len(set(ids)):
        dupes = pd.Index(ids)[pd.Index(ids).duplicated()].unique()[:5]
        raise ValueError(
            f"feature table has duplicate account ids (e.g. {', '.join(map(str, dupes))}); "
            "it must hold one row per account"
        )
    try:
        values = ordered_values(frame, names)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"feature table has non-numeric values: {exc}") from None
    finite = np.isfinite(values)
    if not finite.all():
        bad = ~finite
        cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
        raise ValueError(
            f"feature table has {int(bad.sum())} missing or infinite value(s) in "
            f"{', '.join(cols)}; fill them with the features' neutral values first"
        )
    return ids, values


def ordered_values(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The float64 values of the columns ``names``, in that order, as one array.

    Read straight from the frame's values rather than through a reindexed frame, which
    copied the whole table (440 MB for a million accounts) before anything could start.
    When the frame holds exactly those columns in that order as one float64 block (as
    the pipeline and the benchmark build it), the result is a read-only view of that
    block: no copy at all. It is column-major then, and
    :func:`~detector.preprocess.scale_transform` copies each row chunk row-major.
    The same numbers either way.
    """
    positions = frame.columns.get_indexer(names) if frame.columns.is_unique else None
    if positions is None or (positions < 0).any() or len(positions) != frame.shape[1]:
        # duplicate or other columns: pandas' own selection decides what is read
        return frame.loc[:, names].to_numpy(dtype=np.float64)
    values = frame.to_numpy(dtype=np.float64)  # a view when it is one float64 block
    if (positions != np.arange(len(positions))).any():
        return values[:, positions]
    view = values.view()
    view.flags.writeable = False  # the caller's frame: nothing downstream may write it
    return view


def fitted_values(X: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Check a feature table against a fitted model's features; ids and raw values.

    Columns may come in any order (they are matched by name); missing or extra
    features are an error that names them.

    Parameters
    ----------
    X : the feature table to score.
    names : the features the model was fitted on, in its column order.

    Returns
    -------
    Account ids (str) and float64 values in ``names`` order, rows in ``X``'s order.
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"AnomalyModel needs a pandas DataFrame of features, got {type(X).__name__}"
        )
    frame = with_account_index(X)
    got = [str(c) for c in frame.columns]
    missing = [n for n in names if n not in set(got)]
    extra = [c for c in got if c not in set(names)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(
                f"missing {len(missing)} feature(s) the model was fitted on: " + ", ".join(missing)
            )
        if extra:
            parts.append(
                f"{len(extra)} feature(s) the model was not fitted on: " + ", ".join(extra)
            )
        raise ValueError("feature table does not match the model: " + "; ".join(parts))
    return frame_values(frame, names)


def training_frame(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """A training feature table indexed by account, and its feature names.

    Raises ``TypeError`` for anything but a DataFrame and ``ValueError`` when it has no
    feature columns.
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"AnomalyModel.fit needs a pandas DataFrame of features, got {type(X).__name__}"
        )
    frame = with_account_index(X)
    names = [str(c) for c in frame.columns]
    if not names:
        raise ValueError("the feature table has no feature columns")
    return frame, names


def training_values(frame: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Ids and values of a training table (:func:`frame_values`), sorted by account id.

    Sorting makes the fitted model independent of the order in which accounts arrive.
    Raises ``ValueError`` for fewer than 2 accounts.
    """
    ids, values = frame_values(frame, names)
    if len(ids) < 2:
        raise ValueError(f"need at least 2 accounts to fit the model, got {len(ids)}")
    order = np.argsort(ids, kind="stable")
    return ids[order], values[order]
