"""Coerce raw columns to the contract's types and give each row its first broken rule.

Vectorised: each column is converted in one pass (pyarrow / pandas kernels), each rule
is one boolean mask, and ``np.select`` picks the first rule (in contract column order)
a row breaks. A per-value Python loop runs only for a column already known to hold
an odd value (a number among strings, an array, invalid Unicode).

Type rules beyond the contract's table, chosen so a value is never silently altered:

- a string column takes text, or an integer (JSON ``123``, a Parquet int column) as
  its exact decimal text -- the same ``"123"`` whatever else the chunk holds; any other
  value (a float, a boolean, an array, an object, invalid Unicode) is ``not text``;
- a number column takes numbers and numeric text; an array or a boolean is not a number;
- a boolean column takes booleans and ``true/false/1/0/t/f/yes/no/y/n`` (any case).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import schema as S

_TRUE = frozenset({"true", "1", "t", "yes", "y"})
_FALSE = frozenset({"false", "0", "f", "no", "n", ""})
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)
# the Python types a one-shot Arrow conversion may see per kind of column: Arrow would
# also turn True into 1.0 and bytes into text, which the rules above do not allow
_TEXT_TYPES = frozenset({str, type(None), float})  # float: pandas' NaN for a missing key
_NUMBER_TYPES = frozenset({int, float, type(None)})
_BOOL_TYPES = frozenset({bool, type(None), float})


def _only(values: np.ndarray, types: frozenset[type]) -> bool:
    """Whether every value is of one of ``types`` exactly (a C-level pass)."""
    return set(map(type, values)) <= types


def _reason(template: str, column: str) -> str:
    return template.format(column=column)


def _as_text_value(value: object) -> tuple[str | None, bool]:
    """One value as text, and whether it was not text (see the module docstring)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON "\ud800" escape
            return None, True
        return value, False
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        try:
            return str(value), False
        except ValueError:  # more digits than Python converts to text
            return None, True
    if (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    ):
        return None, False
    return None, True


