"""The quarantine file: rows that broke a contract rule, as text, with their reason.

Written to ``<path>.part`` while the log is read and renamed to ``<path>`` only when
the whole log was read: a run that fails half-way leaves no quarantine file, neither
a partial one that looks complete nor a stray ``.part``.
"""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import numpy as np
import pandas as pd

from detector import schema as S
from detector.safe import neutralise_csv_frame

HEADER = (S.QUARANTINE_REASON, S.SOURCE_FILE, *S.ALL_COLUMNS)


def cell_text(value: object) -> str:
    """One raw value as quarantine text: strings as they are, missing as empty.

    A string UTF-8 cannot hold (a lone surrogate, from a JSON ``"\\ud800"`` escape; its
    row is quarantined as ``not text``) is written with the escape as the source had
    it: the file must be written whatever the row holds.

    A JSON array or object (never a valid contract value) is written as a short marker:
    rendering a deeply nested one would recurse as deep as its nesting.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON "\ud800" escape
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[JSON array]"
    if isinstance(value, dict):
        return "{JSON object}"
    missing = pd.isna(value)  # an array for containers pandas does not know
    if isinstance(missing, (bool, np.bool_)) and missing:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):  # beyond Python's int-to-text digit limit
            return str(value)
        return "[integer too long]"
    return str(value)


class QuarantineWriter:
    """Appends quarantined rows (as text, formulas neutralised) with their reason to a CSV."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._tmp = path.with_name(path.name + ".part") if path else None
        self._started = False

    def write(self, raw: pd.DataFrame, reasons: np.ndarray, source: str) -> None:
        """Append ``raw``'s rows (one reason each) found in file ``source``."""
        if self._tmp is None or len(raw) == 0:
            return
        frame = pd.DataFrame(
            {
                c: [cell_text(v) for v in raw[c].to_numpy(dtype=object)]
                if c in raw.columns
                else [""] * len(raw)
                for c in S.ALL_COLUMNS
            }
        )
        frame.insert(0, S.QUARANTINE_REASON, np.asarray(reasons, dtype=object))
        frame.insert(1, S.SOURCE_FILE, source)
        frame = neutralise_csv_frame(frame)
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(
            self._tmp,
            mode="a" if self._started else "w",
            header=not self._started,
            index=False,
            lineterminator="\n",
            # quote every cell: with "\n" line ends a bare "\r" in a prompt is left unquoted,
            # splits the row for CSV readers and starts a fresh, un-neutralised cell
            quoting=csv.QUOTE_ALL,
        )
        self._started = True

    def close(self) -> str | None:
        """Publish the quarantine file atomically; an empty quarantine still gets a header."""
        if self._tmp is None or self.path is None:
            return None
        if not self._started:
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(columns=list(HEADER)).to_csv(self._tmp, index=False, lineterminator="\n")
        self._tmp.replace(self.path)
        return str(self.path)

    def abort(self) -> None:
        """Drop the partial file of a read that did not finish."""
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
