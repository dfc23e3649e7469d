"""Per-account behavioural features: the catalogue and the per-bucket computation.

Importing this package registers every family (one module each). :func:`compute_bucket`
is the pure per-bucket function: the same function runs on the whole log when it fits
in memory, per account-hash bucket when it does not, and per partition on a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from detector import schema as S
from detector.features import (  # noqa: F401  (imported to register the families)
    account,
    adoption,
    content,
    conversation,
    coordination,
    diversity,
    infra,
    probing,
    shape,
    tier,
    timing,
    volume,
)
from detector.features.adoption import switch_times
from detector.features.base import Bucket, Context
from detector.features.registry import FAMILIES, SPECS, FeatureSpec
from detector.features.tier import frontier_models

# catalogue order: the order of columns in feature tables and of sections in docs/features.md
FAMILY_ORDER = (
    "volume",
    "timing",
    "content",
    "probing",
    "diversity",
    "shape",
    "conversation",
    "adoption",
    "tier",
    "infra",
    "account",
    "coordination",
)

__all__ = [
    "FAMILIES",
    "FAMILY_ORDER",
    "SPECS",
    "Bucket",
    "Context",
    "FeatureSpec",
    "active_specs",
    "compute_bucket",
    "frontier_models",
    "ordered_specs",
    "retired_features",
    "switch_times",
]


def ordered_specs() -> list[FeatureSpec]:
    """Every registered feature, in catalogue order."""
    assert set(FAMILY_ORDER) == set(FAMILIES), "FAMILY_ORDER must name every family"
    return [spec for name in FAMILY_ORDER for spec in FAMILIES[name].specs]


def retired_features(names: list[str] | tuple[str, ...]) -> list[str]:
    """The names among ``names`` this detector no longer computes (a model bundle trained
    by an older version lists them; such a model must be retrained, not fed neutrals)."""
    return [name for name in names if name not in SPECS]


def active_specs(
    context: Context, why: Mapping[str, str] | None = None
) -> tuple[list[FeatureSpec], dict[str, str]]:
    """Features computable on this log, and the omitted ones with the missing columns
    (each column as ``why`` describes it, when it does: which files lack it)."""
    active, omitted = [], {}
    notes = why or {}
    for spec in ordered_specs():
        missing = [c for c in spec.needs if not context.has(c)]
        if missing:
            omitted[spec.name] = "missing column(s): " + ", ".join(notes.get(c, c) for c in missing)
        else:
            active.append(spec)
    return active, omitted


def compute_bucket(frame: pd.DataFrame, context: Context) -> pd.DataFrame:
    """One row per account of ``frame`` (sorted by account_id), one column per active feature.

    Every value is finite: a family gives its documented neutral value to accounts with
    too little data, and any non-finite value left is replaced by the neutral value.
    """
    bucket = Bucket.from_frame(frame, context)
    # cross-bucket families (coordination) are added by the pipeline after all buckets
    specs, _ = active_specs(context)
    wanted = {s.name for s in specs}
    columns: dict[str, np.ndarray] = {}
    for fam in (FAMILIES[name] for name in FAMILY_ORDER if FAMILIES[name].per_bucket):
        values = fam.func(bucket)
        for spec in fam.specs:
            if spec.name not in wanted:
                continue
            if spec.name not in values:
                raise RuntimeError(f"feature family {fam.name} did not compute {spec.name}")
            v = np.asarray(values[spec.name], dtype=np.float64)
            columns[spec.name] = np.where(np.isfinite(v), v, spec.neutral)
    out = pd.DataFrame(columns, index=pd.Index(bucket.account_ids, name=S.ACCOUNT_ID))
    return out[[s.name for s in specs if s.name in columns]]
