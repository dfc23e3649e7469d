"""Feature values and percentiles in words, as reasons and the report print them.

A reason says "12,400 requests per active day (99.6th percentile)": every feature's
``unit`` (from its :class:`~detector.features.registry.FeatureSpec`) has one formatter
here, so a value reads the same in a reason sentence, the ``value_text`` column, the
CLI and the HTML report.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Final

__all__ = [
    "BARE_IN_SENTENCE",
    "UNIT_FORMATTERS",
    "format_percentile",
    "format_value",
]


def _number(x: float) -> str:
    """A number for people: 3 significant digits, thousands separators, no ``-0``."""
    if not math.isfinite(x):
        return str(x)
    ax = abs(x)
    if ax >= 1000:
        digits = math.floor(math.log10(ax)) + 1
        text = f"{round(x, 3 - digits):,.0f}"
    elif ax >= 100 or ax == 0 or float(x).is_integer():
        text = f"{x:,.0f}"
    elif ax >= 1:
        text = f"{x:.1f}"
    else:
        text = f"{x:.2g}"
    return "0" if text in ("-0", "-0.0", "-0.00") else text


def _share(x: float) -> str:
    pct = 100.0 * x
    if pct == 0 or pct >= 1 or pct <= -1:
        return f"{pct:.0f}%"
    return f"{pct:.1f}%"


def _seconds(x: float) -> str:
    if abs(x) >= 3600:
        return f"{x / 3600:.1f} h"
    if abs(x) >= 120:
        return f"{x / 60:.1f} min"
    return f"{_number(x)} s"


def _hours(x: float) -> str:
    if abs(x) >= 72:
        return f"{x / 24:.1f} days"
    return f"{_number(x)} h"


def _suffix(suffix: str) -> Callable[[float], str]:
    return lambda x: f"{_number(x)}{suffix}"


UNIT_FORMATTERS: Final[dict[str, Callable[[float], str]]] = {
    "share": _share,
    "per_day": _suffix("/day"),
    "per_hour": _suffix("/hour"),
    "per_minute": _suffix("/min"),
    "tokens": _suffix(" tokens"),
    "seconds": _seconds,
    "hours": _hours,
    "days": _suffix(" days"),
    "bits": _suffix(" bits"),
    "count": _number,
    "ratio": _suffix("×"),
}
"""Unit → formatter of ``value_text``. An unknown unit renders as ``"<number> <unit>"``."""
BARE_IN_SENTENCE: Final[frozenset[str]] = frozenset(
    {"per_day", "per_hour", "per_minute", "tokens", "count", "ratio"}
)
"""Units whose noun the reason templates spell out themselves ("{value} requests per
active day", "{value} output tokens per request"): in *sentences* these values render
as the bare number, so the unit is not said twice. ``value_text`` always has the unit."""


@functools.lru_cache(maxsize=65536)
def format_value(value: float, unit: str, *, in_sentence: bool = False) -> str:
    """Render a feature value in its human unit.

    Parameters
    ----------
    value : the raw feature value.
    unit : the spec's unit (see :data:`UNIT_FORMATTERS`).
    in_sentence : render for a reason template: units in :data:`BARE_IN_SENTENCE`
        become the bare number.

    Returns
    -------
    e.g. ``"91%"`` (share 0.91), ``"12,400/day"``, ``"1,850 tokens"``, ``"4.2 s"``.

    Examples
    --------
    >>> format_value(0.914, "share"), format_value(12431, "per_day")
    ('91%', '12,400/day')
    >>> format_value(12431, "per_day", in_sentence=True)
    '12,400'
    """
    if in_sentence and unit in BARE_IN_SENTENCE:
        return _number(float(value))
    formatter = UNIT_FORMATTERS.get(unit)
    if formatter is None:
        return f"{_number(value)} {unit}".rstrip()
    return formatter(float(value))


@functools.lru_cache(maxsize=4096)
def format_percentile(p: float) -> str:
    """``"99.6th percentile"``; one decimal only in the outer 1 %, where it matters.

    The outer 1 % is rounded *towards* the middle, so "100th" and "0th" are only said
    of values beyond every training account.
    """
    if 1.0 < p < 99.0:
        n = round(p)
        text = str(n)
    else:
        r = math.floor(p * 10 + 1e-9) / 10 if p >= 99.0 else math.ceil(p * 10 - 1e-9) / 10
        n = round(r)
        text = str(n) if r == n else f"{r:.1f}"
    # the ordinal follows the last digit said: 99.2nd, 99.9th, 12th, 21st
    last = int(text[-1])
    if "." not in text and 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(last, "th")
    return f"{text}{suffix} percentile"
