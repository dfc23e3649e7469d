"""Model tier: capability extraction asks the most capable model it can.

A distiller wants the best teacher and pays for it; a product picks its model by cost
and latency, and many run the fast tier. Which tier a model belongs to is the
provider's own catalogue, not something the population decides: this family reads it
from the model's *name* (``Config.frontier_model_pattern``: "-pro", "opus", "ultra",
"-max", "-large"), once per distinct model in the log (:func:`frontier_models`, into
``Context.frontier_models``), never per request. Unlike adoption it speaks in every
week, whether or not a model ships. A fixed suite's re-runs do not count: evaluation
replays its set on every model, the capable one included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

__all__ = ["SPECS", "frontier_models"]

SPECS = [
    FeatureSpec(
        name="frontier_model_share",
        family="tier",
        unit="share",
        description="Share of the account's requests on the provider's most capable tier: models "
        'whose names match `frontier_model_pattern` ("-pro", "opus", "ultra", "-max", '
        '"-large"). A fixed suite\'s re-runs do not count. Constant (0) when no model of the '
        "log matches.",
        why="Capability extraction asks the best teacher; products choose models by cost and "
        "latency, and many run the fast tier.",
        needs=(S.MODEL,),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of its requests ask the most capable model tier",
    ),
]


def frontier_models(names: Iterable[str], pattern: str) -> frozenset[str]:
    """The model names that ``pattern`` marks as the most capable tier (one regular
    expression per distinct name; a log holds a handful)."""
    rx = re.compile(pattern)
    return frozenset(name for name in names if rx.search(str(name)))


@family("tier", SPECS)
def tier(b: Bucket) -> dict[str, np.ndarray]:
    """Share of each account's new (not re-run) requests on the most capable tier."""
    n, c, ctx = b.n, b.codes, b.context
    fresh = ~b.suite_reruns
    keys = np.fromiter((A.model_key(m) for m in sorted(ctx.frontier_models)), dtype=np.uint64)
    frontier = np.isin(b.col(A.MODEL_KEY), keys) & fresh
    return {"frontier_model_share": agg.share(c[fresh], frontier[fresh], n)}
