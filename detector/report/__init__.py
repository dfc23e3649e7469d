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

The package: ``constants`` (limits, colours, CSS, CSP), ``activity`` (the log of a few
accounts), ``inputs`` (everything the page is rendered from), ``svg`` and ``pieces``
(plots and small HTML parts), ``page`` (header, summary, ranked table) with
``account_view`` and ``model_view`` (per-account sections; clusters and model card).

Sections: summary; cases (flagged cases first, each once, members folded, NEW and a
score timeline with the state directory; rendered by Jinja2 with autoescaping, see
:mod:`detector.report.templating` -- the other sections are still hand-built with
:func:`detector.safe.html_text` and move to templates next); ranked table of flagged
accounts; one section per flagged account
(up to ``max_accounts``: feature values against the training population's
percentiles, hourly activity and daily volume plots, template concentration, sample
prompts, cluster membership); clusters; a model card.

:func:`account_activity` (hourly / daily counts and sample prompts of a few accounts,
streamed from the log) is shared with ``detector explain``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from detector.artifacts import Bundle
from detector.pipeline import Progress
from detector.report.activity import Activity, account_activity, require_activity, sparkline
from detector.report.constants import CSP, SAMPLE_CHARS, SAMPLE_PROMPTS, SPARK_BLOCKS
from detector.report.inputs import gather_inputs, scored_window
from detector.report.page import Page
from detector.safe import atomic_write_text

__all__ = [
    "CSP",
    "SAMPLE_CHARS",
    "SAMPLE_PROMPTS",
    "SPARK_BLOCKS",
    "Activity",
    "account_activity",
    "render_report",
    "require_activity",
    "scored_window",
    "sparkline",
    "write_report",
]


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
    bundle: Bundle | None = None,
) -> str:
    """The report as an HTML string (see :func:`write_report`; ``progress`` as for
    :func:`account_activity`)."""
    if max_accounts < 0:
        raise ValueError(f"max_accounts must be >= 0, got {max_accounts}")
    inp = gather_inputs(
        Path(scores_path), log, start, end, max_accounts, state, progress, bundle=bundle
    )
    return Page(inp).html()


def write_report(
    out: Path,
    *,
    scores_path: Path,
    log: Path | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    max_accounts: int = 50,
    state: Path | None = None,
    bundle: Bundle | None = None,
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
    bundle : the model bundle the scores were made with, when the caller has it loaded
        (used if its version is the one the scores name; else it is loaded from disk).

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
        bundle=bundle,
    )
    return atomic_write_text(Path(out), text)
