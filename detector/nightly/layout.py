"""The layout of a state directory and of one night's outputs (names only, no I/O)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALERTS_NAME",
    "CACHE_DIR",
    "LOCK_NAME",
    "MODELS_DIR",
    "MODEL_NAME",
    "QUARANTINE_NAME",
    "REPORT_NAME",
    "RUNS_DIR",
    "SCORES_NAME",
    "SUMMARY_NAME",
]

RUNS_DIR: Final = "runs"
"""``STATE/runs/DATE/``: one directory of outputs per night."""
MODELS_DIR: Final = "models"
"""``STATE/models/``: the bundles the job trained, with their drift references."""
LOCK_NAME: Final = "nightly.lock"
CACHE_DIR: Final = "cache/annotated"
"""``STATE/cache/annotated/``: the annotated files the next nights replay
(:mod:`detector.annotation_cache`); safe to delete at any time."""
MODEL_NAME: Final = "nightly"
"""Name of the bundles the job trains: versions read ``nightly-<YYYYMMDD>-<digest8>``."""

SCORES_NAME: Final = "scores.csv"
ALERTS_NAME: Final = "alerts.jsonl"
REPORT_NAME: Final = "report.html"
SUMMARY_NAME: Final = "summary.json"
QUARANTINE_NAME: Final = "quarantine.csv"
