"""Values as the store keeps them: UTC instants and days as ISO text, checked account ids,
deterministic JSON, and booleans read back from text."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from detector.store.names import DateLike


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_instant(value: datetime | str) -> str:
    """ISO-8601 UTC text of an instant; a naive datetime or offset-less string means UTC."""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def iso_date(value: DateLike) -> str:
    """``YYYY-MM-DD`` of a date (a datetime counts by its UTC day, a string is validated)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return date.fromisoformat(value).isoformat()
    raise TypeError(f"expected a date or YYYY-MM-DD string, got {type(value).__name__}")


def optional_date(value: DateLike | None) -> str | None:
    return None if value is None else iso_date(value)


def check_account(value: Any) -> str:
    """Validate an account id: any non-empty string, stored exactly as given."""
    if not isinstance(value, str) or value == "":
        raise ValueError(f"account id must be a non-empty string, got {value!r}")
    return value


def default_analyst() -> str:
    """Who is at the keyboard: ``$USER``, else the login name, else ``unknown``."""
    user = os.environ.get("USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry (containers)
        return "unknown"


def to_json(value: Mapping[str, Any] | None) -> str:
    """Deterministic JSON of a params / counts mapping (dates and paths become strings)."""
    return json.dumps(dict(value or {}), sort_keys=True, default=str)


def as_flag(series: pd.Series) -> pd.Series:
    """Booleans from a ``flagged`` column: bool, 0/1, or ``"true"``/``"false"`` text (CSV)."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.fillna(0).astype(bool)
    text = series.astype(str).str.strip().str.lower()
    return text.isin(("true", "1", "yes", "t"))
