"""Attacker-controlled text made safe for the places the detector writes it.

Prompts, user agents and even account ids come from the people being investigated.
Whatever the detector writes -- a CSV an analyst opens in a spreadsheet, an HTML
report, a line in the analyst's terminal -- must show that text, never execute or
interpret it. This module is the one home for those defences and for atomic file
writes (a crashed run must never leave a half-written ``scores.csv`` that a
downstream pipeline reads as complete).

- CSV / formula injection: :func:`neutralise_csv_cell`, :func:`neutralise_csv_frame`,
  :func:`write_csv` (OWASP "CSV Injection" guidance: prefix ``'``), undone exactly by
  :func:`restore_csv_cell` / :func:`restore_csv_series`.
- Atomic writes: :func:`atomic_path`, :func:`atomic_write_bytes`,
  :func:`atomic_write_text`.
- HTML: :func:`html_text`.
- Terminal: :func:`safe_terminal` (ANSI / control characters, rich markup).
- Display: :func:`truncate`.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa
from rich.markup import escape as _rich_escape

__all__ = [
    "CSV_ESCAPE_PREFIX",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "html_text",
    "neutralise_csv_cell",
    "neutralise_csv_frame",
    "restore_csv_cell",
    "restore_csv_series",
    "safe_terminal",
    "truncate",
    "write_csv",
    "write_csv_to",
]

# --- CSV / formula injection ----------------------------------------------------------

CSV_ESCAPE_PREFIX: Final = "'"
"""Prepended to a dangerous cell: spreadsheets then show the text instead of evaluating it."""

# Characters that make a spreadsheet treat a cell as a formula (OWASP), plus their
# full-width forms, which some spreadsheet locales normalise to the ASCII ones.
_FORMULA_STARTS: Final = "=+-@\uff1d\uff0b\uff0d\uff20"  # = + - @ and full-width forms
# A cell is dangerous when it *starts* with tab or CR (OWASP), or when its first
# visible character -- after any whitespace or control characters, which spreadsheets
# skip -- starts a formula. ``\s`` is Unicode-aware, so NBSP and friends count too.
# A cell already starting with the prefix is escaped too, so that the rule can be undone.
_DANGEROUS_CELL: Final = re.compile(
    r"(?:[\t\r"
    + re.escape(CSV_ESCAPE_PREFIX)
    + r"]|[\s\x00-\x1f\x7f-\x9f]*["
    + re.escape(_FORMULA_STARTS)
    + "])"
)


def neutralise_csv_cell(value: str) -> str:
    """Return ``value`` made inert for spreadsheets.

    The rule: a cell whose first character is ``\\t``, ``\\r`` or ``'``, or whose first
    character after optional leading whitespace / control characters is one of
    ``= + - @`` (or a full-width form of them), gets a leading ``'`` so Excel,
    LibreOffice and Google Sheets display it as text rather than evaluate it
    (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``). Other values are returned unchanged.
    Because every value starting with ``'`` is escaped too, the rule is reversible:
    :func:`restore_csv_cell` removes one leading ``'`` and gets the value back.
    """
    if _DANGEROUS_CELL.match(value):
        return CSV_ESCAPE_PREFIX + value
    return value


def restore_csv_cell(value: str) -> str:
    """Undo :func:`neutralise_csv_cell`: drop one leading ``'``."""
    return value.removeprefix(CSV_ESCAPE_PREFIX)


def restore_csv_series(series: pd.Series) -> pd.Series:
    """Vectorised :func:`restore_csv_cell` over a column of text read from a CSV."""
    text = series.astype(object)
    escaped = text.str.startswith(CSV_ESCAPE_PREFIX, na=False).astype(bool)
    if not escaped.any():
        return series
    out = text.copy()
    out[escaped] = text[escaped].str.slice(len(CSV_ESCAPE_PREFIX))
    return out


def _is_text_column(series: pd.Series) -> bool:
    """Whether a column holds text (object, pandas string, Arrow string or categorical)."""
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(
            dtype.pyarrow_dtype
        )
    return pd.api.types.is_object_dtype(dtype) or isinstance(
        dtype, (pd.StringDtype, pd.CategoricalDtype)
    )


