"""One section per flagged account: features, activity, templates, prompts, cluster."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from detector import schema as S
from detector.explain import format_percentile
from detector.report.constants import SAMPLE_CHARS, TEMPLATE_FEATURES, TOP_FEATURES
from detector.report.pieces import anchor_for, badge, prompt_html, show_value, split_reasons
from detector.report.svg import bar_svg, is_suspicious, percentile_svg
from detector.safe import html_text


class AccountSections:
    """The per-account sections of :class:`Page` (a mixin: ``self`` is the page)."""

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
            f'<h3 id="{anchor_for(rank)}"><a class="top" href="#top">back to top</a>'
            f'#{rank} <span class="id">{show_value(account)}</span> · '
            f"score {float(d[S.SCORE]):.1f} {badge(str(d[S.BAND]))}</h3>"
        )
        reasons = "".join(f"<li>{show_value(x)}</li>" for x in split_reasons(d[S.REASONS]))
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
        hour_svg = bar_svg(
            hourly.tolist(),
            [f"{h:02d}" for h in range(24)],
            title=f"Requests by hour of day (UTC), peak {peak:02d}:00",
            label_every=3,
        )
        daily = act.daily.loc[account] if account in act.daily.index else pd.Series(dtype=float)
        days = list(daily.index)
        labels = [pd.Timestamp(x).strftime("%m-%d") for x in days]
        day_svg = bar_svg(
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
        hot = f["pct"] is not None and is_suspicious(f["pct"], f["direction"])
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
                    f"<td>{percentile_svg(f['pct'], f['direction'])}</td>"
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
        items = "".join(f"<li>{prompt_html(p)}</li>" for p in prompts)
        return (
            f"<h4>Sample prompts ({len(prompts)} distinct, first seen, cut to "
            f"{SAMPLE_CHARS} characters)</h4><ol class='samples'>{items}</ol>"
        )

    def _cluster_of(self, account: str, cid: str) -> str:
        if not cid:
            return "<h4>Cluster</h4><p class='muted'>Not linked to other accounts.</p>"
        c = self.cluster_by_id.get(cid)
        anchor = self.cluster_anchor.get(cid)
        name = f'<a href="#{anchor}">{show_value(cid)}</a>' if anchor else show_value(cid)
        if c is None:
            return f"<h4>Cluster</h4><p>Member of cluster {name}.</p>"
        others = [a for a in c.get("accounts", []) if a.get("account_id") != account]
        links = ", ".join(self._member(a) for a in others[:12])
        if len(others) > 12:
            links += f" and {len(others) - 12} more"
        return (
            f"<h4>Cluster</h4><p>One of {int(c.get('members', 0))} accounts in cluster {name} "
            f"that {show_value(c.get('evidence', ''))}; {int(c.get('flagged_members', 0))} "
            f"flagged, {float(c.get('requests_per_day', 0)):,.0f} requests/day together, "
            f"{float(c.get('template_share', 0)):.0%} in one shared template.</p>"
            + (f"<p class='muted'>Other members: {links}</p>" if links else "")
        )

    def _member(self, a: dict[str, Any]) -> str:
        account = str(a.get("account_id", ""))
        anchor = self.anchor_of.get(account)
        name = show_value(account)
        text = f'<a href="#{anchor}">{name}</a>' if anchor else name
        flag = " ⚑" if a.get("flagged") else ""
        return f"{text} ({float(a.get('score', 0)):.1f}{flag})"
