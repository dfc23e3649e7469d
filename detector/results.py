"""What a scoring run hands to the stages after it: :class:`ScoreResult`.

:func:`detector.scoring.score` (and ``score_features``) build it; the CLI, the nightly
job and :mod:`detector.outputs` read it. The type lives below the scorer and the
writer, so the writer does not import the scorer (the import layering in
pyproject.toml's ``[tool.importlinter]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from detector import schema as S

if TYPE_CHECKING:
    from detector.artifacts import Bundle
    from detector.coordination import Clusters
    from detector.pipeline import FeatureResult

__all__ = ["ScoreResult"]


@dataclass(frozen=True)
class ScoreResult:
    """A scored run: the score table, and what it was computed from and with.

    Frozen: a stage that changes the table makes a new result
    (``dataclasses.replace(scored, scores=...)``), so one stage's edit is not another's
    surprise. ``meta`` is the exception by design: it is the JSON sidecar
    (``SCORES.meta.json``), and the stages that publish a run add to it (the writer
    its ``run_id``, the nightly job the run date and why this model was chosen).
    """

    scores: pd.DataFrame
    """The contract's score table (CONTRACT.md 3.1), one row per account in rank
    order: ``account_id, score, rank, flagged, cluster_id, reasons, band``, then
    ``case_id, case_score``, ``suppressed`` and the optional columns (learned score,
    sub-stream)."""
    result: FeatureResult
    """The feature table scored, with the ingest report, the window and the timings
    of the run that built it."""
    bundle: Bundle
    """The verified model bundle that scored the run."""
    clusters: Clusters | None
    """The coordination clusters of the run (``None`` when coordination was off)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """The run's description as written beside the scores: ``model_version``,
    ``model_path``, ``window_start``/``window_end``, ``threshold`` (the score that
    flagged, ``None`` when nothing could be), ``budget``, ``learned_from``, counts of
    ``accounts``, ``flagged``, ``suppressed``, ``cases`` and ``flagged_cases``,
    ``features_omitted`` and the ``ingest`` counts."""

    @property
    def threshold(self) -> float | None:
        """The alert threshold the run applied (``None`` when no score could flag)."""
        value = self.meta.get("threshold")
        return None if value is None else float(value)

    @property
    def flagged_ids(self) -> list[str]:
        """Flagged accounts (suppressed ones never are), most suspicious first."""
        flagged = self.scores[self.scores[S.FLAGGED]].sort_values([S.RANK, S.ACCOUNT_ID])
        return flagged[S.ACCOUNT_ID].astype(str).tolist()

    @property
    def flagged_case_ids(self) -> list[str]:
        """Cases with a flagged member, in the order of their best-ranked member."""
        flagged = self.scores[self.scores[S.FLAGGED]].sort_values([S.RANK, S.ACCOUNT_ID])
        return list(dict.fromkeys(flagged[S.CASE_ID].astype(str)))
