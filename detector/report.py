"""The analyst's report: one self-contained HTML file per scoring.

An analyst decides in minutes whether a flagged account is extracting capabilities,
often on a laptop without network access, so the report is a single HTML file with
inline CSS and inline SVG plots: no scripts, fonts, CDNs or images to fetch. A
``Content-Security-Policy`` meta tag forbids every external load and every script as a
second line of defence.

Everything shown that comes from the investigated accounts -- account ids, prompts,
cluster ids and evidence read back from the sidecars -- is passed through
:func:`detector.safe.html_text` (prompts are first stripped of control characters and
bidirectional overrides with :func:`detector.safe.safe_terminal`). Anchors use the
account's *rank*, never its id, so no attacker-controlled text reaches an attribute
other than escaped text.

Sections: summary; ranked table of flagged accounts; one section per flagged account
(up to ``max_accounts``: feature values against the training population's
percentiles, hourly activity and daily volume plots, template concentration, sample
prompts, cluster membership); clusters; a model card.

:func:`account_activity` (hourly / daily counts and sample prompts of a few accounts,
streamed from the log) is shared with ``detector explain``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from detector import schema as S
from detector.artifacts import Bundle, load_bundle, read_manifest
from detector.config import DEFAULT, Config
from detector.errors import UserError
from detector.explain import forest_contributions, format_percentile, format_value, percentiles
from detector.features import SPECS
from detector.ingest import iter_clean
from detector.model import BAND_LABELS, band
from detector.outputs import Scoring, read_scoring
from detector.pipeline import Progress
from detector.safe import atomic_write_text, html_text, safe_terminal, truncate

__all__ = [
    "Activity",
    "account_activity",
    "render_report",
    "require_activity",
    "scored_window",
    "sparkline",
    "write_report",
]

SAMPLE_PROMPTS: Final = 5
"""Distinct sample prompts kept per account."""
SAMPLE_CHARS: Final = 400
"""Sample prompts are cut to this many characters (a 100 kB prompt must not swamp a page)."""
TOP_FEATURES: Final = 12
"""Features shown per account before the rest fold into a <details> element."""
MAX_OTHER_CLUSTERS: Final = 25
"""Clusters without a flagged member listed in the clusters table."""
SUSPICIOUS_PERCENTILE: Final = 90.0
LONG_ID_CHARS: Final = 32
"""Ids longer than this may wrap in tables (attacker-chosen ids can be any length)."""
SPARK_BLOCKS: Final = "▁▂▃▄▅▆▇█"
MAX_DAILY_SPAN_DAYS: Final = 366
"""The daily plot covers every day from the first to the last request when that span is
shorter than this; a longer one (a stray row from decades away in an unwindowed log)
plots only the days that hold a request, so the plot is bounded by the data."""
PROGRESS_STAGE: Final = "reading the log for the flagged accounts"

TEMPLATE_FEATURES: Final = (
    "top_template_share",
    "wrapper_reuse",
    "distinct_prompt_ratio",
    "template_entropy",
    "cluster_template_share",
)
"""Features that together say how templated an account's prompts are."""

BAND_COLOURS: Final = {
    "critical": "#b91c1c",
    "high": "#ea580c",
    "medium": "#ca8a04",
    "low": "#64748b",
}

# Defence in depth: even if some text escaped escaping, nothing could load or run.
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# --- reading the log: activity of a few accounts -------------------------------------------


@dataclass
class Activity:
    """What the log says about a handful of accounts (the flagged ones).

    Attributes
    ----------
    hourly : requests per UTC hour of day; index ``account_id``, columns ``0..23``.
    daily : requests per UTC day; index ``account_id``, one column per day (midnight
        UTC timestamps, contiguous from the first to the last day seen).
    samples : up to :data:`SAMPLE_PROMPTS` distinct prompts per account, in log order,
        cut to :data:`SAMPLE_CHARS` + 1 characters (so :func:`truncate` can tell a cut).
    has_prompts : whether the log has a ``prompt`` column at all.
    """

    hourly: pd.DataFrame
    daily: pd.DataFrame
    samples: dict[str, list[str]] = field(default_factory=dict)
    has_prompts: bool = False

    def requests(self, account_id: str) -> int:
        """Requests of ``account_id`` in the log window (0 if none)."""
        if account_id not in self.hourly.index:
            return 0
        return int(self.hourly.loc[account_id].sum())


