"""``detector evaluate``: detection quality of a scoring against labels, with baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from detector import schema as S
from detector.cli.common import JsonOpt, console, fail, number_option, user_errors
from detector.cli.feedback_view import metric_cell, render_draws, render_feedback
from detector.config import DEFAULT
from detector.ingest import read_labels
from detector.outputs import Scoring, check_model, read_scoring


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to ``app``."""

    @app.command("evaluate")
    @user_errors
    def evaluate_cmd(
        scores: Annotated[
            Path,
            typer.Argument(help="SCORES.csv from `detector score`.", exists=True, dir_okay=False),
        ],
        labels: Annotated[
            Path | None,
            typer.Option(
                "--labels",
                help="Labels CSV (account_id,label[,scenario]).",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        state: Annotated[
            Path | None,
            typer.Option(
                "--state", help="Take labels from the analysts' verdicts in this state dir."
            ),
        ] = None,
        min_overlap: Annotated[
            float,
            number_option(
                "--min-overlap",
                low=0,
                high=1,
                help="Share of a labels file's accounts that must have been scored "
                "(analysts' verdicts from --state need only one).",
            ),
        ] = DEFAULT.min_label_overlap,
        feedback_share: Annotated[
            float | None,
            number_option(
                "--feedback-share",
                help="Learning from verdicts: draw this share of the labelled accounts "
                "(stratified, seeded) as verdicts, learn from them, and compare the learned "
                "and unsupervised scores on the other labelled accounts only.",
                low=0,
                high=1,
            ),
        ] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the verdict draw.")] = 0,
        draws: Annotated[
            int,
            typer.Option(
                "--draws",
                min=1,
                help="With --feedback-share: also repeat the random draw with seeds SEED, "
                "SEED+1, ... and report the change's mean, min and max over them, and "
                "each scenario's worst draw (one draw is one queue's luck).",
            ),
        ] = 1,
        time_split: Annotated[
            bool,
            typer.Option(
                "--time-split",
                help="Also the time-split variant: verdicts only from accounts first seen "
                "before a cut day, metrics on those first seen from it on (needs --log).",
            ),
        ] = False,
        feedback_queue: Annotated[
            int | None,
            typer.Option(
                "--feedback-queue",
                min=1,
                help="Also the queue variant: verdicts on the N labelled accounts the "
                "unsupervised score ranks highest (what analysts review first), metrics on "
                "the other labelled accounts. The layer needs two verdicts of each kind: "
                "reach past the accounts that are all extraction.",
            ),
        ] = None,
        log: Annotated[
            Path | None,
            typer.Option(
                "--log",
                help="The scored request log: with --feedback-share, both sides are scored "
                "as `detector score` scores them (sub-streams, campaigns); also each "
                "account's first-seen day for --time-split.",
            ),
        ] = None,
        accounts: Annotated[
            Path | None,
            typer.Option(
                "--accounts",
                help="The account table the scores were computed with (with --log).",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        model: Annotated[
            Path | None,
            typer.Option("--model", help="Model bundle (default: the one the scores name)."),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Detection quality of a scoring against labels, with two baselines.

        ROC/PR-AUC, precision/recall at k, recall at 1% FPR, per scenario, and the lift
        over a volume ranking and a naive isolation forest. Says how many labelled
        accounts were matched, and fails when the labels are of another population.

        With --feedback-share, also what learning from verdicts gains, measured honestly
        (on the accounts whose labels were not given as verdicts). Give --log (and
        --accounts) to score both sides as `detector score` does; without them each
        account is scored on its own features alone, without its sub-streams' or its
        campaign's lift.

        Example: detector evaluate scores.csv --labels sim/labels.csv --feedback-share 0.1
        """
        if (labels is None) == (state is None):
            raise fail("give exactly one of --labels LABELS.csv or --state DIR")
        if time_split and (feedback_share is None or log is None):
            raise fail("--time-split needs --feedback-share SHARE and --log LOG")
        if draws > 1 and feedback_share is None:
            raise fail("--draws needs --feedback-share SHARE")
        if feedback_queue is not None and feedback_share is None:
            raise fail("--feedback-queue needs --feedback-share SHARE")
        if labels is not None:
            truth, source, min_share = read_labels(labels), str(labels), min_overlap
        else:
            from detector.store import Store

            with Store.open(state) as store:  # type: ignore[arg-type]
                truth = store.labels_frame()
            if truth.empty:
                raise fail(f"{state}: no analyst verdicts recorded yet (detector label ...)")
            # verdicts accumulate over many nights: one scored account is enough
            source, min_share = f"{state} (analysts' verdicts)", 0.0
        from detector.evaluate import check_label_overlap, evaluate

        scoring = read_scoring(scores)
        matched, n_labels = check_label_overlap(
            scoring.table, truth, min_share=min_share, source=source
        )
        result = evaluate(scoring.table, truth, features=scoring.features)
        result["n_labels"] = n_labels
        if feedback_share is not None:
            seeds = range(seed, seed + draws)
            result.update(
                _feedback(
                    scoring,
                    truth,
                    feedback_share,
                    seeds,
                    time_split,
                    feedback_queue,
                    log,
                    accounts,
                    model,
                )
            )
        if as_json:
            typer.echo(json.dumps(result, indent=2, default=float))
            return
        console.print(
            f"matched {matched:,} of {n_labels:,} labelled accounts to the "
            f"{result['n_accounts']:,} scored accounts ({source})",
            markup=False,
        )
        n, k = result["n_labelled"], result["k"]
        t = Table(title=f"Detection quality ({n:,} labelled accounts, k = {k})")
        t.add_column("metric")
        t.add_column("detector", justify="right")
        base = result.get("baselines", {})
        names = [n for n in ("volume", "naive_iforest") if base.get(n, {}).get("available")]
        for n in names:
            t.add_column(n.replace("_", " "), justify="right")
        for metric in ("roc_auc", "pr_auc", "recall_at_k"):
            baseline_cells = [metric_cell(base[n].get(metric)) for n in names]
            t.add_row(metric, metric_cell(result.get(metric)), *baseline_cells)
        for metric in ("precision_at_k", "recall_at_1pct_fpr"):
            t.add_row(metric, metric_cell(result.get(metric)), *["" for _ in names])
        console.print(t)
        s = Table(title="Per scenario (extraction: share in top k; benign: share flagged)")
        per = result["per_scenario"]
        clusters = any(row.get("share_in_cluster") is not None for row in per.values())
        columns = ["scenario", "label", "accounts", "share"]
        if clusters:  # a score table with cluster ids: is each campaign grouped too?
            columns.append("in a cluster")
        for col in columns:
            s.add_column(col)
        for name, row in sorted(per.items()):
            share = (
                row.get("share_in_top_k")
                if row.get("label") == "extraction"
                else row.get("share_flagged")
            )
            cells = [name, str(row.get("label")), str(row.get("accounts")), metric_cell(share)]
            if clusters:
                cells.append(metric_cell(row.get("share_in_cluster")))
            s.add_row(*cells)
        console.print(s)
        for key in ("feedback", "feedback_time_split", "feedback_queue"):
            if key in result:
                render_feedback(result[key])
        if "feedback_draws" in result:
            render_draws(result["feedback_draws"])


def _feedback(
    scoring: Scoring,
    truth: pd.DataFrame,
    share: float,
    seeds: range,
    time_split: bool,
    queue: int | None,
    log: Path | None,
    accounts: Path | None,
    model: Path | None,
) -> dict[str, Any]:
    """The feedback protocol's results: the random draw of the first seed, the time split
    and the queue of ``queue`` verdicts when asked, and with several seeds the random
    draw's summary over all of them (``feedback_draws``,
    :func:`detector.feedback.summarise_draws`).

    With ``log``, both sides are scored as ``detector score`` composes them, from the
    log's features rebuilt with the bundle; they must be the scored population.
    """
    from detector.artifacts import load_bundle
    from detector.feedback import composed_scorer, feedback_evaluation, summarise_draws
    from detector.report import scored_window
    from detector.scoring import bundle_features, score_features
    from detector.verdict_draws import first_seen_days

    if scoring.features is None:
        raise fail(f"{scoring.path}: no feature table beside the scores; re-run `detector score`")
    path = model or (Path(scoring.meta["model_path"]) if scoring.meta.get("model_path") else None)
    if path is None:
        raise fail(f"{scoring.path}: the scores name no model; pass --model")
    bundle = load_bundle(path)
    check_model(scoring, bundle, model)
    feats, subs, compose = scoring.features[list(bundle.features)], None, None
    start, end = scored_window(scoring.meta)
    if log is not None:
        config = DEFAULT.with_features_of(bundle.config)
        built = bundle_features(log, bundle, accounts=accounts, start=start, end=end, config=config)
        feats, subs, compose = composed_scorer(built, bundle, config, log)
        # the scores as they were computed: the unsupervised side itself, unless the
        # bundle carries a learned layer (the protocol replaces it with its own)
        again = (
            compose(None)
            if bundle.learned is None
            else score_features(built, bundle, model_path=path, log=log, config=config).scores
        )
        differ = _scores_differ(scoring.table, again)
        if differ:
            raise fail(
                f"{log}: scored again with {path.name}, {differ:,} accounts do not get the "
                f"score {scoring.path.name} gives them; give the log and --accounts table "
                "that were scored"
            )
    runs = [
        feedback_evaluation(
            bundle.model, feats, truth, share=share, seed=s, compose=compose, substreams=subs
        )
        for s in seeds
    ]
    out = {"feedback": runs[0]}
    if time_split:
        first = first_seen_days(log, start=start, end=end)  # type: ignore[arg-type]
        out["feedback_time_split"] = feedback_evaluation(
            bundle.model, feats, truth, share=share, seed=seeds[0], first_seen=first,
            compose=compose, substreams=subs,
        )  # fmt: skip
    if queue is not None:
        out["feedback_queue"] = feedback_evaluation(
            bundle.model, feats, truth, share=share, queue=queue, compose=compose,
            substreams=subs,
        )  # fmt: skip
    if len(runs) > 1:
        out["feedback_draws"] = {"share": share, **summarise_draws(runs)}
    for part in out.values():
        part["model_version"] = bundle.version
    return out


def _scores_differ(scored: pd.DataFrame, again: pd.DataFrame) -> int:
    """Accounts of either table whose score the other does not give them (or lacks)."""
    a = scored.set_index(scored[S.ACCOUNT_ID].astype(str))[S.SCORE]
    b = again.set_index(again[S.ACCOUNT_ID].astype(str))[S.SCORE]
    both = a.index.intersection(b.index)
    moved = int((a.reindex(both) - b.reindex(both)).abs().gt(0.005).sum())
    return moved + len(a.index.symmetric_difference(b.index))