def as_text(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A column as nullable Arrow strings, and the mask of values that are not text."""
    dtype = s.dtype
    none = np.zeros(len(s), dtype=bool)
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype):
        return s, none
    if pd.api.types.is_integer_dtype(dtype):
        text = pa.array(s, from_pandas=True).cast(pa.string())
        return pd.Series(pd.arrays.ArrowExtensionArray(text), index=s.index), none
    values = s.to_numpy(dtype=object)
    if _only(values, _TEXT_TYPES):
        try:
            text = pa.array(values, type=pa.string(), from_pandas=True)
            return pd.Series(pd.arrays.ArrowExtensionArray(text), index=s.index), none
        except (*_ARROW_ERRORS, UnicodeEncodeError):
            pass  # an odd value: sort it out value by value below
    pairs = [_as_text_value(v) for v in values]
    text = pa.array([p[0] for p in pairs], type=pa.string())
    bad = np.fromiter((p[1] for p in pairs), dtype=bool, count=len(pairs))
    return pd.Series(pd.arrays.ArrowExtensionArray(text), index=s.index), bad


def _is_blank(s: pd.Series, text: pd.Series) -> np.ndarray:
    """Missing: null, or text that is empty after stripping whitespace."""
    return s.isna().to_numpy(dtype=bool) | text.str.strip().eq("").fillna(False).to_numpy(
        dtype=bool
    )


FIRST_INSTANT = pd.Timestamp.min.tz_localize("UTC")
LAST_INSTANT = pd.Timestamp.max.tz_localize("UTC")
"""The instants a row may carry (nanoseconds since the epoch in int64); the read
quarantines any other as ``timestamp out of range``."""
_DAY = pd.Timedelta(days=1)


def _beyond_range(text: object) -> bool:
    """Whether ``text`` is an ISO-8601 instant that nanoseconds cannot hold (year 9999).

    Run only on the few values the vectorised parse already turned to NaT, to tell a
    well-formed instant outside 1677..2262 from text that is no instant at all: the
    quarantine names which, so a user looks for a bad clock, not a bad format. Anything
    ``datetime.fromisoformat`` cannot read, or reads as an instant inside the range
    (a form the vectorised parse does not take, e.g. an ISO week date), stays
    unparseable.
    """
    if not isinstance(text, str):
        return False
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        instant = pd.Timestamp(moment.astimezone(dt.UTC))
    except (OverflowError, ValueError):  # 9999-12-31T23:00-05:00 is past year 9999 in UTC
        return True
    return not FIRST_INSTANT <= instant <= LAST_INSTANT


def _timestamps(s: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Instants as ``datetime64[ns, UTC]`` (NaT: missing, unparseable or out of range),
    the mask of missing values and the mask of instants out of the nanosecond range."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        ts = s if getattr(s.dtype, "tz", None) is not None else s.dt.tz_localize("UTC")
        ts = ts.dt.tz_convert("UTC")
        # Parquet µs/ms timestamps can lie outside the nanosecond range: quarantined, not a crash
        in_range = ts.between(FIRST_INSTANT, LAST_INSTANT)
        missing = s.isna().to_numpy(dtype=bool)
        beyond = ~in_range.to_numpy(dtype=bool) & ~missing
        return ts.where(in_range).astype("datetime64[ns, UTC]"), missing, beyond
    text, _ = as_text(s)
    ts = pd.to_datetime(text.astype(object), utc=True, errors="coerce", format="ISO8601")
    missing = _is_blank(s, text)
    # pandas wraps a local time whose offset carries it past an end of the range
    # ("2262-04-11T20:00-05:00" comes back as 1677-09-21T01:25Z): a wrapped instant lies
    # within a day (the largest offset) of the other end, so rows that close to either
    # end are checked one by one -- and, with the rows that did not parse, told apart as
    # out of range or unparseable
    near_end = ((ts < FIRST_INSTANT + _DAY) | (ts > LAST_INSTANT - _DAY)).to_numpy(dtype=bool)
    failed = np.flatnonzero((ts.isna().to_numpy() & ~missing) | near_end)
    beyond = np.zeros(len(s), dtype=bool)
    if len(failed):
        values = text.to_numpy(dtype=object)[failed]
        beyond[failed] = np.fromiter(map(_beyond_range, values), dtype=bool, count=len(failed))
        ts = ts.mask(beyond)
    return ts.astype("datetime64[ns, UTC]"), missing, beyond


def parse_timestamp(s: pd.Series) -> pd.Series:
    """Instants as ``datetime64[ns, UTC]``; missing, unparseable or out-of-range values
    are NaT."""
    return _timestamps(s)[0]


def epoch_seconds(instants: pd.Series) -> np.ndarray:
    """Whole seconds since the epoch (int64, floored) of datetime instants, whatever
    their resolution (NaT gives a meaningless value: mask it with ``notna``).

    The readers give ``datetime64[ns, UTC]`` (:func:`parse_timestamp`), but a table built
    elsewhere (a test, pandas' own Parquet reader) may hold seconds or microseconds, and
    reading those as nanoseconds would put every instant in January 1970 without an error.
    """
    return instants.dt.as_unit("ns").astype("int64").to_numpy() // 1_000_000_000


def _number_value(value: object) -> float:
    """A JSON / Python number as a float (NaN for anything else, booleans included)."""
    if isinstance(value, (bool, np.bool_)):
        return np.nan
    if isinstance(value, (int, np.integer)):
        try:
            return float(value)
        except OverflowError:  # beyond float: "out of range" (or "not finite") downstream
            return np.inf if value > 0 else -np.inf
    if isinstance(value, (float, np.floating)):
        return float(value)
    return np.nan


HUGE_EXPONENT = r"[eE][+-]?0*[1-9][0-9]{5,}"
"""An exponent of six digits or more: 1e100000 and beyond is outside every float."""
_HUGE = re.compile(HUGE_EXPONENT)


def numbers_from_text(values: pd.Series) -> pd.Series:
    """``pd.to_numeric(values, errors="coerce")`` as float64, except that text with a
    :data:`HUGE_EXPONENT` is not a number (NaN) and never reaches pandas' parser.

    pandas' text-to-number parser keeps the exponent in 32 bits (pandas 2.3.3): it reads
    ``1e4294967296`` as 1.0 and *crashes the process* (SIGSEGV) on ``1e2147483648``. A log
    row carries what a client sent and a gateway wrote, so one such token count or
    temperature in a CSV or JSON log would kill every run that reads it. An exponent of
    100000 or more puts any number beyond the floats (a zero spelt ``0e100000`` is
    refused with them), so no count, length or temperature is lost. The screen is one
    RE2 pass over the column, in Arrow.
    """
    mask = _huge_exponents(values)
    safe = values.astype(object).mask(mask) if mask.any() else values.astype(object)
    return pd.to_numeric(safe, errors="coerce").astype("float64")


def _huge_exponents(values: pd.Series) -> np.ndarray:
    """Which ``values`` are text with a :data:`HUGE_EXPONENT`: in Arrow, or value by value
    when the column cannot be Arrow text (a JSON string holding a lone surrogate)."""
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype):
        text = pa.array(values)
    else:
        try:
            text = pa.array(values.astype("string[pyarrow]"))
        except (*_ARROW_ERRORS, UnicodeEncodeError):
            found = (isinstance(v, str) and _HUGE.search(v) is not None for v in values)
            return np.fromiter(found, dtype=bool, count=len(values))
    huge = pc.match_substring_regex(text, HUGE_EXPONENT)
    return huge.fill_null(False).to_numpy(zero_copy_only=False)


def _parse_number(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers as float64 (NaN: missing or not a number), and the mask of missing values."""
    isna = s.isna().to_numpy(dtype=bool)
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(np.nan, index=s.index), isna
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64"), isna
    if not pd.api.types.is_object_dtype(s.dtype):  # text (CSV), categorical, ...
        text, _ = as_text(s)
        num = numbers_from_text(text)
        return num, _is_blank(s, text)
    values = s.to_numpy(dtype=object)
    if _only(values, _NUMBER_TYPES):  # JSON numbers and nulls: one conversion
        try:
            num = pa.array(values, type=pa.float64(), from_pandas=True)
            return pd.Series(num.to_numpy(zero_copy_only=False), index=s.index), isna
        except _ARROW_ERRORS:  # an integer beyond float: sorted out below
            pass
    # an odd value (numeric text, a boolean, an array): numbers as numbers, text parsed
    direct = np.fromiter((_number_value(v) for v in values), dtype=np.float64, count=len(values))
    texts = pd.Series([v if isinstance(v, str) else None for v in values], dtype=object)
    parsed = numbers_from_text(texts).to_numpy()
    is_text = texts.notna().to_numpy()
    blank = texts.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
    return pd.Series(np.where(is_text, parsed, direct), index=s.index), isna | blank


def _parse_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Booleans as float 1/0/NaN, and the mask of values that are not booleans."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64"), np.zeros(len(s), dtype=bool)
    values = s
    if pd.api.types.is_object_dtype(s.dtype):
        raw = s.to_numpy(dtype=object)
        if _only(raw, _BOOL_TYPES):  # JSON true/false/null: one conversion
            try:
                flags = pa.array(raw, type=pa.bool_(), from_pandas=True)
                out = flags.cast(pa.float64()).to_numpy(zero_copy_only=False)
                return pd.Series(out, index=s.index), np.zeros(len(s), dtype=bool)
            except _ARROW_ERRORS:  # a float that is not NaN
                pass
        # JSON true/false among text: as the words, so one rule reads both
        values = pd.Series(
            [("true" if v else "false") if isinstance(v, bool) else v for v in raw],
            index=s.index,
            dtype=object,
        )
    text, not_text = as_text(values)
    text = text.str.strip().str.lower()
    is_true = text.isin(list(_TRUE)).fillna(False).to_numpy(dtype=bool)
    is_false = text.isin(list(_FALSE)).fillna(False).to_numpy(dtype=bool)
    missing = values.isna().to_numpy(dtype=bool)
    out = np.where(is_true, 1.0, np.where(is_false, 0.0, np.nan))
    out[text.eq("").fillna(False).to_numpy(dtype=bool)] = np.nan
    invalid = not_text | ~(is_true | is_false | missing)
    return pd.Series(out, index=s.index), invalid


@dataclass
class Checked:
    """A raw chunk coerced to contract types, and each row's reason (``""`` = valid)."""

    clean: pd.DataFrame
    reason: np.ndarray


def validate_frame(raw: pd.DataFrame, reader_reason: np.ndarray | None = None) -> Checked:
    """Coerce one raw chunk to contract dtypes and give each row its first broken rule.

    ``reader_reason`` (from the reader: an invalid JSON line, a ragged CSV record) comes
    before every rule, since such a row's values are not what the source meant.
    """
    n = len(raw)
    conditions: list[np.ndarray] = []
    reasons: list[str] = []
    out: dict[str, pd.Series] = {}

    def rule(mask: pd.Series | np.ndarray, template: str, column: str) -> None:
        conditions.append(np.asarray(mask, dtype=bool))
        reasons.append(_reason(template, column))

    for col in S.REQUEST_COLUMNS:
        name = col.name
        if name not in raw.columns:
            if col.required:
                rule(np.ones(n, dtype=bool), S.REASON_MISSING, name)
            continue
        s = raw[name]
        if col.kind == "string":
            text, not_text = as_text(s)
            rule(not_text, S.REASON_NOT_TEXT, name)
            if col.required:
                rule(_is_blank(s, text), S.REASON_MISSING, name)
            if name == S.STATUS:
                text = text.str.strip().str.lower()
                known = text.isin(list(S.STATUSES)).fillna(False).to_numpy(dtype=bool)
                rule(~known & ~_is_blank(s, text), S.REASON_UNKNOWN_STATUS, name)
            out[name] = text
        elif col.kind == "timestamp":
            ts, missing, beyond = _timestamps(s)
            rule(missing, S.REASON_MISSING, name)
            rule(beyond, S.REASON_TIMESTAMP_OUT_OF_RANGE, name)
            rule(ts.isna().to_numpy() & ~missing, S.REASON_BAD_TIMESTAMP, name)
            out[name] = ts
        elif col.kind in ("int", "float"):
            num, missing = _parse_number(s)
            known = num.notna().to_numpy()
            v = num.to_numpy()
            if col.required:
                rule(missing, S.REASON_MISSING, name)
            rule(~known & ~missing, S.REASON_NOT_NUMBER, name)
            if col.kind == "int":
                rule(known & (np.floor(v) != v), S.REASON_NOT_INTEGER, name)
            if col.minimum is not None:
                if col.strictly_positive:
                    rule(known & (v <= col.minimum), S.REASON_NOT_POSITIVE, name)
                else:
                    rule(known & (v < col.minimum), S.REASON_NEGATIVE, name)
            rule(known & ~np.isfinite(np.where(known, v, 0.0)), S.REASON_NOT_FINITE, name)
            if col.kind == "int":
                # beyond int64 the cast in finalize_dtypes would raise or wrap around
                rule(known & (np.abs(v) >= 2.0**63), S.REASON_OUT_OF_RANGE, name)
            out[name] = num
        else:  # bool
            val, invalid = _parse_bool(s)
            rule(invalid, S.REASON_NOT_BOOLEAN, name)
            out[name] = val

    reason = (
        np.select(conditions, reasons, default="").astype(object)
        if conditions
        else np.full(n, "", dtype=object)
    )
    if reader_reason is not None:
        reason = np.where(reader_reason != "", reader_reason, reason).astype(object)
    clean = pd.DataFrame(out, index=raw.index)
    return Checked(clean, reason)


def finalize_dtypes(clean: pd.DataFrame) -> pd.DataFrame:
    """Cast valid rows to the contract dtypes (ints as int64, optional ints nullable)."""
    for col in S.REQUEST_COLUMNS:
        if col.name not in clean.columns:
            continue
        if col.kind == "int":
            s = clean[col.name]
            clean[col.name] = s.astype("int64") if col.required else s.astype("Int64")
    return clean