def account_activity(
    log: Path | Sequence[Path],
    accounts: Iterable[str],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    max_samples: int = SAMPLE_PROMPTS,
    sample_chars: int = SAMPLE_CHARS,
    config: Config = DEFAULT,
    progress: Progress | None = None,
) -> Activity:
    """Hourly and daily request counts and sample prompts of ``accounts`` in ``log``.

    Streams the log chunk by chunk (:func:`detector.ingest.iter_clean`: validated and
    deduplicated exactly as scoring saw it) and keeps only the wanted accounts' rows
    (``isin``), so memory is bounded by the chunk size plus a few counts per account,
    whatever the log's size. Nothing is quarantined here; invalid rows are skipped as
    scoring skipped them. ``progress(stage, rows)`` is called once per chunk read.
    """
    wanted = pd.Index(pd.unique(pd.Series(list(accounts), dtype=object)))
    hourly_parts: list[pd.Series] = []
    daily_parts: list[pd.Series] = []
    samples = pd.DataFrame({S.ACCOUNT_ID: pd.Series(dtype=object), S.PROMPT: []})
    has_prompts = False
    if len(wanted):
        for chunk in iter_clean(log, start=start, end=end, config=config):
            if progress is not None:
                progress(PROGRESS_STAGE, len(chunk))
            mask = chunk[S.ACCOUNT_ID].isin(wanted).to_numpy(dtype=bool)
            if not mask.any():
                has_prompts = has_prompts or S.PROMPT in chunk.columns
                continue
            acct = chunk.loc[mask, S.ACCOUNT_ID].astype(object).to_numpy()
            ts = chunk.loc[mask, S.TIMESTAMP]
            hourly_parts.append(pd.Series(1, index=[acct, ts.dt.hour.to_numpy()]))
            day = ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize().to_numpy()
            daily_parts.append(pd.Series(1, index=[acct, day]))
            # aggregate each chunk at once so memory stays at accounts × (24 + days)
            hourly_parts = [pd.concat(hourly_parts).groupby(level=[0, 1]).sum()]
            daily_parts = [pd.concat(daily_parts).groupby(level=[0, 1]).sum()]
            if S.PROMPT in chunk.columns:
                has_prompts = True
                text = chunk.loc[mask, S.PROMPT].astype(object)
                keep = text.notna().to_numpy() & (text.astype(str).str.strip() != "").to_numpy()
                part = pd.DataFrame(
                    {S.ACCOUNT_ID: acct[keep], S.PROMPT: text[keep].astype(str).to_numpy()}
                ).drop_duplicates()
                part[S.PROMPT] = part[S.PROMPT].str.slice(0, sample_chars + 1)
                samples = (
                    pd.concat([samples, part.groupby(S.ACCOUNT_ID, sort=False).head(max_samples)])
                    .drop_duplicates()
                    .groupby(S.ACCOUNT_ID, sort=False)
                    .head(max_samples)
                )
    hourly = _unstack(hourly_parts, columns=range(24))
    days: pd.DatetimeIndex | None = None
    if daily_parts and len(daily_parts[0]):
        seen = daily_parts[0].index.get_level_values(1)
        days = pd.DatetimeIndex(seen.unique()).sort_values()
        if (seen.max() - seen.min()).days < MAX_DAILY_SPAN_DAYS:  # else only the days seen
            days = pd.date_range(seen.min(), seen.max(), freq="D")
    daily = _unstack(daily_parts, columns=days if days is not None else [])
    by_account = {
        str(a): [str(p) for p in g[S.PROMPT]]
        for a, g in samples.groupby(S.ACCOUNT_ID, sort=False)  # one group per account
    }
    return Activity(hourly=hourly, daily=daily, samples=by_account, has_prompts=has_prompts)


def require_activity(
    activity: Activity,
    accounts: Sequence[str],
    log: Path | Sequence[Path],
    start: dt.date | None,
    end: dt.date | None,
) -> None:
    """Fail when ``log`` has no request of any of ``accounts`` between ``start`` and ``end``.

    Every scored account made requests in the scored window, so a log in which none of
    them appears is not the log the scores came from (or the window is wrong): the
    report would show empty activity as if that were a finding.
    """
    if not len(accounts) or int(activity.hourly.to_numpy().sum()) > 0:
        return
    window = f" between {start or 'the first day'} and {end or 'the last day'}"
    raise UserError(
        f"--log {log}: no request from any of the {len(accounts):,} scored account(s) "
        f"looked up{window}; give the log these scores were made from (or fix --start/--end)"
    )


def _unstack(parts: list[pd.Series], columns: Iterable[Any]) -> pd.DataFrame:
    """A (account, key) → count series as an account × key frame with all ``columns``."""
    cols = list(columns)
    if not parts or not len(parts[0]):
        frame = pd.DataFrame(columns=cols, dtype=np.int64)
        frame.index.name = S.ACCOUNT_ID
        return frame
    frame = parts[0].unstack(fill_value=0).reindex(columns=cols, fill_value=0).astype(np.int64)
    frame.index.name = S.ACCOUNT_ID
    return frame


def sparkline(counts: Sequence[float]) -> str:
    """Unicode block sparkline (``▁▂▃▄▅▆▇█``); zero is ``▁``, any activity at least ``▂``."""
    values = np.asarray(counts, dtype=float)
    top = values.max() if len(values) else 0.0
    if top <= 0:
        return SPARK_BLOCKS[0] * len(values)
    levels = np.where(values > 0, np.clip(np.ceil(values / top * 7 - 1e-9), 1, 7), 0).astype(int)
    return "".join(SPARK_BLOCKS[i] for i in levels)


# --- inputs -------------------------------------------------------------------------------


@dataclass
class _Inputs:
    """Everything the report is rendered from."""

    scores_path: Path
    table: pd.DataFrame
    meta: dict[str, Any]
    features: pd.DataFrame | None
    clusters: list[dict[str, Any]]
    bundle: Bundle | None
    bundle_note: str
    manifest: dict[str, Any] | None
    activity: Activity | None
    log: Path | None
    window: tuple[dt.date | None, dt.date | None]
    cases: pd.DataFrame | None
    state_note: str
    max_accounts: int


def _day(value: Any) -> dt.date | None:
    """The UTC day of an ISO instant from the meta sidecar, or ``None``."""
    if not value:
        return None
    try:
        return pd.Timestamp(str(value)).tz_convert("UTC").date()
    except (ValueError, TypeError):
        try:
            return pd.Timestamp(str(value)).date()
        except (ValueError, TypeError):
            return None


def scored_window(meta: dict[str, Any]) -> tuple[dt.date | None, dt.date | None]:
    """First and last UTC day of the requests a scoring saw (from its meta sidecar)."""
    return _day(meta.get("window_start")), _day(meta.get("window_end"))


def _load_model(scoring: Scoring) -> tuple[Bundle | None, dict[str, Any] | None, str]:
    """The bundle the scores were made with, its manifest, and a note if it is unusable."""
    path = scoring.meta.get("model_path")
    if not path:
        return None, None, "the scores' meta sidecar names no model, so percentiles are omitted"
    try:
        bundle = load_bundle(path)
        want = scoring.model_version
        if want and bundle.version != want:
            note = (
                f"model bundle {path} now holds model {bundle.version}, not {want} that made "
                "these scores; percentiles are omitted"
            )
            return None, None, note
        return bundle, bundle.manifest, ""
    except (OSError, ValueError) as exc:  # BundleError is a ValueError
        note = f"model bundle {path} is not available ({exc}); percentiles are omitted"
    try:
        return None, read_manifest(path, verify=False), note
    except (OSError, ValueError):
        return None, None, note


