"""Limits, colours and the content security policy of the report."""

from __future__ import annotations

from typing import Final

SAMPLE_PROMPTS: Final = 5
"""Distinct sample prompts kept per account."""
SAMPLE_CHARS: Final = 400
"""Sample prompts are cut to this many characters (a 100 kB prompt must not swamp a page)."""
TOP_FEATURES: Final = 12
"""Features shown per account before the rest fold into a <details> element."""
MAX_OTHER_CLUSTERS: Final = 25
MAX_CASE_MEMBERS: Final = 200
"""Members listed per case in the report (a 25,000-account hydra must not swamp the page)."""
OPEN_CASES: Final = 3
"""Cases shown unfolded at the top of the cases section."""
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
details.case { background:#fff; border:1px solid var(--line); border-radius:8px; padding:4px 10px;
  margin:6px 0; }
b.new { color:#b91c1c; }
details summary { cursor:pointer; color:var(--accent); margin:6px 0; }
.top { font-size:12px; float:right; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:16px; }
"""
