"""Small HTML pieces shared by the sections (all text escaped)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from detector import schema as S
from detector.report.constants import BAND_COLOURS, LONG_ID_CHARS, SAMPLE_CHARS
from detector.safe import html_text, safe_terminal, truncate


def badge(band_name: str) -> str:
    colour = BAND_COLOURS.get(band_name, "#64748b")
    return f'<span class="badge" style="background:{colour}">{html_text(band_name)}</span>'


def kv_table(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column key/value table; values must already be HTML."""
    body = "".join(f"<tr><th>{html_text(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def split_reasons(text: str) -> list[str]:
    return [r for r in str(text).split(S.REASONS_SEPARATOR) if r]


def show_value(value: Any) -> str:
    """Attacker-controlled text (ids, evidence, notes) as HTML text on one line.

    Control characters, ANSI sequences and bidirectional overrides are dropped first
    (:func:`safe_terminal`: they would hide or visually reorder an id), then the text
    is HTML-escaped (:func:`html_text`).
    """
    return html_text(safe_terminal(value, markup=False))


def prompt_html(prompt: str) -> str:
    """A sample prompt: control characters removed, cut, escaped."""
    clean = safe_terminal(prompt, keep_newlines=True, markup=False)
    return f'<pre class="prompt">{html_text(truncate(clean, SAMPLE_CHARS))}</pre>'


def id_class(value: str) -> str:
    """CSS class of a table cell holding an id: kept on one line unless it is very long."""
    return "id long" if len(value) > LONG_ID_CHARS else "id"


def anchor_for(rank: int) -> str:
    return f"acct-{int(rank)}"
