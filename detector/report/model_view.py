"""The clusters table and the model card."""

from __future__ import annotations

from detector.cluster_sidecar import cluster_behaviour_text
from detector.features import SPECS
from detector.ranking import describe_alert_rule
from detector.report.constants import MAX_OTHER_CLUSTERS
from detector.report.pieces import id_class, kv_table, show_value
from detector.safe import html_text


class ModelSections:
    """The clusters and model-card sections of :class:`Page` (a mixin)."""

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
            "<th class='n'>start spread</th><th>evidence</th><th>behaviour</th></tr>"
        )
        rows = []
        for c in flagged + others:  # one row per listed cluster
            cid = str(c.get("cluster_id", ""))
            rows.append(
                f'<tr><td class="{id_class(cid)}">'
                f'<a href="#{self.cluster_anchor[cid]}">{show_value(cid)}</a>'
                f"</td><td class='n'>{int(c.get('members', 0))}</td>"
                f"<td class='n'>{int(c.get('flagged_members', 0))}</td>"
                f"<td class='n'>{float(c.get('max_score', 0)):.1f}</td>"
                f"<td class='n'>{float(c.get('requests_per_day', 0)):,.0f}</td>"
                f"<td class='n'>{float(c.get('template_share', 0)):.0%}</td>"
                f"<td class='n'>{float(c.get('synchrony', 0)):.2f}</td>"
                f"<td class='n'>{float(c.get('activation_spread_hours', 0)):.1f} h</td>"
                f"<td>{show_value(c.get('evidence', ''))}</td>"
                f"<td>{html_text(cluster_behaviour_text(c))}</td></tr>"
            )
        details = []
        for c in flagged + others:
            cid = str(c.get("cluster_id", ""))
            kinds = c.get("evidence_counts") or {}
            evidence = ", ".join(f"{html_text(k)} × {int(v)}" for k, v in sorted(kinds.items()))
            members = ", ".join(self._member(a) for a in c.get("accounts", []))
            details.append(
                f'<div id="{self.cluster_anchor[cid]}" style="margin:10px 0">'
                f"<b class='id'>{show_value(cid)}</b> — {int(c.get('members', 0))} accounts that "
                f"{show_value(c.get('evidence', ''))}"
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
            # the spreads the model applied (deeper family trees add some); bundles
            # fitted before they depended on depth applied their config's
            spreads = getattr(bundle.model, "alert_spreads_", config.get("alert_spreads"))
            rule = describe_alert_rule(
                config.get("alert_budget"), spreads, config.get("alert_ceiling")
            )
            facts.append(
                (
                    "model threshold",
                    html_text(f"score ≥ {float(bundle.model.threshold_):g} ({rule})"),
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
            f'<section id="model"><h2>Model card</h2>{note}{kv_table(facts)}'
            f"<h4>Features ({len(names)})</h4>"
            "<table><thead><tr><th>feature</th><th>family</th><th>unit</th>"
            "<th>suspicious side</th><th>description</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>"
        )
