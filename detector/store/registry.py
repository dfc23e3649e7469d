"""The run history of the nightly job and the registry of trained models."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pandas as pd

from detector.store.base import StoreBase
from detector.store.names import RUN_DATE, RUN_FAILED, RUN_OK, RUN_RUNNING, DateLike, RunStatus
from detector.store.values import iso_date, iso_instant, optional_date, to_json

__all__ = ["ModelRecord", "Registry"]


@dataclass(frozen=True)
class ModelRecord:
    """One row of the model registry (see :meth:`Store.register_model`)."""

    version: str
    path: str
    digest: str
    trained_at: str
    window_start: str | None
    window_end: str | None
    reason: str
    registered_at: str


_MODEL_COLUMNS: Final[tuple[str, ...]] = (
    "version",
    "path",
    "digest",
    "trained_at",
    "window_start",
    "window_end",
    "reason",
    "registered_at",
)
_MODEL_SELECT: Final = (
    "SELECT version, path, digest, trained_at, window_start, window_end, reason, registered_at"
    " FROM models"
)

_RUN_COLUMNS: Final[tuple[str, ...]] = (
    "run_id",
    RUN_DATE,
    "started_at",
    "finished_at",
    "status",
    "counts",
    "model_version",
    "error",
    "params",
)


class Registry(StoreBase):
    """The run history of the nightly job and the registry of trained models."""

    # -- runs --------------------------------------------------------------------------

    def start_run(self, run_date: DateLike, params: Mapping[str, Any]) -> int:
        """Record that a run for ``run_date`` started with ``params``; return its run id."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (run_date, params, started_at, status) VALUES (?, ?, ?, ?)",
                (iso_date(run_date), to_json(params), self._stamp(), RUN_RUNNING),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        counts: Mapping[str, Any] | None = None,
        model_version: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record a run's outcome (``ok`` or ``failed``), its counts, model and error.

        Raises ``ValueError`` if the run does not exist or has already finished, so a
        run's outcome cannot be silently overwritten.
        """
        if status not in (RUN_OK, RUN_FAILED):
            raise ValueError(f"run status must be 'ok' or 'failed', got {status!r}")
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, counts = ?, model_version = ?,"
                " error = ? WHERE run_id = ? AND status = ?",
                (self._stamp(), status, to_json(counts), model_version, error, run_id, RUN_RUNNING),
            )
            if cursor.rowcount != 1:
                raise ValueError(f"run {run_id} does not exist or has already finished")

    def run_status(self, run_id: int) -> str | None:
        """The status of a run (``running`` / ``ok`` / ``failed``), ``None`` if unknown."""
        row = self._conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else str(row[0])

    def latest_ok_run(self, run_date: DateLike) -> tuple[int, str | None] | None:
        """``(run_id, model_version)`` of the last run of ``run_date`` that committed."""
        row = self._conn.execute(
            "SELECT run_id, model_version FROM runs WHERE run_date = ? AND status = ?"
            " ORDER BY run_id DESC LIMIT 1",
            (iso_date(run_date), RUN_OK),
        ).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def abandon_running(self, error: str) -> list[int]:
        """Mark every run still ``running`` as ``failed`` with ``error``; return their ids.

        Only the holder of the nightly lock calls this: any other run recorded as
        running was killed (``kill -9``, power loss) before it could record its end.
        """
        with self._write() as conn:
            ids = [
                int(row[0])
                for row in conn.execute(
                    "SELECT run_id FROM runs WHERE status = ? ORDER BY run_id", (RUN_RUNNING,)
                )
            ]
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE status = ?",
                (RUN_FAILED, self._stamp(), error, RUN_RUNNING),
            )
        return ids

    def run_windows(self, since: DateLike, before: DateLike) -> list[tuple[str, int | None]]:
        """``(run_date, window_days)`` of the runs that finished ``ok`` from ``since`` up
        to (not including) ``before``, oldest first; ``window_days`` is ``None`` when the
        run's parameters do not say it. A date re-run appears once per run."""
        rows = self._conn.execute(
            "SELECT run_date, params FROM runs WHERE status = ? AND run_date >= ?"
            " AND run_date < ? ORDER BY run_date, run_id",
            (RUN_OK, iso_date(since), iso_date(before)),
        ).fetchall()
        out: list[tuple[str, int | None]] = []
        for run_date, params in rows:  # one row per nightly run: a few dozen at most
            try:
                days = json.loads(params).get("window_days")
            except (ValueError, AttributeError):
                days = None
            out.append((str(run_date), int(days) if isinstance(days, int) else None))
        return out

    def runs_frame(self, limit: int = 50) -> pd.DataFrame:
        """The latest ``limit`` runs, newest first.

        Columns: ``run_id, run_date, started_at, finished_at, status, counts`` (JSON text),
        ``model_version, error, params`` (JSON text).
        """
        return self._frame(
            "SELECT run_id, run_date, started_at, finished_at, status, counts, model_version,"
            " error, params FROM runs ORDER BY run_id DESC LIMIT ?",
            (int(limit),),
            _RUN_COLUMNS,
        )

    # -- model registry ----------------------------------------------------------------

    def register_model(
        self,
        version: str,
        path: str | os.PathLike[str],
        digest: str,
        trained_at: datetime | str,
        window_start: DateLike | None,
        window_end: DateLike | None,
        reason: str,
    ) -> ModelRecord:
        """Add a trained model to the registry; it becomes :meth:`current_model`.

        ``path`` is stored relative to the state directory when it lies inside it (as
        the nightly job's ``models/`` does), else absolute; :meth:`model_path` resolves
        it. ``digest`` is the bundle's payload SHA-256 (from its manifest); whoever
        uses a registered model compares it with the file first.

        Registering the same version again with the same digest is a no-op (a re-run);
        with a different digest it is a ``ValueError`` -- a version names one artefact.
        """
        if not version:
            raise ValueError("model version must be non-empty")
        stored_path = self._relative_to_state(Path(path))
        with self._write() as conn:
            existing = conn.execute(
                "SELECT digest FROM models WHERE version = ?", (version,)
            ).fetchone()
            if existing is not None:
                if existing[0] != digest:
                    raise ValueError(
                        f"model version {version!r} is already registered with another digest"
                    )
            else:
                conn.execute(
                    "INSERT INTO models (version, path, digest, trained_at, window_start,"
                    " window_end, reason, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        version,
                        stored_path,
                        digest,
                        iso_instant(trained_at),
                        optional_date(window_start),
                        optional_date(window_end),
                        reason or "",
                        self._stamp(),
                    ),
                )
            row = conn.execute(
                _MODEL_SELECT + " WHERE version = ?",
                (version,),
            ).fetchone()
        return ModelRecord(*row)

    def _relative_to_state(self, path: Path) -> str:
        """A model path as stored: POSIX text relative to the state dir, else absolute."""
        absolute = Path(os.path.abspath(path))
        state = Path(os.path.abspath(self.path.parent))
        try:
            return absolute.relative_to(state).as_posix()
        except ValueError:
            return str(absolute)

    def model_path(self, record: ModelRecord) -> Path:
        """Where a registered model's file is: its stored path against the state dir.

        Rows written before paths were stored relative to the state dir may hold a
        path relative to some working directory; those resolve, if at all, by file
        name under ``STATE/models/`` (the caller checks the file exists and its digest).
        """
        stored = Path(record.path)
        if stored.is_absolute():
            return stored
        return self.path.parent / stored

    def models_frame(self) -> pd.DataFrame:
        """Every registered model, newest first (columns as :class:`ModelRecord`)."""
        return self._frame(
            _MODEL_SELECT + " ORDER BY id DESC",
            (),
            _MODEL_COLUMNS,
        )

    def model_records(self) -> list[ModelRecord]:
        """Every registered model, newest first."""
        rows = self._conn.execute(_MODEL_SELECT + " ORDER BY id DESC").fetchall()
        return [ModelRecord(*row) for row in rows]

    def current_model(self) -> ModelRecord | None:
        """The most recently registered model, or ``None`` before the first training."""
        row = self._conn.execute(_MODEL_SELECT + " ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else ModelRecord(*row)
