"""Reason templates filled by concatenation, for many sentences at once.

A feature's reason template (``"{value} requests/day, {percentile}"``) is filled for
every reason in the score table: hundreds of thousands of distinct (value,
percentile) pairs per million accounts. ``str.format`` once per pair is most of the
cost of the reasons, so a plain template (literal text and bare ``{value}`` /
``{percentile}`` fields) is split once into its pieces, and the sentences are the
pieces concatenated over arrays of texts: the same strings as
:func:`detector.explain.reasons.reason_sentence`, which still handles every other
template.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping

import numpy as np

__all__ = ["fill", "template_pieces"]

Piece = tuple[bool, str]
"""``(True, field name)`` or ``(False, literal text)``."""


@functools.lru_cache(maxsize=256)
def template_pieces(template: str) -> tuple[Piece, ...] | None:
    """``template`` as literal texts and ``value`` / ``percentile`` fields, in order.

    Includes the bracketed percentile :func:`~detector.explain.reasons.reason_sentence`
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
    """The ``n`` sentences: ``pieces`` with each field taken from ``fields`` (object arrays)."""
    out = np.full(n, "", dtype=object)
    for is_field, text in pieces:
        out = out + (fields[text] if is_field else text)
    return out
