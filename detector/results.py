"""What a scoring run hands to the stages after it: :class:`ScoreResult`.

The type lives below :mod:`detector.scoring` (which builds it) and
:mod:`detector.outputs` (which writes it), so the writer does not import the scorer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from detector.artifacts import Bundle
    from detector.coordination import Clusters
    from detector.pipeline import FeatureResult

__all__ = ["ScoreResult"]


@dataclass
class ScoreResult:
    """A scored population: the score table and what it was computed from."""

    scores: pd.DataFrame
    result: FeatureResult
    bundle: Bundle
    clusters: Clusters | None
    meta: dict[str, Any] = field(default_factory=dict)
