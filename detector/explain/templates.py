"""Reason templates filled by concatenation, for many sentences at once.

A feature's reason template (``"{value} requests/day, {percentile}"``) is filled for
every reason in the score table: hundreds of thousands of distinct (value,
percentile) pairs per million accounts. ``str.format`` once per pair is most of the
cost of the reasons, so a plain template (literal text and bare ``{value}`` /
``{percentile}`` fields) is split once into its pieces, and the sentences are the
pieces concatenated over arrays of texts: the same strings as
:func:`reason_sentence`, which fills every other template one at a time.
"""

from __future__ import annotations

import functools
import itertools
import string
from collections.abc import Iterator, Mapping

import numpy as np

__all__ = ["fill", "join_slots", "reason_sentence", "template_pieces"]

Piece = tuple[bool, str]
"""``(True, field name)`` or ``(False, literal text)``."""


@functools.lru_cache(maxsize=256)
def template_pieces(template: str) -> tuple[Piece, ...] | None:
    """``template`` as literal texts and ``value`` / ``percentile`` fields, in order.

    Includes the bracketed percentile :func:`reason_sentence`
    appends to a template without ``{percentile}``. ``None`` when the template is not
    plain (a format spec, a conversion, another field, a syntax error).
    """
    pieces: list[Piece] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None
    for literal, field, spec, conversion in parsed:
        if literal:
            pieces.append((False, literal))
        if field is None:
            continue
        if field not in ("value", "percentile") or spec or conversion is not None:
            return None
        pieces.append((True, field))
    if "{percentile}" not in template:
        pieces += [(False, " ("), (True, "percentile"), (False, ")")]
    return tuple(pieces)


def fill(pieces: tuple[Piece, ...], fields: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """The ``n`` sentences: ``pieces`` with each field taken from ``fields`` (object arrays).

    Each sentence is one ``"".join`` of its pieces (``map`` over the columns, in C):
    adding the columns piece by piece built and dropped every prefix of every sentence.
    """
    columns = [
        fields[text].tolist() if is_field else itertools.repeat(text, n)
        for is_field, text in pieces
    ]
    return _objects(map("".join, zip(*columns, strict=False)), n)


def join_slots(
    n_rows: int, rows: np.ndarray, slots: np.ndarray, sentences: np.ndarray, separator: str
) -> np.ndarray:
    """Each row's sentences, in slot order, joined by ``separator``; ``""`` for none.

    ``(rows, slots)`` are distinct and each row's slots are ``0..k-1``. Rows are joined
    in groups of equal ``k``, one ``separator.join`` per row.
    """
    out = np.full(n_rows, "", dtype=object)
    if not len(rows):
        return out
    count = np.bincount(rows, minlength=n_rows)
    entry = np.zeros((n_rows, int(slots.max()) + 1), dtype=np.intp)
    entry[rows, slots] = np.arange(len(rows))
    for k in np.unique(count[count > 0]):
        at = np.flatnonzero(count == k)
        columns = [sentences[entry[at, slot]].tolist() for slot in range(k)]
        out[at] = _objects(map(separator.join, zip(*columns, strict=True)), len(at))
    return out


def _objects(texts: Iterator[str], n: int) -> np.ndarray:
    """An object array of ``n`` texts."""
    return np.fromiter(texts, dtype=object, count=n)


def reason_sentence(template: str, name: str, value_text: str, pct_text: str) -> str:
    """A feature's reason ``template`` filled with a value and a percentile text.

    A template without ``{percentile}`` gets the percentile appended in brackets; a
    broken template falls back to ``"<name> is <value>"``.
    """
    try:
        text = template.format(value=value_text, percentile=pct_text)
    except (KeyError, IndexError, ValueError):
        text = f"{name} is {value_text}"
    return text if "{percentile}" in template else f"{text} ({pct_text})"