def _load_cases(state: Path | None) -> tuple[pd.DataFrame | None, str]:
    """Case status of every account with a verdict, alert or suppression (or a note why not)."""
    if state is None:
        return None, ""
    if not Path(state).is_dir():
        return None, f"state directory {state} does not exist; case status is omitted"
    from detector.store import Store

    with Store.open(state) as store:
        cases = store.cases(dt.datetime.now(dt.UTC).date())
    return cases.set_index(S.ACCOUNT_ID), ""


def _inputs(
    scores_path: Path,
    log: Path | None,
    start: dt.date | None,
    end: dt.date | None,
    max_accounts: int,
    state: Path | None,
    progress: Progress | None = None,
) -> _Inputs:
    scoring = read_scoring(scores_path)
    table, meta, features = scoring.table, scoring.meta, scoring.features
    if S.BAND not in table.columns:
        table[S.BAND] = band(table[S.SCORE].to_numpy(dtype=float))
    bundle, manifest, note = _load_model(scoring)
    if bundle is not None and features is not None:
        missing = [f for f in bundle.features if f not in features.columns]
        if missing:
            note = (
                f"the feature table lacks {len(missing)} of the model's features "
                f"({', '.join(missing[:3])}…); percentiles are omitted"
            )
            bundle = None
    window = scored_window(meta)
    start, end = start or window[0], end or window[1]
    flagged = table[table[S.FLAGGED]].sort_values(S.RANK, kind="stable")
    shown = flagged[S.ACCOUNT_ID].head(max_accounts).tolist()
    activity = None
    if log is not None:
        activity = account_activity(log, shown, start=start, end=end, progress=progress)
        require_activity(activity, shown, log, start, end)
    cases, state_note = _load_cases(state)
    return _Inputs(
        scores_path=scores_path,
        table=table,
        meta=meta,
        features=features,
        clusters=scoring.clusters,
        bundle=bundle,
        bundle_note=note,
        manifest=manifest,
        activity=activity,
        log=log,
        window=(start, end),
        cases=cases,
        state_note=state_note,
        max_accounts=max_accounts,
    )


# --- SVG plots ------------------------------------------------------------------------------


def _bar_svg(
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
        f'<text x="{left - 4}" y="{top + 4}" class="y">{_count(vmax)}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" class="y">0</text>',
    ]
    for i, v in enumerate(values):
        h = plot_h * float(v) / vmax
        x = left + i * step + (step - bar_w) / 2
        colour = colours[i] if colours is not None else "#2563eb"
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{html_text(labels[i])}: '
            f"{_count(float(v))} {html_text(unit)}</title></rect>"
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


