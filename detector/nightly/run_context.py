"""What the stages of one nightly run share: its options, store, log, timer and staging.

:func:`~detector.nightly.stages.stage_night` and the stages it runs
(:mod:`~detector.nightly.model_stages`, :mod:`~detector.nightly.output_stages`) take
one :class:`RunContext`; the runner (:mod:`~detector.nightly.runner`) builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from detector.nightly.inputs import NightlyOptions
from detector.nightly.layout import RUNS_DIR
from detector.nightly.log import StageLog, StageTimer
from detector.nightly.models import ChosenModel
from detector.nightly.publish import staging_dir
from detector.nightly.remembered import RememberedInputs
from detector.store import Store

__all__ = ["RunContext"]


@dataclass
class RunContext:
    """What the stages of one run share."""

    options: NightlyOptions
    store: Store
    run_id: int
    log: StageLog
    timer: StageTimer
    started_at: str
    inputs: RememberedInputs | None = None
    """Where the remembered inputs (the account table) came from; recorded at the commit."""
    trained: list[ChosenModel] = field(default_factory=list)
    """Models trained so far: discarded again if the run fails before its commit."""
    accounts: pd.DataFrame | None = None
    """The account table as this run read it, with ``idle_days`` from the store
    (:func:`detector.nightly.idle.account_table`; ``None`` without a table): read once,
    used to train, score and alert."""

    @property
    def staged(self) -> Path:
        """The staging directory of this run's outputs."""
        return staging_dir(self.options.state / RUNS_DIR, self.options.date, self.run_id)