# ``infer_dtype`` results of a column that holds at least one ``str``
_HAS_STRINGS: Final = frozenset({"string", "mixed", "mixed-integer"})


def _neutralise_series(series: pd.Series) -> pd.Series:
    """Vectorised :func:`neutralise_csv_cell` over one text column.

    Non-string values inside an object column (numbers, booleans, missing values)
    are left as they are: a spreadsheet reads a real number as a number.
    """
    if isinstance(series.dtype, pd.CategoricalDtype | pd.ArrowDtype):
        # prefixing categories could merge two of them; Arrow- and string-backed text
        # (what ingest hands over) must be neutralised like any other text: plain
        # Python strings are simpler and the same for every backing
        series = series.astype(object)
    if pd.api.types.infer_dtype(series, skipna=True) not in _HAS_STRINGS:
        return series  # e.g. an object column of booleans, or all missing
    dangerous = series.str.match(_DANGEROUS_CELL, na=False).astype(bool)
    if not dangerous.any():
        return series
    out = series.copy()
    out[dangerous] = CSV_ESCAPE_PREFIX + series[dangerous].astype(str)
    return out


def neutralise_csv_frame(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Return a copy of ``df`` with every text cell passed through :func:`neutralise_csv_cell`.

    ``columns`` limits the columns considered (default: all). Only text columns
    (object, string, categorical) are changed, with pandas ``.str`` operations rather
    than a per-row Python loop; numeric, boolean and datetime columns are untouched,
    so ``-5`` in a numeric column stays the number ``-5`` while ``"-5 apples"`` in a
    text column becomes ``"'-5 apples"``. Naming a column not in ``df`` is a
    ``KeyError`` (a typo must not silently leave a column unprotected).
    """
    names = list(df.columns) if columns is None else list(columns)
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in frame: {missing}")
    out = df.copy()
    for name in names:
        if _is_text_column(out[name]):
            out[name] = _neutralise_series(out[name])
    return out


def _cr_to_lf(df: pd.DataFrame, columns: Iterable[str] | None) -> pd.DataFrame:
    """Turn carriage returns in text cells into newlines.

    The csv writer (with ``\n`` line endings) quotes a cell holding ``\n`` but not one
    holding a bare ``\r``, which many readers treat as a row break: the text after it
    would land in a new cell that was never neutralised.
    """
    cols = list(columns) if columns is not None else list(df.columns)
    out = df.copy()
    for col in cols:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            replaced = s.str.replace("\r", "\n", regex=False)  # NaN for non-text cells
            out[col] = replaced.where(replaced.notna(), s)
    return out


def write_csv_to(
    df: pd.DataFrame, path: str | os.PathLike[str], *, text_columns: Iterable[str] | None = None
) -> None:
    """Write ``df`` as neutralised CSV to ``path`` as it is (not atomically).

    For a caller that writes into its own temporary file (see :func:`atomic_path`);
    otherwise use :func:`write_csv`. Carriage returns in text cells are written as
    ``\\n`` (see :func:`_cr_to_lf`), so a CSV keeps every value except that one
    character exactly: the project's own readers read the Parquet twin of a score
    table instead.
    """
    safe = neutralise_csv_frame(_cr_to_lf(df, text_columns), text_columns)
    safe.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def write_csv(
    df: pd.DataFrame, path: str | os.PathLike[str], *, text_columns: Iterable[str] | None = None
) -> Path:
    """Write ``df`` as CSV, neutralised and atomically; return the path written.

    ``text_columns`` is passed to :func:`neutralise_csv_frame` (default: every text
    column). The file is UTF-8 with ``\\n`` line endings and no index, written to a
    temporary file in the same directory and renamed into place, so readers see
    either the old file or the complete new one -- and the same frame always gives
    the same bytes (the contract's reproducible ``scores.csv``).
    """
    with atomic_path(path) as tmp:
        write_csv_to(df, tmp, text_columns=text_columns)
    return Path(path)


# --- atomic writes --------------------------------------------------------------------


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry (the rename) to disk; best effort where unsupported."""
    if os.name == "nt":  # pragma: no cover - directories cannot be opened on Windows
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - exotic filesystems
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _create_temp(final: Path) -> Path:
    """Create an empty, uniquely named temp file next to ``final``.

    ``os.open`` with mode 0o666 lets the process umask decide permissions, so the
    renamed file gets the same permissions a plain ``open(path, "w")`` would give
    (``tempfile.mkstemp`` would make every output owner-only).
    """
    while True:
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        os.close(fd)
        return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    The temporary file lives in the same directory as ``path`` (so ``os.replace`` is
    a same-filesystem rename), is fsynced before the rename, and the directory is
    fsynced after it. If the block raises, the temporary file is removed and
    ``path`` is left exactly as it was (absent, or its previous content). The parent
    directory is created if needed.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(final)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, byte for byte (no newline translation)."""
    return atomic_write_bytes(path, text.encode(encoding))


# --- HTML, display, terminal ----------------------------------------------------------


def html_text(value: Any) -> str:
    """``str(value)`` escaped for HTML text and attribute values (``<``, ``>``, ``&``, quotes)."""
    return html.escape(str(value), quote=True)


ELLIPSIS: Final = "…"


def truncate(text: str, n: int) -> str:
    """Shorten ``text`` to at most ``n`` characters for display, ending in ``…`` if cut.

    Meant for tables and reports where one 100 kB prompt must not swamp the page;
    apply it *before* escaping (escaping can only lengthen text, never unbalance it).
    """
    if n < 1:
        raise ValueError(f"truncate length must be >= 1, got {n}")
    if len(text) <= n:
        return text
    return text[: n - 1] + ELLIPSIS


# ANSI / ECMA-48 escape sequences, both 7-bit (ESC ...) and 8-bit (C1) forms:
# - CSI: ESC [ or 0x9b, parameters, intermediates, final byte (cursor moves, colours)
# - OSC / DCS / SOS / PM / APC strings: ESC ] P X ^ _ (or 0x9d 0x90 0x98 0x9e 0x9f)
#   up to BEL or ST (ESC \ or 0x9c) -- OSC 8 hyperlinks, window titles, clipboard (OSC 52);
#   of an unterminated string only the opener goes, so the analyst still sees the text
# - any other two-byte escape (ESC 7, ESC c reset, charset selection ESC ( 0, ...)
_ANSI: Final = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]?",
    re.DOTALL,
)
# Controls left after the sequences are gone: C0 (NUL, BS, CR, ...), DEL, C1, the
# Unicode line/paragraph separators and bidirectional overrides ("Trojan Source"
# reordering of what the analyst reads).
_OTHER_CONTROLS: Final = r"\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS_KEEP_NL: Final = re.compile(r"[\x00-\x09\x0b-\x1f" + _OTHER_CONTROLS + "]")
_CONTROLS: Final = re.compile(r"[\x00-\x1f" + _OTHER_CONTROLS + "]")
_BLANKS: Final = re.compile(r"[\t\n\u2028\u2029]")
_BLANKS_KEEP_NL: Final = re.compile(r"[\t\u2028\u2029]")


def safe_terminal(text: Any, *, keep_newlines: bool = False, markup: bool = True) -> str:
    """Return ``text`` safe to print in an analyst's terminal.

    Removes ANSI escape sequences (colours, cursor movement, screen clearing, OSC
    hyperlinks and title changes) and every remaining control character, so a prompt
    cannot recolour the terminal, overwrite earlier lines (``\\r``, backspace) or
    hide text. Tabs and line breaks become spaces; ``keep_newlines=True`` keeps
    ``\\n`` (a ``\\r\\n`` pair becomes ``\\n``). With ``markup`` (the default) the
    result is also escaped for ``rich`` markup, so ``[red]`` or ``[link=...]`` in a
    prompt prints literally in a rich table; pass ``markup=False`` for plain
    ``print``.
    """
    s = _ANSI.sub("", str(text))
    if keep_newlines:
        s = _BLANKS_KEEP_NL.sub(" ", s.replace("\r\n", "\n"))
        s = _CONTROLS_KEEP_NL.sub("", s)
    else:
        s = _BLANKS.sub(" ", s)
        s = _CONTROLS.sub("", s)
    return _rich_escape(s) if markup else s
