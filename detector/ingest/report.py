"""The reconciliation counts of one read of a log, and the errors for an unreadable log
and for a log that leaves nothing to score."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from detector import schema as S
from detector.errors import UserError

MAX_FIRST_REASONS = 10
"""Quarantine reasons kept verbatim (with their file) for the run's report."""


class IngestError(UserError):
    """A log cannot be read at all (as opposed to a bad row, which is quarantined)."""


@dataclass
class IngestReport:
    """Reconciliation counts and findings of one read of a log.

    ``read == kept + duplicates + quarantined`` always (see :mod:`detector.ingest`);
    ``outside_window`` rows (of unpartitioned files) lie outside ``--start/--end`` and
    are not part of the read log, like the files of pruned partitions.
    """

    files: list[str] = field(default_factory=list)
    read: int = 0
    kept: int = 0
    duplicates: int = 0
    quarantined: int = 0
    outside_window: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    first_reasons: list[dict[str, str]] = field(default_factory=list)
    present_optional: set[str] = field(default_factory=set)
    """Optional columns found in at least one file."""
    column_files: int = 0
    """Files of rows whose columns were noted (:meth:`note_file_columns`)."""
    lacking_optional: Counter[str] = field(default_factory=Counter)
    """Per optional column, how many of those files lack it."""
    first_lacking: dict[str, str] = field(default_factory=dict)
    """Per optional column, the first file that lacks it."""
    pruned_files: int = 0
    ignored_files: int = 0
    """Hidden and bookkeeping files and directories skipped by name (``_SUCCESS``,
    ``_temporary/``, ``.*``, ``*.crc``)."""
    empty_files: int = 0
    """0-byte files: they hold no row (and do not make a day partition present)."""
    quarantine_path: str | None = None
    warnings: list[str] = field(default_factory=list)
    """Findings about the whole log that changed nothing (one line each, for stderr)."""

    @property
    def missing_optional(self) -> list[str]:
        """Optional contract columns absent from any file: features needing them are off.

        A column some files lack is missing for the whole log (contract 1.1: unknown):
        read as empty in those files, it would make a feature of half the log's rows
        that looks like a feature of all of them.
        """
        return [c for c in S.OPTIONAL if c not in self.present_optional or self.lacking_optional[c]]

    @property
    def missing_optional_notes(self) -> dict[str, str]:
        """Each missing optional column that *some* files have, with how many lack it and
        the first one: ``prompt missing from 1 of 4 files (…/part-0.parquet)``."""
        return {
            c: f"{c} missing from {n:,} of {self.column_files:,} files ({self.first_lacking[c]})"
            for c, n in self.lacking_optional.items()
            if c in self.present_optional and n
        }

    @property
    def missing_optional_described(self) -> list[str]:
        """:attr:`missing_optional`, each with its note when some files have it."""
        notes = self.missing_optional_notes
        return [notes.get(c, c) for c in self.missing_optional]

    def note_file_columns(self, source: str, present: Collection[str]) -> None:
        """Count a file of rows and the optional columns it lacks (of ``present``)."""
        self.column_files += 1
        self.present_optional.update(present)
        for c in S.OPTIONAL:
            if c not in present:
                self.lacking_optional[c] += 1
                self.first_lacking.setdefault(c, source)

    def reconciles(self) -> bool:
        """True when every read row is kept, a duplicate, or quarantined."""
        return self.read == self.kept + self.duplicates + self.quarantined

    def add_quarantined(self, reasons: np.ndarray, source: str) -> None:
        """Count quarantined rows (their reasons, in order) found in ``source``."""
        if not len(reasons):
            return
        self.quarantined += len(reasons)
        self.reasons.update(pd.Series(reasons).value_counts().to_dict())
        self.note_first_reasons(reasons, source)

    def note_first_reasons(self, reasons: Sequence[object] | np.ndarray, source: str) -> None:
        """Keep quarantine reasons of ``source`` (in order) verbatim for the report, up to
        :data:`MAX_FIRST_REASONS` in all; only the first rows of a run are kept.

        Counting is separate (:meth:`add_quarantined` does both): the Spark engine
        counts from an aggregate and keeps the first reasons from the collected rows.
        """
        room = max(0, MAX_FIRST_REASONS - len(self.first_reasons))
        self.first_reasons += [{"file": source, "reason": str(r)} for r in reasons[:room]]

    def to_dict(self) -> dict[str, object]:
        """Plain-data view for JSON summaries."""
        return {
            "files": len(self.files),
            "pruned_files": self.pruned_files,
            "ignored_files": self.ignored_files,
            "empty_files": self.empty_files,
            "read": self.read,
            "kept": self.kept,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "outside_window": self.outside_window,
            "reconciles": self.reconciles(),
            "quarantine_reasons": dict(self.reasons.most_common()),
            "missing_optional_columns": self.missing_optional,
            "partially_missing_optional_columns": self.missing_optional_notes,
            "quarantine_file": self.quarantine_path,
            "warnings": self.warnings,
        }


def nothing_to_score(log: object, report: IngestReport) -> IngestError:
    """The error for a log that left no valid row to score, with the report's counts.

    One wording for every engine (the local pipeline and Spark raise it when every row
    was quarantined, selected away or absent), so the message a user searches for does
    not depend on where the features were built.
    """
    return IngestError(
        f"{log}: no valid request rows to score (read {report.read:,}, "
        f"quarantined {report.quarantined:,}); run `detector validate` for the reasons"
    )
