"""The nightly job's remembered inputs: what the first run was given, reused later.

An input that changes the features (the account table) must not silently disappear
from a cron line: the run that is given it records it here, and a later run that is
not given it reuses the recorded value (see :mod:`detector.nightly.remembered`).
"""

from __future__ import annotations

from collections.abc import Mapping

from detector.store.base import StoreBase
from detector.store.names import DateLike
from detector.store.values import iso_date

__all__ = ["NightlyInputs"]


class NightlyInputs(StoreBase):
    """The nightly job's remembered inputs (``nightly_inputs``: name -> value)."""

    def recorded_inputs(self) -> dict[str, str]:
        """Every remembered input, by name (empty before the first run recorded any)."""
        rows = self._conn.execute("SELECT name, value FROM nightly_inputs ORDER BY name")
        return {str(name): str(value) for name, value in rows.fetchall()}

    def record_inputs(self, run_date: DateLike, values: Mapping[str, str | None]) -> None:
        """Remember ``values`` (a ``None`` value forgets that input), as of ``run_date``.

        Joins an open :meth:`transaction`, so a night's inputs are recorded with the
        night itself and a failed run records nothing.
        """
        day = iso_date(run_date)
        stamp = self._stamp()
        with self._write() as conn:
            for name, value in values.items():  # a handful of named inputs
                if value is None:
                    conn.execute("DELETE FROM nightly_inputs WHERE name = ?", (name,))
                else:
                    conn.execute(
                        "INSERT INTO nightly_inputs (name, value, recorded_at, run_date)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                        " value = excluded.value, recorded_at = excluded.recorded_at,"
                        " run_date = excluded.run_date",
                        (name, value, stamp, day),
                    )
