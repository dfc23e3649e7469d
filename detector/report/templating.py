"""Jinja2 rendering of the report's templates, with autoescaping always on.

Hand-built f-strings escape a value only where someone remembered to; a template
environment with ``autoescape=True`` escapes every ``{{ value }}`` unless it is marked
safe, so no attacker-controlled id, reason or prompt can reach the page unescaped by
omission. ``StrictUndefined`` makes a misspelt name an error instead of an empty
string. Templates live in ``detector/report/templates`` and are loaded from the
package (no file-system paths, no network).
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2

from detector.safe import safe_terminal, truncate

__all__ = ["render_template"]


def _clean(value: Any, width: int | None = None) -> str:
    """Text for the page: control characters and bidi overrides removed, optionally cut.

    Escaping is the environment's job (autoescape); this only removes what must not be
    shown at all (as the hand-built sections do with :func:`safe_terminal`).
    """
    text = safe_terminal("" if value is None else value, markup=False)
    return truncate(text, width) if width else text


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("detector.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clean"] = _clean
    return env


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/<name>`` with ``context`` (every value autoescaped)."""
    return _environment().get_template(name).render(**context)