def _count(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 or float(v).is_integer() else f"{v:.1f}"


def _percentile_svg(p: float, direction: str) -> str:
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
    hot = _suspicious(p, direction)
    return (
        f'<svg class="pct" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{html_text(format_percentile(p))}">'
        f'<rect x="0" y="5" width="{w}" height="4" class="track"/>{shade}'
        f'<rect x="{max(x - 2, 0):.1f}" y="0" width="4" height="{h}" '
        f'class="{"mark hot" if hot else "mark"}"/></svg>'
    )


def _suspicious(p: float, direction: str) -> bool:
    """Whether percentile ``p`` is past the citable cut on the feature's suspicious side."""
    high = p >= SUSPICIOUS_PERCENTILE and direction in ("high", "both")
    low = p <= 100 - SUSPICIOUS_PERCENTILE and direction in ("low", "both")
    return high or low


# --- HTML pieces ----------------------------------------------------------------------------

STYLE: Final = """
:root { --fg:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,
  sans-serif; color:var(--fg); background:var(--bg); }
header { background:#0f172a; color:#f8fafc; padding:18px 32px 12px; }
header h1 { margin:0 0 4px; font-size:22px; }
header p { margin:0; color:#cbd5e1; }
nav { margin-top:10px; }
nav a { color:#93c5fd; margin-right:18px; text-decoration:none; }
main { max-width:1280px; margin:0 auto; padding:8px 32px 48px; }
section { margin-top:28px; }
h2 { font-size:19px; border-bottom:2px solid var(--line); padding-bottom:4px; }
h3 { font-size:16px; margin:0 0 6px; }
h4 { font-size:13px; margin:14px 0 4px; color:var(--muted); text-transform:uppercase;
  letter-spacing:.04em; }
a { color:var(--accent); }
.cards { display:flex; flex-wrap:wrap; gap:12px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 14px;
  min-width:150px; }
.card .v { font-size:22px; font-weight:600; }
.card .k { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; background:#fff; width:100%; }
th, td { border-bottom:1px solid var(--line); padding:5px 8px; text-align:left;
  vertical-align:top; }
th { background:#f1f5f9; font-weight:600; font-size:12px; color:#334155; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.id { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12.5px;
  white-space:nowrap; }
td.id.long { white-space:normal; overflow-wrap:anywhere; min-width:22ch; }
table.kv { width:auto; }
table.kv th { text-align:left; background:none; color:var(--muted); font-weight:500;
  white-space:nowrap; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff;
  font-size:12px; font-weight:600; }
.muted { color:var(--muted); }
.reduced { background:#fee2e2; border:2px solid #dc2626; border-radius:6px; padding:8px 12px;
  font-weight:600; }
.note { background:#fef9c3; border:1px solid #fde047; border-radius:6px; padding:6px 10px; }
article.acct { background:#fff; border:1px solid var(--line); border-radius:10px;
  padding:16px 18px; margin:18px 0; }
article.acct h3 .id { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  word-break:break-all; }
.grid { display:grid; grid-template-columns:minmax(0,1fr) minmax(0,1fr); gap:10px 24px; }
@media (max-width: 1000px) { .grid { grid-template-columns:minmax(0,1fr); }
  main { padding:8px 14px 32px; } header { padding:14px 14px 10px; } }
article.acct, section { overflow-x:auto; }
ul.reasons { margin:6px 0 0; padding-left:20px; }
ol.samples { padding-left:22px; margin:4px 0; }
ol.samples li { margin:4px 0; }
pre.prompt { margin:0; white-space:pre-wrap; word-break:break-word; max-height:8.5em;
  overflow:auto; background:#f1f5f9; border:1px solid var(--line); border-radius:4px;
  padding:4px 8px; font-size:12px; }
svg.plot { max-width:100%; height:auto; }
svg text { font:10px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; fill:#475569; }
svg text.t { font-size:11px; font-weight:600; fill:#0f172a; }
svg text.y { text-anchor:end; }
svg text.x { text-anchor:middle; }
svg text.m { fill:#b91c1c; }
svg .axis { stroke:#94a3b8; } svg .grid { stroke:#e2e8f0; stroke-dasharray:3 3; }
svg .marker { stroke:#b91c1c; stroke-dasharray:4 3; }
svg .track { fill:#e2e8f0; } svg .tail { fill:#fecaca; }
svg .mark { fill:#334155; } svg .mark.hot { fill:#b91c1c; }
tr.hot td.pv { color:#b91c1c; font-weight:600; }
details summary { cursor:pointer; color:var(--accent); margin:6px 0; }
.top { font-size:12px; float:right; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:16px; }
"""


def _badge(band_name: str) -> str:
    colour = BAND_COLOURS.get(band_name, "#64748b")
    return f'<span class="badge" style="background:{colour}">{html_text(band_name)}</span>'


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column key/value table; values must already be HTML."""
    body = "".join(f"<tr><th>{html_text(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _reasons(text: str) -> list[str]:
    return [r for r in str(text).split(S.REASONS_SEPARATOR) if r]


def _show(value: Any) -> str:
    """Attacker-controlled text (ids, evidence, notes) as HTML text on one line.

    Control characters, ANSI sequences and bidirectional overrides are dropped first
    (:func:`safe_terminal`: they would hide or visually reorder an id), then the text
    is HTML-escaped (:func:`html_text`).
    """
    return html_text(safe_terminal(value, markup=False))


def _prompt_html(prompt: str) -> str:
    """A sample prompt: control characters removed, cut, escaped."""
    clean = safe_terminal(prompt, keep_newlines=True, markup=False)
    return f'<pre class="prompt">{html_text(truncate(clean, SAMPLE_CHARS))}</pre>'


def _id_class(value: str) -> str:
    """CSS class of a table cell holding an id: kept on one line unless it is very long."""
    return "id long" if len(value) > LONG_ID_CHARS else "id"


def _anchor(rank: int) -> str:
    return f"acct-{int(rank)}"


class _Page:
    """Renders the report from :class:`_Inputs` (one method per section)."""

    def __init__(self, inp: _Inputs) -> None:
        self.inp = inp
        table = inp.table
        self.flagged = table[table[S.FLAGGED]].sort_values(S.RANK, kind="stable")
        self.shown = self.flagged.head(inp.max_accounts)
        self.anchor_of = dict(
            zip(self.shown[S.ACCOUNT_ID], (_anchor(r) for r in self.shown[S.RANK]), strict=True)
        )
        self.cluster_anchor = {
            str(c.get("cluster_id", "")): f"cluster-{i}" for i, c in enumerate(inp.clusters)
        }
        self.cluster_by_id = {str(c.get("cluster_id", "")): c for c in inp.clusters}
        self.pct, self.contrib = self._percentiles()

    # -- data ----------------------------------------------------------------------------

    def _percentiles(self) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """Training percentiles and forest contributions of the shown accounts (one batch)."""
        inp = self.inp
        if inp.bundle is None or inp.features is None:
            return None, None
        ids = [a for a in self.shown[S.ACCOUNT_ID] if a in inp.features.index]
        if not ids:
            return None, None
        feats = inp.features.loc[ids, list(inp.bundle.features)]
        pct = percentiles(inp.bundle.model, feats.to_numpy(dtype=float))
        pct_frame = pd.DataFrame(pct, index=feats.index, columns=feats.columns)
        contrib = forest_contributions(inp.bundle.model, feats)
        contrib.index = feats.index
        return pct_frame, contrib

    def _feature_rows(self, account: str) -> list[dict[str, Any]]:
        """The account's features, most telling first (contribution, then extremeness)."""
        feats = self.inp.features
        if feats is None or account not in feats.index:
            return []
        names = (
            list(self.inp.bundle.features)
            if self.pct is not None and self.inp.bundle is not None
            else [c for c in feats.columns if c in SPECS]
        )
        rows = []
        for name in names:
            spec = SPECS.get(name)
            value = float(feats.at[account, name])
            row: dict[str, Any] = {
                "name": name,
                "value": value,
                "text": format_value(value, spec.unit) if spec else f"{value:.3g}",
                "direction": spec.direction if spec else "high",
                "description": spec.description if spec else "",
                "pct": None,
                "contrib": 0.0,
            }
            if self.pct is not None and account in self.pct.index:
                row["pct"] = float(self.pct.at[account, name])
                row["contrib"] = float(self.contrib.at[account, name])  # type: ignore[union-attr]
            rows.append(row)
        rows.sort(
            key=lambda r: (
                -r["contrib"],
                -abs((r["pct"] if r["pct"] is not None else 50.0) - 50.0),
            )
        )
        return rows

    # -- page ----------------------------------------------------------------------------

    def html(self) -> str:
        inp = self.inp
        start, end = inp.window
        window = f"{start or '?'} – {end or '?'}"
        generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        sections = [
            self.summary(),
            self.ranked(),
            self.accounts(),
            self.clusters(),
            self.model_card(),
        ]
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f"<title>Capability-extraction report {html_text(window)}</title>"
            f"<style>{STYLE}</style></head><body>"
            '<header id="top"><h1>Capability-extraction report</h1>'
            f"<p>window {html_text(window)} · scores {html_text(inp.scores_path.name)} · "
            f"generated {html_text(generated)}</p>"
            '<nav><a href="#summary">Summary</a><a href="#flagged">Flagged accounts</a>'
            '<a href="#accounts">Account details</a><a href="#clusters">Clusters</a>'
            '<a href="#model">Model card</a></nav></header><main>'
            + "".join(sections)
            + "</main><footer>Self-contained report: no scripts, no network resources. "
            "Account ids and prompts are shown as text, exactly as logged.</footer>"
            "</body></html>\n"
        )

    def summary(self) -> str:
        inp, table, meta = self.inp, self.inp.table, self.inp.meta
        n = len(table)
        flagged = self.flagged
        by_band = flagged[S.BAND].value_counts()
        cards = [
            ("accounts scored", f"{n:,}"),
            ("flagged", f"{len(flagged):,}" + (f" ({len(flagged) / n:.1%})" if n else "")),
        ]
        cards += [
            (f"flagged {b}", f"{int(by_band.get(b, 0)):,}")
            for b in reversed(BAND_LABELS)
            if by_band.get(b, 0)
        ]
        if S.SUPPRESSED in table.columns:
            cards.append(("suppressed", f"{int(table[S.SUPPRESSED].astype(bool).sum()):,}"))
        clustered = [c for c in inp.clusters if c.get("flagged_members")]
        cards.append(("clusters with a flagged member", f"{len(clustered):,}"))
        card_html = "".join(
            f'<div class="card"><div class="v">{html_text(v)}</div>'
            f'<div class="k">{html_text(k)}</div></div>'
            for k, v in cards
        )
        threshold = meta.get("threshold")
        ing = meta.get("ingest") or {}
        facts = [
            ("model version", html_text(meta.get("model_version") or "unknown")),
            (
                "scored window",
                html_text(f"{meta.get('window_start', '?')} – {meta.get('window_end', '?')}"),
            ),
            (
                "alert threshold",
                html_text(
                    f"score ≥ {threshold:g}"
                    if isinstance(threshold, (int, float))
                    else f"alert budget {meta.get('budget')}"
                    if meta.get("budget")
                    else "unknown"
                ),
            ),
        ]
        if ing:
            facts.append(
                (
                    "log rows",
                    html_text(
                        f"read {ing.get('read', 0):,} · kept {ing.get('kept', 0):,} · "
                        f"duplicates {ing.get('duplicates', 0):,} · "
                        f"quarantined {ing.get('quarantined', 0):,}"
                        + (
                            f" · outside window {ing['outside_window']:,}"
                            if ing.get("outside_window")
                            else ""
                        )
                        + (" (reconciles)" if ing.get("reconciles") else "")
                    ),
                )
            )
            if ing.get("quarantine_reasons"):
                reasons = ", ".join(
                    f"{k}: {v:,}" for k, v in sorted(ing["quarantine_reasons"].items())
                )
                facts.append(("quarantine reasons", html_text(reasons)))
            if ing.get("missing_optional_columns"):
                facts.append(
                    (
                        "optional columns missing",
                        html_text(", ".join(ing["missing_optional_columns"])),
                    )
                )
        if meta.get("features_omitted"):
            facts.append(
                (
                    "features omitted",
                    html_text(", ".join(f"{k} ({v})" for k, v in meta["features_omitted"].items())),
                )
            )
        facts.append(
            (
                "activity source",
                html_text(str(inp.log))
                if inp.log is not None
                else "no request log given: activity plots and sample prompts are omitted",
            )
        )
        notes = "".join(
            f'<p class="reduced">Reduced features: {html_text(x)}</p>'
            for x in meta.get("reduced_features") or ()
        ) + "".join(
            f'<p class="note">{html_text(x)}</p>' for x in (inp.bundle_note, inp.state_note) if x
        )
        return (
            '<section id="summary"><h2>Summary</h2>'
            f'<div class="cards">{card_html}</div>{notes}'
            f'<div class="grid" style="margin-top:14px"><div>{_kv(facts)}</div>'
            f"<div>{self._histogram(threshold)}</div></div></section>"
        )

    def _histogram(self, threshold: Any) -> str:
        """Score distribution of the population in 5-point bins, flagged bins in red."""
        scores = self.inp.table[S.SCORE].to_numpy(dtype=float)
        counts, edges = np.histogram(np.clip(scores, 0, 100), bins=20, range=(0, 100))
        flagged_scores = self.flagged[S.SCORE].to_numpy(dtype=float)
        lo = flagged_scores.min() if len(flagged_scores) else math.inf
        colours = ["#b91c1c" if e + 5 > lo else "#94a3b8" for e in edges[:-1]]
        labels = [f"{e:.0f}–{e + 5:.0f}" for e in edges[:-1]]
        marker = float(threshold) / 5 if isinstance(threshold, (int, float)) else None
        svg = _bar_svg(
            counts.tolist(),
            labels,
            title="Scores of all accounts (bins of 5 points)",
            label_every=4,
            colours=colours,
            unit="accounts",
            marker=marker,
            marker_label="threshold" if marker is not None else "",
        )
        return svg

    def ranked(self) -> str:
        inp = self.inp
        if self.flagged.empty:
            return (
                '<section id="flagged"><h2>Flagged accounts</h2>'
                "<p>No account is over the alert threshold.</p></section>"
            )
        has_cases = inp.cases is not None
        head = (
            '<tr><th class="n">rank</th><th>account</th><th class="n">score</th><th>band</th>'
            "<th>cluster</th>"
            + ("<th>case</th>" if has_cases else "")
            + "<th>top reasons</th></tr>"
        )
        rows = []
        for r in self.flagged.itertuples(index=False):  # one row per flagged account
            d = r._asdict()
            account = str(d[S.ACCOUNT_ID])
            anchor = self.anchor_of.get(account)
            name = _show(account)
            cell = f'<a href="#{anchor}">{name}</a>' if anchor else name
            cid = str(d[S.CLUSTER_ID] or "")
            canchor = self.cluster_anchor.get(cid)
            ccell = f'<a href="#{canchor}">{_show(cid)}</a>' if canchor and cid else _show(cid)
            reasons = "".join(f"<li>{_show(x)}</li>" for x in _reasons(d[S.REASONS])[:3])
            case = ""
            if has_cases:
                case = f"<td>{html_text(self._case_status(account))}</td>"
            rows.append(
                f'<tr><td class="n">{int(d[S.RANK])}</td>'
                f'<td class="{_id_class(account)}">{cell}</td>'
                f'<td class="n">{float(d[S.SCORE]):.1f}</td><td>{_badge(str(d[S.BAND]))}</td>'
                f'<td class="{_id_class(cid)}">{ccell}</td>{case}'
                f'<td><ul class="reasons">{reasons}</ul></td></tr>'
            )
        more = ""
        if len(self.flagged) > len(self.shown):
            more = (
                f'<p class="muted">Details below for the top {len(self.shown)} of '
                f"{len(self.flagged)} flagged accounts (--max-accounts).</p>"
            )
        return (
            f'<section id="flagged"><h2>Flagged accounts ({len(self.flagged):,})</h2>{more}'
            f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></section>"
        )

    def _case_status(self, account: str) -> str:
        cases = self.inp.cases
        if cases is None or account not in cases.index:
            return "new"
        return str(cases.at[account, "status"])

    def _case_line(self, account: str) -> str:
        cases = self.inp.cases
        if cases is None:
            return ""
        if account not in cases.index:
            return '<p class="muted">Case: new — no verdict, alert or suppression recorded.</p>'
        c = cases.loc[account]
        parts = [f"Case: <b>{html_text(c['status'])}</b>"]
        if isinstance(c.get("verdict"), str) and c.get("verdict"):
            parts.append(
                _show(
                    f"verdict {c['verdict']} by {c.get('analyst') or '?'} "
                    f"at {str(c.get('verdict_at') or '')[:16]}"
                )
            )
            if c.get("note"):
                parts.append(f"“{_show(truncate(str(c['note']), 300))}”")
        if isinstance(c.get("suppressed_until"), str) and c.get("suppressed_until"):
            parts.append(html_text(f"suppressed until {c['suppressed_until']}"))
        return f"<p>{' · '.join(parts)}</p>"

    def accounts(self) -> str:
        if self.shown.empty:
            return (
                '<section id="accounts"><h2>Account details</h2>'
                "<p>No flagged accounts.</p></section>"
            )
        articles = [self._account(r._asdict()) for r in self.shown.itertuples(index=False)]
        return '<section id="accounts"><h2>Account details</h2>' + "".join(articles) + "</section>"

    def _account(self, d: dict[str, Any]) -> str:
        account = str(d[S.ACCOUNT_ID])
        rank = int(d[S.RANK])
        cid = str(d[S.CLUSTER_ID] or "")
        head = (
            f'<h3 id="{_anchor(rank)}"><a class="top" href="#top">back to top</a>'
            f'#{rank} <span class="id">{_show(account)}</span> · '
            f"score {float(d[S.SCORE]):.1f} {_badge(str(d[S.BAND]))}</h3>"
        )
        reasons = "".join(f"<li>{_show(x)}</li>" for x in _reasons(d[S.REASONS]))
        features = self._feature_rows(account)
        left = self._activity_plots(account)
        right = self._templates(features) + self._cluster_of(account, cid)
        return (
            f'<article class="acct">{head}{self._case_line(account)}'
            f'<ul class="reasons">{reasons}</ul>'
            f'<div class="grid"><div>{left}</div><div>{right}</div></div>'
            f"{self._feature_table(features)}{self._samples(account)}</article>"
        )

    def _activity_plots(self, account: str) -> str:
        act = self.inp.activity
        if act is None:
            return (
                "<h4>Activity</h4><p class='muted'>Hourly and daily plots need the request log "
                "(detector report … --log LOG).</p>"
            )
        n = act.requests(account)
        if n == 0:
            return "<h4>Activity</h4><p class='muted'>No requests in the log window.</p>"
        hourly = act.hourly.loc[account].to_numpy(dtype=float)
        peak = int(np.argmax(hourly))
        hour_svg = _bar_svg(
            hourly.tolist(),
            [f"{h:02d}" for h in range(24)],
            title=f"Requests by hour of day (UTC), peak {peak:02d}:00",
            label_every=3,
        )
        daily = act.daily.loc[account] if account in act.daily.index else pd.Series(dtype=float)
        days = list(daily.index)
        labels = [pd.Timestamp(x).strftime("%m-%d") for x in days]
        day_svg = _bar_svg(
            daily.to_numpy(dtype=float).tolist(),
            labels,
            title=f"Requests per day (UTC), {n:,} in total",
            label_every=max(1, math.ceil(len(days) / 10)),
            colours=["#0f766e"] * len(days),
        )
        return f"<h4>Activity</h4>{hour_svg}{day_svg}"

    def _templates(self, features: list[dict[str, Any]]) -> str:
        by_name = {f["name"]: f for f in features}
        rows = []
        for name in TEMPLATE_FEATURES:
            f = by_name.get(name)
            if f is None:
                continue
            rows.append(self._feature_row(f, with_description=True))
        if not rows:
            return "<h4>Template concentration</h4><p class='muted'>Not available.</p>"
        top = by_name.get("top_template_share")
        lead = ""
        if top is not None:
            lead = (
                f"<p>{html_text(top['text'])} of its prompts follow its most common template"
                + (
                    f" ({html_text(format_percentile(top['pct']))} of the training population)"
                    if top["pct"] is not None
                    else ""
                )
                + ".</p>"
            )
        return (
            f"<h4>Template concentration</h4>{lead}<table>{self._feature_head()}"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def _feature_head(self) -> str:
        pct = self.pct is not None
        return (
            "<thead><tr><th>feature</th><th class='n'>value</th>"
            + ("<th class='n'>percentile</th><th>population</th>" if pct else "")
            + "</tr></thead>"
        )

    def _feature_row(self, f: dict[str, Any], with_description: bool = False) -> str:
        hot = f["pct"] is not None and _suspicious(f["pct"], f["direction"])
        name = html_text(f["name"])
        if with_description and f["description"]:
            name = f'<span title="{html_text(f["description"])}">{name}</span>'
        cells = f"<td>{name}</td><td class='n'>{html_text(f['text'])}</td>"
        if self.pct is not None:
            if f["pct"] is None:
                cells += "<td class='n pv'>–</td><td></td>"
            else:
                cells += (
                    f"<td class='n pv'>{html_text(format_percentile(f['pct']))}</td>"
                    f"<td>{_percentile_svg(f['pct'], f['direction'])}</td>"
                )
        return f"<tr{' class=hot' if hot else ''}>{cells}</tr>"

    def _feature_table(self, features: list[dict[str, Any]]) -> str:
        if not features:
            return "<h4>Features</h4><p class='muted'>The feature table is not available.</p>"
        if self.pct is None:
            intro = (
                "<p class='muted'>Values only: "
                + html_text(self.inp.bundle_note or "percentiles are not available")
                + ".</p>"
            )
        else:
            intro = (
                "<p class='muted'>Against the model's training population; the shaded end of "
                "each bar is the suspicious side (past the 90th percentile). Ordered by how much "
                "each feature shortened this account's isolation paths.</p>"
            )
        head = self._feature_head().replace(
            "</tr></thead>",
            ("<th class='n'>contribution</th>" if self.pct is not None else "")
            + "<th>what it measures</th></tr></thead>",
        )

        def row(f: dict[str, Any]) -> str:
            base = self._feature_row(f)
            extra = (
                f"<td class='n'>{f['contrib']:.3f}</td>" if self.pct is not None else ""
            ) + f"<td class='muted'>{html_text(f['description'])}</td>"
            return base.replace("</tr>", extra + "</tr>")

        top = "".join(row(f) for f in features[:TOP_FEATURES])
        rest = features[TOP_FEATURES:]
        more = ""
        if rest:
            more = (
                f"<details><summary>all {len(features)} features</summary>"
                f"<table>{head}<tbody>{''.join(row(f) for f in rest)}</tbody></table></details>"
            )
        return f"<h4>Features</h4>{intro}<table>{head}<tbody>{top}</tbody></table>{more}"

    def _samples(self, account: str) -> str:
        act = self.inp.activity
        if act is None:
            return ""
        if not act.has_prompts:
            return "<h4>Sample prompts</h4><p class='muted'>The log has no prompt column.</p>"
        prompts = act.samples.get(account, [])
        if not prompts:
            return "<h4>Sample prompts</h4><p class='muted'>No prompts in the log window.</p>"
        items = "".join(f"<li>{_prompt_html(p)}</li>" for p in prompts)
        return (
            f"<h4>Sample prompts ({len(prompts)} distinct, first seen, cut to "
            f"{SAMPLE_CHARS} characters)</h4><ol class='samples'>{items}</ol>"
        )

    def _cluster_of(self, account: str, cid: str) -> str:
        if not cid:
            return "<h4>Cluster</h4><p class='muted'>Not linked to other accounts.</p>"
        c = self.cluster_by_id.get(cid)
        anchor = self.cluster_anchor.get(cid)
        name = f'<a href="#{anchor}">{_show(cid)}</a>' if anchor else _show(cid)
        if c is None:
            return f"<h4>Cluster</h4><p>Member of cluster {name}.</p>"
        others = [a for a in c.get("accounts", []) if a.get("account_id") != account]
        links = ", ".join(self._member(a) for a in others[:12])
        if len(others) > 12:
            links += f" and {len(others) - 12} more"
        return (
            f"<h4>Cluster</h4><p>One of {int(c.get('members', 0))} accounts in cluster {name} "
            f"that {_show(c.get('evidence', ''))}; {int(c.get('flagged_members', 0))} "
            f"flagged, {float(c.get('requests_per_day', 0)):,.0f} requests/day together, "
            f"{float(c.get('template_share', 0)):.0%} in one shared template.</p>"
            + (f"<p class='muted'>Other members: {links}</p>" if links else "")
        )

    def _member(self, a: dict[str, Any]) -> str:
        account = str(a.get("account_id", ""))
        anchor = self.anchor_of.get(account)
        name = _show(account)
        text = f'<a href="#{anchor}">{name}</a>' if anchor else name
        flag = " ⚑" if a.get("flagged") else ""
        return f"{text} ({float(a.get('score', 0)):.1f}{flag})"

    def clusters(self) -> str:
        clusters = self.inp.clusters
        if not clusters:
            return (
                '<section id="clusters"><h2>Clusters</h2>'
                "<p>No coordinated account groups were found.</p></section>"
            )
        flagged = [c for c in clusters if c.get("flagged_members")]
        others = [c for c in clusters if not c.get("flagged_members")][:MAX_OTHER_CLUSTERS]
        head = (
            "<tr><th>cluster</th><th class='n'>members</th><th class='n'>flagged</th>"
            "<th class='n'>max score</th><th class='n'>requests/day</th>"
            "<th class='n'>shared template</th><th class='n'>synchrony</th>"
            "<th class='n'>start spread</th><th>evidence</th></tr>"
        )
        rows = []
        for c in flagged + others:  # one row per listed cluster
            cid = str(c.get("cluster_id", ""))
            rows.append(
                f'<tr><td class="{_id_class(cid)}">'
                f'<a href="#{self.cluster_anchor[cid]}">{_show(cid)}</a>'
                f"</td><td class='n'>{int(c.get('members', 0))}</td>"
                f"<td class='n'>{int(c.get('flagged_members', 0))}</td>"
                f"<td class='n'>{float(c.get('max_score', 0)):.1f}</td>"
                f"<td class='n'>{float(c.get('requests_per_day', 0)):,.0f}</td>"
                f"<td class='n'>{float(c.get('template_share', 0)):.0%}</td>"
                f"<td class='n'>{float(c.get('synchrony', 0)):.2f}</td>"
                f"<td class='n'>{float(c.get('activation_spread_hours', 0)):.1f} h</td>"
                f"<td>{_show(c.get('evidence', ''))}</td></tr>"
            )
        details = []
        for c in flagged + others:
            cid = str(c.get("cluster_id", ""))
            kinds = c.get("evidence_counts") or {}
            evidence = ", ".join(f"{html_text(k)} × {int(v)}" for k, v in sorted(kinds.items()))
            members = ", ".join(self._member(a) for a in c.get("accounts", []))
            details.append(
                f'<div id="{self.cluster_anchor[cid]}" style="margin:10px 0">'
                f"<b class='id'>{_show(cid)}</b> — {int(c.get('members', 0))} accounts that "
                f"{_show(c.get('evidence', ''))}"
                + (f" <span class='muted'>(links: {evidence})</span>" if evidence else "")
                + f"<br><span class='muted'>members (score, ⚑ flagged):</span> {members}</div>"
            )
        hidden = len(clusters) - len(flagged) - len(others)
        tail = f"<p class='muted'>{hidden} more clusters without a flagged member.</p>"
        return (
            f'<section id="clusters"><h2>Clusters ({len(clusters):,})</h2>'
            "<p class='muted'>Groups of accounts linked by shared templates, networks, payment "
            "or creation time; combined behaviour of the whole group.</p>"
            f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
            f"<h4>Members</h4>{''.join(details)}{tail if hidden > 0 else ''}</section>"
        )

    def model_card(self) -> str:
        inp, meta = self.inp, self.inp.meta
        manifest = inp.manifest or {}
        bundle = inp.bundle
        window = manifest.get("training_window") or {}
        config = manifest.get("config") or {}
        facts = [
            ("version", html_text(manifest.get("version") or meta.get("model_version") or "?")),
            ("bundle", html_text(meta.get("model_path") or "?")),
            ("created", html_text(manifest.get("created_at", "?"))),
            ("payload SHA-256", f"<code>{html_text(manifest.get('payload_sha256', '?'))}</code>"),
            (
                "signed",
                "yes (HMAC-SHA256)" if manifest.get("hmac_sha256") else "no (SHA-256 only)",
            ),
            (
                "training window",
                html_text(f"{window.get('start', '?')} – {window.get('end', '?')}"),
            ),
        ]
        if bundle is not None:
            facts.append(
                (
                    "model threshold",
                    html_text(
                        f"score ≥ {float(bundle.model.threshold_):g} "
                        f"(flags {config.get('alert_budget', '?')} of the training accounts)"
                    ),
                )
            )
        if config:
            facts.append(
                (
                    "isolation forest",
                    html_text(
                        f"{config.get('n_estimators', '?')} trees, "
                        f"{config.get('max_samples', '?')} samples per tree, "
                        f"{config.get('n_reasons', '?')} reasons per account"
                    ),
                )
            )
        versions = manifest.get("versions") or {}
        if versions:
            facts.append(
                ("libraries", html_text(", ".join(f"{k} {v}" for k, v in sorted(versions.items()))))
            )
        names = list(manifest.get("features") or (bundle.features if bundle else []))
        if not names and inp.features is not None:
            names = [c for c in inp.features.columns if c in SPECS]
        omitted = meta.get("features_omitted") or {}
        rows = []
        for name in names:
            spec = SPECS.get(name)
            rows.append(
                f"<tr><td class='id'>{html_text(name)}</td>"
                f"<td>{html_text(spec.family if spec else '')}</td>"
                f"<td>{html_text(spec.unit if spec else '')}</td>"
                f"<td>{html_text(spec.direction if spec else '')}</td>"
                f"<td>{html_text(spec.description if spec else '')}"
                + (
                    f" <span class='muted'>(omitted: {html_text(omitted[name])})</span>"
                    if name in omitted
                    else ""
                )
                + "</td></tr>"
            )
        note = f'<p class="note">{html_text(inp.bundle_note)}</p>' if inp.bundle_note else ""
        return (
            f'<section id="model"><h2>Model card</h2>{note}{_kv(facts)}'
            f"<h4>Features ({len(names)})</h4>"
            "<table><thead><tr><th>feature</th><th>family</th><th>unit</th>"
            "<th>suspicious side</th><th>description</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>"
        )


# --- entry points -----------------------------------------------------------------------------


def render_report(
    *,
    scores_path: Path,
    log: Path | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    max_accounts: int = 50,
    state: Path | None = None,
    progress: Progress | None = None,
) -> str:
    """The report as an HTML string (see :func:`write_report`; ``progress`` as for
    :func:`account_activity`)."""
    if max_accounts < 0:
        raise ValueError(f"max_accounts must be >= 0, got {max_accounts}")
    inp = _inputs(Path(scores_path), log, start, end, max_accounts, state, progress)
    return _Page(inp).html()


def write_report(
    out: Path,
    *,
    scores_path: Path,
    log: Path | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    max_accounts: int = 50,
    state: Path | None = None,
) -> Path:
    """Write the analyst report for a scoring to ``out`` (one self-contained HTML file).

    Parameters
    ----------
    out : the HTML file to write (atomically: readers never see half a report).
    scores_path : a SCORES.csv written by ``detector score`` or the nightly job; its
        sidecars (features, clusters, meta) are read when present.
    log : the request log the scores came from. Activity plots and sample prompts need
        it; without it those parts say so.
    start, end : UTC days of the log to read (default: the scored window from the meta
        sidecar).
    max_accounts : flagged accounts that get a detail section (by rank).
    state : a state directory; when given, case status and verdicts are shown.

    Returns
    -------
    ``out``.
    """
    text = render_report(
        scores_path=scores_path,
        log=log,
        start=start,
        end=end,
        max_accounts=max_accounts,
        state=state,
    )
    return atomic_write_text(Path(out), text)
