"""Model adoption: extraction moves to a newly released model within a day.

Evaluation moves fast too -- a benchmark or safety suite is re-run on every new model the
day it ships -- but it sends the prompts it sent the older models, where extraction
wants new answers. So a suite's re-runs (``Bucket.suite_reruns``) do not count as
adoption: an account that only replays its fixed set on the new model has not moved to
it in the sense that matters here. Nor does the rest of a suite runner's traffic: its
people review the new model's answers with new prompts the day it ships
(``Config.suite_adoption``). Nor does an account whose first request came after
the release: it started on the newest model, it did not move to it (a class of new
students on the default model, a new customer); how new it is, the account features say.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket, Context
from detector.features.registry import FeatureSpec, family

SPECS = [
    FeatureSpec(
        name="newest_model_share",
        family="adoption",
        unit="share",
        description="Share of the account's requests (after the newest model's release) on that model. "
        "The newest model is the one that first appeared latest, after the window's first day; "
        "0 when no model was released inside the window, or for an account without requests "
        "on both sides of the release. A fixed suite's re-runs on the new model do not count, "
        "and an account that runs a fixed suite shows no adoption at all.",
        why="Extraction harvests the newest model as soon as it ships; products migrate over weeks.",
        needs=(S.MODEL,),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of its traffic since the release is on the newest model",
    ),
    FeatureSpec(
        name="newest_model_delay_hours",
        family="adoption",
        unit="hours",
        description="Hours from the newest model's first appearance in the population to the account's "
        "first request on it (the rest of the window when it never switched or had no requests "
        "before the release; a fixed suite's re-runs do not count as switching).",
        why="A switch within hours of a release is a tell of capability harvesting.",
        needs=(S.MODEL,),
        neutral=0.0,
        scale="log",
        direction="low",
        reason="switched to the newest model {value} after its release",
    ),
]


def switch_times(features: pd.DataFrame, context: Context) -> pd.Series:
    """When each account that moved to the newest model first used it (epoch seconds).

    Read back from the feature table: ``newest_model_delay_hours`` after the model's first
    appearance, for the accounts with a ``newest_model_share`` (those that had traffic on
    both sides of the release and sent new prompts to the new model). Empty when no model
    was released in the window or the log has no model column. Coordination pairs it with
    a shared template: a campaign switches its accounts within the same hours.
    """
    needed = {"newest_model_share", "newest_model_delay_hours"}
    if context.newest_model_first_ts is None or not needed <= set(features.columns):
        return pd.Series([], dtype="float64", index=pd.Index([], dtype=object))
    moved = features["newest_model_share"].to_numpy() > 0
    delay_s = features["newest_model_delay_hours"].to_numpy(dtype=np.float64)[moved] * 3600.0
    return pd.Series(context.newest_model_first_ts + delay_s, index=features.index[moved])


@family("adoption", SPECS)
def adoption(b: Bucket) -> dict[str, np.ndarray]:
    """How quickly and how fully an account moved to the newest model."""
    n, c, ctx = b.n, b.codes, b.context
    if ctx.newest_model is None or ctx.newest_model_first_ts is None:
        return {"newest_model_share": np.zeros(n), "newest_model_delay_hours": np.zeros(n)}
    ts = b.col(A.TS)
    fresh = ~b.suite_reruns
    on_new = (b.col(A.MODEL_KEY) == A.model_key(ctx.newest_model)) & fresh
    after = (ts >= ctx.newest_model_first_ts) & fresh
    share = agg.share(c[after], on_new[after], n)
    first_new = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_new, c[on_new], ts[on_new])
    never = ctx.window_end - ctx.newest_model_first_ts
    delay = np.where(
        first_new == np.iinfo(np.int64).max, never, first_new - ctx.newest_model_first_ts
    )
    # evidence of a move needs traffic on both sides of the release: an account that
    # started after it, or went quiet before it, did not switch
    seen_after = agg.count(c[after], n) > 0
    seen_before = agg.count(c[~after & fresh], n) > 0
    moved = seen_after & seen_before
    if not ctx.config.suite_adoption:  # evaluation moves with every release, by design
        moved &= ~b.suite_runners
    delay = np.where(moved, delay, never)
    share = np.where(moved, share, 0.0)
    return {"newest_model_share": share, "newest_model_delay_hours": np.maximum(delay, 0) / 3600.0}
