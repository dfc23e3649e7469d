"""``detector explain``: why one account scored as it did."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.panel import Panel
from rich.table import Table

from detector import schema as S
from detector.cli.common import (
    AccountsOpt,
    EndOpt,
    JsonOpt,
    StartOpt,
    console,
    fail,
    parse_window,
    progress_reporter,
    user_errors,
)
from detector.cli.context_view import account_context, render_context
from detector.cluster_sidecar import cluster_behaviour_text, clusters_json
from detector.outputs import check_model, read_scoring
from detector.safe import neutralise_csv_cell, safe_terminal, truncate

if TYPE_CHECKING:
    from detector.pipeline import Progress

SAMPLE_CHARS_TERMINAL = 160
"""Sample prompts are cut to this many characters in the terminal (``--json``: 400)."""


def explanation(
    account_id: str,
    *,
    scores: Path | None = None,
    log: Path | None = None,
    model: Path | None = None,
    accounts: Path | None = None,
    activity_log: Path | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    progress: Progress | None = None,
    state: Path | None = None,
) -> dict[str, Any]:
    """Everything known about why ``account_id`` scored as it did, as plain data.

    From a scores file (and its sidecars: the feature table and the model it was
    scored with, which must be ``model`` when given), or by scoring ``log`` with
    ``model``. With ``activity_log`` (default: ``log``) the account's requests are read
    from that log (``start``/``end`` narrow it; by default the scored window, in which
    the account must have requests) for the drill-down: ``hourly`` (24 UTC-hour
    counts), ``daily`` and up to five distinct sample ``prompts``; without a log those
    keys are ``None``. ``context`` holds actual vs typical, the account's metadata (from
    ``accounts``, else the table the nightly job remembers in ``state``), and with
    ``state`` its verdict / suppression history and score over the nightly runs.
    """
    from detector.artifacts import load_bundle
    from detector.explain import explain_frame, format_percentile, format_value, percentiles
    from detector.features import SPECS
    from detector.report import scored_window
    from detector.scoring import score

    bundle = None
    if scores is not None:
        scoring = read_scoring(scores)
        table, features, meta, clusters = (
            scoring.table,
            scoring.features,
            scoring.meta,
            scoring.clusters,
        )
        model_path = model or (Path(meta["model_path"]) if meta.get("model_path") else None)
        if model_path is not None and (model is not None or features is not None):
            bundle = load_bundle(model_path)
            check_model(scoring, bundle, model)
    else:
        if log is None or model is None:
            raise fail("give --scores SCORES.csv, or a LOG with --model")
        scored = score(log, model, accounts=accounts, start=start, end=end, progress=progress)
        table, features, meta, bundle = (
            scored.scores,
            scored.result.features,
            scored.meta,
            scored.bundle,
        )
        clusters = clusters_json(scored)["clusters"]
    row = table[table[S.ACCOUNT_ID] == account_id]
    if row.empty and scores is not None:  # the id as it appears in SCORES.csv ('=...)
        row = table[table[S.ACCOUNT_ID].map(neutralise_csv_cell) == account_id]
        account_id = str(row.iloc[0][S.ACCOUNT_ID]) if len(row) else account_id
    if row.empty:
        where = scores if scores is not None else log
        raise fail(
            f"{where}: account {account_id!r} not found among {len(table):,} scored accounts"
        )
    r = row.iloc[0]
    out: dict[str, Any] = {
        "account_id": account_id,
        "score": float(r[S.SCORE]),
        "rank": int(r[S.RANK]),
        "of": len(table),
        "flagged": bool(r[S.FLAGGED]),
        "band": str(r.get(S.BAND, "")),
        "cluster_id": str(r[S.CLUSTER_ID] or ""),
        "reasons": [x for x in str(r[S.REASONS]).split(S.REASONS_SEPARATOR) if x],
        "model_version": meta.get("model_version"),
        "features": [],
        "cluster": next((c for c in clusters if c["cluster_id"] == r[S.CLUSTER_ID]), None),
    }
    if features is not None and account_id in features.index and bundle is not None:
        feats = features.loc[[account_id], list(bundle.features)]
        pct = percentiles(bundle.model, feats.to_numpy(dtype=float))[0]
        contrib = explain_frame(bundle.model, feats, n_reasons=len(bundle.features))
        contrib = (
            contrib.set_index("feature")["contribution"] if len(contrib) else pd.Series(dtype=float)
        )
        for name, value, p in zip(feats.columns, feats.iloc[0].to_numpy(), pct, strict=True):
            spec = SPECS[name]
            out["features"].append(
                {
                    "feature": name,
                    "value": float(value),
                    "value_text": format_value(float(value), spec.unit),
                    "percentile": float(p),
                    "percentile_text": format_percentile(float(p)),
                    "suspicious_side": spec.direction,
                    "contribution": float(contrib.get(name, 0.0)),
                    "description": spec.description,
                }
            )
        out["features"].sort(key=lambda f: (-f["contribution"], -abs(f["percentile"] - 50)))
    out["context"] = account_context(
        account_id,
        features=features,
        names=list(bundle.features) if bundle is not None else [],
        accounts=accounts,
        state=state,
    )
    window = scored_window(meta)  # read the days that were scored, unless told otherwise
    drill_log = activity_log or log
    out.update(
        _drill_down(
            account_id,
            drill_log,
            start or window[0],
            end or window[1],
            progress,
            must_find=start is None and end is None,
        )
    )
    return out


def _drill_down(
    account_id: str,
    log: Path | None,
    start: dt.date | None,
    end: dt.date | None,
    progress: Progress | None = None,
    must_find: bool = False,
) -> dict[str, Any]:
    """Hourly and daily counts and sample prompts of one account, read from ``log``.

    Prompts are cut (not otherwise changed: JSON escapes control characters, and
    :func:`render` makes them terminal-safe). With ``must_find`` (the window is the
    scored one) an account without a request in ``log`` means it is another log.
    """
    from detector.report import SAMPLE_PROMPTS, account_activity, require_activity

    if log is None:
        return {
            "activity_log": None,
            "requests": None,
            "hourly": None,
            "daily": None,
            "samples": None,
        }
    act = account_activity(log, [account_id], start=start, end=end, progress=progress)
    if must_find:
        require_activity(act, [account_id], log, start, end)
    hourly = (
        act.hourly.loc[account_id].astype(int).tolist()
        if account_id in act.hourly.index
        else [0] * 24
    )
    daily = []
    if account_id in act.daily.index:
        row = act.daily.loc[account_id]
        daily = [
            {"date": pd.Timestamp(d).date().isoformat(), "requests": int(n)}
            for d, n in zip(row.index, row.to_numpy(), strict=True)
        ]
    return {
        "activity_log": str(log),
        "requests": int(sum(hourly)),
        "hourly": hourly,
        "daily": daily,
        "samples": [truncate(p, 400) for p in act.samples.get(account_id, [])][:SAMPLE_PROMPTS],
    }


def render(info: dict[str, Any], top_features: int = 12) -> None:
    """Print an explanation as rich text (log-derived text made terminal-safe)."""
    status = "[bold red]FLAGGED[/]" if info["flagged"] else "not flagged"
    head = (
        f"score [bold]{info['score']:.1f}[/] ({info['band']}) · "
        f"rank {info['rank']:,} of {info['of']:,} · {status}"
    )
    if info["cluster_id"]:
        head += f" · cluster {safe_terminal(info['cluster_id'])}"
    body = head + "\n\n" + "\n".join(f"• {safe_terminal(x)}" for x in info["reasons"])
    console.print(Panel(body, title=f"account {safe_terminal(info['account_id'])}", expand=False))
    if info["features"]:
        t = Table(title="Features against the training population")
        for col in ("feature", "value", "percentile", "suspicious side", "contribution"):
            t.add_column(col, justify="left" if col in ("feature", "suspicious side") else "right")
        for f in info["features"][:top_features]:
            t.add_row(
                f["feature"],
                f["value_text"],
                f["percentile_text"],
                f["suspicious_side"],
                f"{f['contribution']:.3f}",
            )
        console.print(t)
    if info.get("context"):
        render_context(info["context"], [f["feature"] for f in info["features"][:top_features]])
    if info.get("hourly") is not None:
        _render_activity(info)
    c = info.get("cluster")
    if c:
        console.print(
            f"cluster {safe_terminal(c['cluster_id'])}: {c['members']} accounts that "
            f"{safe_terminal(c['evidence'])}; {c['requests_per_day']:,.0f} requests/day together, "
            f"{c['flagged_members']} flagged"
            + (f"; behaviour {how}" if (how := cluster_behaviour_text(c)) else ""),
            markup=False,
        )


def _render_activity(info: dict[str, Any]) -> None:
    """The 24-hour sparkline (with an hour axis) and the sample prompts."""
    from detector.report import sparkline

    hourly = info["hourly"]
    total = int(info.get("requests") or 0)
    if total == 0:
        console.print("activity: no requests in the log window", markup=False)
        return
    peak = max(range(24), key=lambda h: hourly[h])
    days = info.get("daily") or []
    console.print(
        f"activity by UTC hour ({total:,} requests over {len(days)} day(s), "
        f"peak {peak:02d}:00 with {hourly[peak]:,}):",
        markup=False,
    )
    console.print(f"  {sparkline(hourly)}", markup=False)
    console.print("  0     6     12    18   23", markup=False, style="dim")
    samples = info.get("samples") or []
    if samples:
        console.print(f"sample prompts ({len(samples)} distinct, first seen):", markup=False)
        for i, text in enumerate(samples, 1):
            line = safe_terminal(truncate(text, SAMPLE_CHARS_TERMINAL), markup=False)
            console.print(f"  {i}. {line}", markup=False, overflow="ellipsis", no_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``explain`` to ``app``."""

    @app.command("explain")
    @user_errors
    def explain_cmd(
        account_id: Annotated[str, typer.Argument(help="The account to explain.")],
        log: Annotated[
            Path | None, typer.Argument(help="Request log (with --model), instead of --scores.")
        ] = None,
        scores: Annotated[
            Path | None,
            typer.Option("--scores", help="A SCORES.csv written by `detector score`."),
        ] = None,
        model: Annotated[
            Path | None,
            typer.Option(
                "--model",
                help="Model bundle: with --scores, the one they were made with (the default); "
                "with LOG, the one to score it with.",
            ),
        ] = None,
        accounts: AccountsOpt = None,
        activity_log: Annotated[
            Path | None,
            typer.Option(
                "--log",
                help="Request log to drill into: hourly activity sparkline and sample prompts "
                "(default: LOG when given).",
            ),
        ] = None,
        start: StartOpt = None,
        end: EndOpt = None,
        state: Annotated[
            Path | None,
            typer.Option(
                "--state",
                help="State dir of the nightly job: verdict / suppression history, score "
                "over past runs, and its remembered account table.",
            ),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Why ACCOUNT_ID scored as it did: reasons, feature percentiles, its cluster.

        With a log (--log, or LOG) also its hourly activity as a sparkline and up to five
        sample prompts.

        Actual vs typical compares each feature with the population median and the median
        of the account's plan (peers; --accounts, or the table the nightly job remembers).

        Example: detector explain acct_3f9a2c --scores scores.csv --log sim/requests --state state/
        """
        if scores is not None and not scores.is_file():
            raise fail(f"--scores: {scores} is not a file")
        if activity_log is not None and not activity_log.exists():
            raise fail(f"--log: {activity_log} does not exist")
        first, last = parse_window(start, end)
        with progress_reporter(as_json) as progress:
            info = explanation(
                account_id,
                scores=scores,
                log=log,
                model=model,
                accounts=accounts,
                activity_log=activity_log,
                start=first,
                end=last,
                progress=progress,
                state=state,
            )
        if as_json:
            typer.echo(json.dumps(info, indent=2))
        else:
            render(info)
