"""Publishing a night exactly once, and recovering what a killed run left half-done.

A night is published in two phases:

1. every output is written into a staging directory ``runs/.DATE.run-<run_id>`` and
   synced (:func:`staging_dir`, :func:`sync_tree`);
2. one store transaction records the model (if trained tonight), the scores, the
   date's alerts and the run's ``ok`` (:func:`commit_night`). **Its commit is the
   publish point.** Only then does the staging directory become ``runs/DATE``
   (:func:`put_in_place`: a previous ``runs/DATE`` is moved aside to
   ``runs/.DATE.old-<run_id>`` first and removed after).

A crash before the commit leaves the store as it was and a staging directory that the
next run removes; a crash after it leaves a committed night whose directory the next
run puts in place (:func:`recover`). Either way the night is published once. The
points where the crash-safety tests kill the job are :data:`detector.faults.POINTS`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pandas as pd

from detector import schema as S
from detector.faults import checkpoint
from detector.nightly.log import iso, utc_now
from detector.nightly.models import ChosenModel, discard_orphans
from detector.nightly.summary import NightlySummary
from detector.safe import fsync_dir
from detector.store import KIND, RUN_OK, Store

__all__ = ["StagedNight", "commit_night", "put_in_place", "recover", "staging_dir", "sync_tree"]

STAGING_MARK: Final = ".run-"
ASIDE_MARK: Final = ".old-"
LEGACY_TMP_MARK: Final = ".tmp-"
"""Temp directories of versions before the two-phase publish: always half an output."""

Warn = Callable[[str], None]


@dataclass
class StagedNight:
    """A night written to its staging directory: what the commit records in the store."""

    summary: NightlySummary
    model: ChosenModel
    scores: pd.DataFrame
    alerts: pd.DataFrame
    inputs: dict[str, str | None] = field(default_factory=dict)
    """Remembered inputs to record (or forget, ``None``) with the night."""


def staging_dir(runs: Path, day: dt.date, run_id: int) -> Path:
    """Where run ``run_id`` stages the outputs of ``day`` (hidden: never a published night)."""
    return runs / f".{day.isoformat()}{STAGING_MARK}{run_id}"


def _parse_hidden(path: Path, mark: str) -> tuple[dt.date, int] | None:
    """``(date, run id)`` of ``.DATE<mark><id>``, or ``None`` for any other name."""
    head, sep, tail = path.name[1:].partition(mark)
    if not sep or not tail.isdigit():
        return None
    try:
        return dt.date.fromisoformat(head), int(tail)
    except ValueError:
        return None


def sync_tree(directory: Path) -> None:
    """fsync every file under ``directory`` and the directories themselves.

    The commit says the night's outputs exist, so they must be on disk before it.
    """
    for path in sorted(directory.rglob("*"), reverse=True):  # files before their dirs
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        elif path.is_dir():
            fsync_dir(path)
    fsync_dir(directory)


def commit_night(store: Store, run_id: int, night: StagedNight) -> None:
    """Record the night in one transaction; its commit is the publish point."""
    model, day = night.model, dt.date.fromisoformat(night.summary.run_date)
    with store.transaction():
        if model.trained:
            store.register_model(
                model.version,
                model.path,
                model.digest,
                model.created_at,
                model.window_start,
                model.window_end,
                model.reason,
            )
        store.record_scores(day, night.scores)
        store.delete_alerts_for_run(day)
        store.record_alerts(
            day,
            night.alerts[[S.ACCOUNT_ID, S.SCORE, S.BAND, S.REASONS, KIND]].to_dict("records"),
        )
        if night.inputs:
            store.record_inputs(day, night.inputs)
        store.finish_run(run_id, RUN_OK, night.summary.counts(), model.version, None)
        checkpoint("commit")


def put_in_place(staged: Path, final: Path, run_id: int) -> None:
    """Make a committed night's staging directory ``final``; safe to repeat after a crash."""
    aside = final.parent / f".{final.name}{ASIDE_MARK}{run_id}"
    if final.exists():
        os.replace(final, aside)
        fsync_dir(final.parent)
        checkpoint("aside")
    os.replace(staged, final)
    fsync_dir(final.parent)
    checkpoint("published")
    shutil.rmtree(aside, ignore_errors=True)


def recover(store: Store, state: Path, runs: Path, warn: Warn) -> None:
    """Finish or undo what runs killed half-way left (the caller holds the lock).

    - a run still recorded ``running`` was killed before its commit: it is recorded
      as ``failed``, and its staging directory removed;
    - a staging directory of a committed run (the last ``ok`` run of its date) is put
      in place: the crash came between the commit and the rename;
    - a previous output moved aside is removed once its date's directory is in place
      (or restored, should its date have none);
    - a bundle the registry does not know was trained by a run that never committed,
      and is removed.
    """
    killed = store.abandon_running(
        f"did not finish: killed or lost power before recording its end (found by the run "
        f"started {iso(utc_now())})"
    )
    for run_id in killed:
        warn(f"run {run_id} was left running by a process that died: recorded as failed")
    if runs.is_dir():
        for staged in sorted(runs.glob(f".*{STAGING_MARK}*")):
            parsed = _parse_hidden(staged, STAGING_MARK)
            if parsed is None:
                continue
            day, run_id = parsed
            final = runs / day.isoformat()
            latest = store.latest_ok_run(day)
            if latest is not None and latest[0] == run_id:
                warn(f"completing the publish of run {run_id}: {staged} -> {final}")
                put_in_place(staged, final, run_id)
            else:
                warn(f"removing {staged}, staged by run {run_id} which never committed")
                shutil.rmtree(staged, ignore_errors=True)
        for leftover in sorted(runs.glob(f".*{LEGACY_TMP_MARK}*")):
            warn(f"removing {leftover}, left by a run that did not finish")
            shutil.rmtree(leftover, ignore_errors=True)
        for aside in sorted(runs.glob(f".*{ASIDE_MARK}*")):
            final = runs / aside.name[1:].split(ASIDE_MARK)[0]
            if final.exists():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                warn(f"restoring {final} from {aside}, moved aside by an unfinished run")
                os.replace(aside, final)
    discard_orphans(store, state, warn)
