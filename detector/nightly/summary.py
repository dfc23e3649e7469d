"""What a run did (``summary.json``) and the history of runs (``detector runs``)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from detector.store import ALERT_NEW, ALERT_RISE, Store

__all__ = ["NightlySummary", "default_state_dir", "run_history"]


@dataclass
class NightlySummary:
    """What one run did: written as ``summary.json`` and returned by ``run_nightly``.

    ``ingest`` holds the reconciled counts (``read = kept + duplicates + quarantined``),
    ``timings`` seconds per stage, ``model`` the version used and why it was chosen,
    ``drift`` the PSI figures against the model's training population.
    """

    run_date: str
    run_id: int
    status: str
    out_dir: str
    window: dict[str, Any]
    missing_days: list[str]
    ingest: dict[str, Any]
    accounts: int
    flagged: int
    suppressed: int
    alerts: dict[str, int]
    model: dict[str, Any]
    drift: dict[str, Any]
    report: str
    timings: dict[str, float]
    started_at: str
    params: dict[str, Any] = field(default_factory=dict)
    suppressed_by_rules: int = 0
    """Would-be alerts an active suppression rule kept quiet (see ``detector rules``)."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """Remembered inputs in effect and where each came from (given / recorded / none)."""
    reduced_features: list[str] = field(default_factory=list)
    """Why this run computed fewer features than it could (empty: full features)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready)."""
        return asdict(self)

    def counts(self) -> dict[str, Any]:
        """The figures recorded with the run in the store (``detector runs``)."""
        return {
            "read": self.ingest.get("read"),
            "kept": self.ingest.get("kept"),
            "duplicates": self.ingest.get("duplicates"),
            "quarantined": self.ingest.get("quarantined"),
            "accounts": self.accounts,
            "flagged": self.flagged,
            "suppressed": self.suppressed,
            "suppressed_by_rules": self.suppressed_by_rules,
            "alerts_new": self.alerts.get(ALERT_NEW, 0),
            "alerts_rise": self.alerts.get(ALERT_RISE, 0),
            "missing_days": len(self.missing_days),
            "reduced_features": len(self.reduced_features),
            "seconds": self.timings.get("total"),
        }


def default_state_dir() -> Path:
    """``$DETECTOR_STATE`` or ``./state``: where ``detector runs`` looks by default."""
    return Path(os.environ.get("DETECTOR_STATE", "state"))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def run_history(state: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs recorded in ``state``, newest first, with counts decoded."""

    with Store.open(state) as store:
        frame = store.runs_frame(limit=limit)
    rows: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):  # one per run (a page of history)
        record = {k: (None if _missing(v) else v) for k, v in record.items()}
        for key in ("counts", "params"):
            text = record.get(key)
            record[key] = json.loads(text) if text else {}
        rows.append(record)
    return rows
