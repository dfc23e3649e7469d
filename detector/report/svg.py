"""Inline SVG plots: bars, percentile gauges."""

from __future__ import annotations

from collections.abc import Sequence

from detector.explain import format_percentile
from detector.report.constants import SUSPICIOUS_PERCENTILE
from detector.safe import html_text

# --- SVG plots ------------------------------------------------------------------------------


def bar_svg(
    values: Sequence[float],
    labels: Sequence[str],
    *,
    title: str,
    width: int = 520,
    height: int = 150,
    label_every: int = 1,
    colours: Sequence[str] | None = None,
    unit: str = "requests",
    marker: float | None = None,
    marker_label: str = "",
) -> str:
    """A bar chart as inline SVG: one bar per value, a tooltip (``<title>``) per bar.

    ``labels`` (x axis) are shown every ``label_every`` bars. ``marker`` draws a vertical
    dashed line at that fractional bar position (e.g. the alert threshold).
    """
    n = len(values)
    left, right, top, bottom = 44, 8, 18, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    vmax = max(float(max(values, default=0.0)), 1.0)
    step = plot_w / max(n, 1)
    bar_w = max(step * 0.8, 1.0)
    parts = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html_text(title)}">',
        f'<text x="{left}" y="12" class="t">{html_text(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'class="axis"/>',
        f'<line x1="{left}" y1="{top}" x2="{left + plot_w}" y2="{top}" class="grid"/>',
        f'<text x="{left - 4}" y="{top + 4}" class="y">{count_text(vmax)}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" class="y">0</text>',
    ]
    for i, v in enumerate(values):
        h = plot_h * float(v) / vmax
        x = left + i * step + (step - bar_w) / 2
        colour = colours[i] if colours is not None else "#2563eb"
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{html_text(labels[i])}: '
            f"{count_text(float(v))} {html_text(unit)}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{left + i * step + step / 2:.1f}" y="{height - 8}" class="x">'
                f"{html_text(labels[i])}</text>"
            )
    if marker is not None:
        mx = left + marker * step
        parts.append(
            f'<line x1="{mx:.1f}" y1="{top}" x2="{mx:.1f}" y2="{top + plot_h}" class="marker"/>'
            f'<text x="{mx + 3:.1f}" y="{top + 10}" class="m">{html_text(marker_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def count_text(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 or float(v).is_integer() else f"{v:.1f}"


def percentile_svg(p: float, direction: str) -> str:
    """A 0–100 track with the suspicious tail(s) shaded and a mark at percentile ``p``."""
    w, h = 140, 14
    tails = []
    if direction in ("high", "both"):
        tails.append((SUSPICIOUS_PERCENTILE, 100.0))
    if direction in ("low", "both"):
        tails.append((0.0, 100.0 - SUSPICIOUS_PERCENTILE))
    shade = "".join(
        f'<rect x="{a / 100 * w:.1f}" y="3" width="{(b - a) / 100 * w:.1f}" height="8" '
        'class="tail"/>'
        for a, b in tails
    )
    x = min(max(p, 0.0), 100.0) / 100 * w
    hot = is_suspicious(p, direction)
    return (
        f'<svg class="pct" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{html_text(format_percentile(p))}">'
        f'<rect x="0" y="5" width="{w}" height="4" class="track"/>{shade}'
        f'<rect x="{max(x - 2, 0):.1f}" y="0" width="4" height="{h}" '
        f'class="{"mark hot" if hot else "mark"}"/></svg>'
    )


def is_suspicious(p: float, direction: str) -> bool:
    """Whether percentile ``p`` is past the citable cut on the feature's suspicious side."""
    high = p >= SUSPICIOUS_PERCENTILE and direction in ("high", "both")
    low = p <= 100 - SUSPICIOUS_PERCENTILE and direction in ("low", "both")
    return high or low
