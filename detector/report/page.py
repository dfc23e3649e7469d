"""The page: header, summary, ranked flagged accounts; the sections are joined here."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from detector import schema as S
from detector.explain import forest_contributions, format_value, percentiles
from detector.features import SPECS
from detector.ranking import BAND_LABELS
from detector.report.account_view import AccountSections
from detector.report.cases_view import cases_section
from detector.report.constants import CSP, STYLE
from detector.report.inputs import ReportInputs
from detector.report.model_view import ModelSections
from detector.report.pieces import anchor_for, badge, id_class, kv_table, show_value, split_reasons
from detector.report.svg import bar_svg
from detector.safe import html_text, truncate


class Page(AccountSections, ModelSections):
    """Renders the report from :class:`ReportInputs` (one method per section)."""

    def __init__(self, inp: ReportInputs) -> None:
        self.inp = inp
        table = inp.table
        self.flagged = table[table[S.FLAGGED]].sort_values(S.RANK, kind="stable")
        self.shown = self.flagged.head(inp.max_accounts)
        self.anchor_of = dict(
            zip(self.shown[S.ACCOUNT_ID], (anchor_for(r) for r in self.shown[S.RANK]), strict=True)
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
            cases_section(self.inp, self.anchor_of),
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
            '<nav><a href="#summary">Summary</a><a href="#cases">Cases</a>'
            '<a href="#flagged">Flagged accounts</a>'
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
            f'<div class="grid" style="margin-top:14px"><div>{kv_table(facts)}</div>'
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
        svg = bar_svg(
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
            name = show_value(account)
            cell = f'<a href="#{anchor}">{name}</a>' if anchor else name
            cid = str(d[S.CLUSTER_ID] or "")
            canchor = self.cluster_anchor.get(cid)
            ccell = (
                f'<a href="#{canchor}">{show_value(cid)}</a>'
                if canchor and cid
                else show_value(cid)
            )
            reasons = "".join(f"<li>{show_value(x)}</li>" for x in split_reasons(d[S.REASONS])[:3])
            case = ""
            if has_cases:
                case = f"<td>{html_text(self._case_status(account))}</td>"
            rows.append(
                f'<tr><td class="n">{int(d[S.RANK])}</td>'
                f'<td class="{id_class(account)}">{cell}</td>'
                f'<td class="n">{float(d[S.SCORE]):.1f}</td><td>{badge(str(d[S.BAND]))}</td>'
                f'<td class="{id_class(cid)}">{ccell}</td>{case}'
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
                show_value(
                    f"verdict {c['verdict']} by {c.get('analyst') or '?'} "
                    f"at {str(c.get('verdict_at') or '')[:16]}"
                )
            )
            if c.get("note"):
                parts.append(f"“{show_value(truncate(str(c['note']), 300))}”")
        if isinstance(c.get("suppressed_until"), str) and c.get("suppressed_until"):
            parts.append(html_text(f"suppressed until {c['suppressed_until']}"))
        return f"<p>{' · '.join(parts)}</p>"
