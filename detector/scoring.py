"""Train and score: the stages composed for the CLI and the nightly job.

``train`` fits the text (topic) model and the anomaly model on a log and saves a
verified bundle. ``score`` loads a bundle (verified before unpickling), builds the
same features with the bundle's topic model, scores, attaches clusters and
suppressions, and returns the contract's score table. ``write_scores`` writes it
with its exact Parquet twin and sidecars, and ``read_scores`` reads it back (both live
in :mod:`detector.outputs` and are re-exported here).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from detector import schema as S
from detector.artifacts import Bundle, load_bundle, save_bundle
from detector.cases import assign_cases, attach_clusters, lead_with_cluster
from detector.config import DEFAULT, Config
from detector.engines import Engine, SparkOptions, cache_option, feature_builder, frame_scorer
from detector.errors import UserError
from detector.features import retired_features
from detector.learned_fit import fit_learned
from detector.model import AnomalyModel
from detector.outputs import clusters_json, read_scores, sidecar, write_scores
from detector.pipeline import FeatureResult, Progress
from detector.quiet_clusters import unlink_quiet_clusters
from detector.ranking import alert_cut
from detector.results import ScoreResult
from detector.substream_scores import lift_scores
from detector.topics import TopicModel
from detector.training_threshold import learned_case_threshold, training_case_threshold

__all__ = [
    "ScoreResult",
    "bundle_features",
    "clusters_json",
    "read_scores",
    "score",
    "score_features",
    "sidecar",
    "train",
    "write_scores",
]

TOPIC_MODEL_KEY = "topics"


def train(
    log: Path | Sequence[Path],
    model_path: str | Path,
    *,
    accounts: Path | pd.DataFrame | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    exclude: Collection[str] = (),
    labels: pd.DataFrame | None = None,
    labels_source: str = "labels",
    name: str = "detector",
    quarantine_path: Path | None = None,
    progress: Progress | None = None,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
    cache_dir: Path | None = None,
    topic_model: TopicModel | None = None,
) -> tuple[Path, FeatureResult, AnomalyModel]:
    """Fit a model on the population in ``log`` and save it as a bundle.

    ``exclude`` are accounts left out of the fit (e.g. confirmed extraction), so the
    forest learns what normal looks like. ``labels`` (``account_id, label[,
    decided_at]``, see :mod:`detector.verdicts`) also fit the learned layer
    (:mod:`detector.learned`) over the whole population when there are enough of them
    in it; the manifest records their provenance under ``labels`` (``labels_source``
    says where they came from). ``model_path`` may be a directory, in which
    case the bundle is named ``<name>-<YYYYMMDD>-<digest8>.bundle`` inside it.
    ``engine="spark"`` builds the features with Spark (``spark``: master and config);
    the forest is fitted on the driver either way. ``cache_dir``: the local engine's
    annotation cache (:func:`detector.pipeline.build_features`). ``topic_model``: assign
    topics with this fitted model (kept in the new bundle) instead of fitting one; a
    model fitted here records the last day of the window it was fitted on
    (``fitted_through_``).
    """
    result = feature_builder(engine, spark)(
        log,
        accounts=accounts,
        start=start,
        end=end,
        config=config,
        topic_model=topic_model,
        fit_topics=topic_model is None,
        quarantine_path=quarantine_path,
        progress=progress,
        **cache_option(engine, cache_dir),
    )
    if topic_model is None and result.topic_model is not None:
        result.topic_model.fitted_through_ = result.window[1][:10]
    train_rows = result.features.drop(index=list(set(exclude) & set(result.features.index)))
    if len(train_rows) < 2:
        raise UserError(f"{log}: only {len(train_rows)} account(s) to train on; need at least 2")
    model = AnomalyModel(
        n_estimators=config.n_estimators,
        family_estimators=config.family_estimators,
        max_samples=config.max_samples,
        family_max_samples=config.family_max_samples,
        family_sample_share=config.family_sample_share,
        alert_spreads=config.alert_spreads,
        alert_spreads_per_doubling=config.alert_spreads_per_doubling,
        random_state=config.random_state,
        alert_budget=config.alert_budget,
        peer_quantiles=config.peer_quantiles,
        peer_prior=config.peer_prior,
        peer_families=config.peer_families,
        peer_spread_floor=config.peer_spread_floor,
        tail_weight=config.tail_weight,
        family_weights=config.family_weights,
        full_forest_weight=config.full_forest_weight,
        family_floor=config.family_floor,
    ).fit(train_rows)
    # The line is drawn on the population as the forests were fitted on it, every
    # cluster lending its members its features. Scoring quiet clusters as unlinked
    # (score_features) lowers only their members' scores; drawn after it, five bulk
    # spreads fell 5-6 points (classroom cohorts had widened the bulk) and flagged 30-45%
    # more accounts, nearly all benign (two realistic populations, session 15).
    population = model.score(result.features)
    in_training = result.features.index.isin(train_rows.index)  # train_rows keeps the order
    model.threshold_ = training_case_threshold(
        result, train_rows.index, population[in_training], config, spreads=model.alert_spreads_
    )
    learned = None
    if labels is not None:
        from detector.verdicts import provenance

        scored = unlink_quiet_clusters(result, model, config)  # what score_features scores

        used = labels[labels[S.ACCOUNT_ID].astype(str).isin(set(result.features.index))]
        learned = fit_learned(
            model,
            scored.features,
            used,
            provenance=provenance(used, labels_source),
            config=config,
            substreams=scored.substreams,
        )
        if learned is not None:
            learned.threshold_ = learned_case_threshold(
                result, model, learned, scored.features, config
            )
    start_s, end_s = result.window
    text_models = {TOPIC_MODEL_KEY: result.topic_model} if result.topic_model is not None else {}
    path = save_bundle(
        model_path,
        model,
        name=name,
        text_models=text_models,
        config=config.to_dict(),
        training_start=start_s,
        training_end=end_s,
        learned=learned,
    )
    return path, result, model


def score(
    log: Path | Sequence[Path],
    model_path: str | Path,
    *,
    accounts: Path | pd.DataFrame | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    budget: str | None = None,
    threshold: float | None = None,
    suppressed: Collection[str] = (),
    quarantine_path: Path | None = None,
    progress: Progress | None = None,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
    cache_dir: Path | None = None,
) -> ScoreResult:
    """Score every account of ``log`` with the bundle at ``model_path``.

    The threshold is, in order: ``threshold`` (a score), ``budget`` (a count or a
    percentage of this population), or the bundle's own threshold (fixed at training,
    so flags are comparable across runs). Suppressed accounts are never flagged.
    ``engine="spark"`` builds the features and scores the accounts with Spark.
    ``cache_dir``: the local engine's annotation cache (as :func:`train`). The settings
    that define features come from the bundle (:meth:`~detector.config.Config.with_features_of`).
    """
    bundle = load_bundle(model_path)
    config = config.with_features_of(bundle.config)
    result = bundle_features(
        log,
        bundle,
        accounts=accounts,
        start=start,
        end=end,
        config=config,
        quarantine_path=quarantine_path,
        progress=progress,
        engine=engine,
        spark=spark,
        cache_dir=cache_dir,
    )
    return score_features(
        result,
        bundle,
        model_path=model_path,
        log=log,
        config=config,
        budget=budget,
        threshold=threshold,
        suppressed=suppressed,
        engine=engine,
        spark=spark,
    )


def bundle_features(
    log: Path | Sequence[Path],
    bundle: Bundle,
    *,
    accounts: Path | pd.DataFrame | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    config: Config = DEFAULT,
    quarantine_path: Path | None = None,
    progress: Progress | None = None,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
    cache_dir: Path | None = None,
) -> FeatureResult:
    """The feature table ``bundle`` scores ``log`` on: its topic model, and ``config``
    (which should carry the bundle's feature settings: :meth:`Config.with_features_of`)."""
    return feature_builder(engine, spark)(
        log,
        accounts=accounts,
        start=start,
        end=end,
        config=config,
        topic_model=bundle.text_models.get(TOPIC_MODEL_KEY),
        fit_topics=False,
        quarantine_path=quarantine_path,
        progress=progress,
        **cache_option(engine, cache_dir),
    )


def score_features(
    result: FeatureResult,
    bundle: Bundle,
    *,
    model_path: str | Path,
    log: Path | Sequence[Path] = (),
    config: Config = DEFAULT,
    budget: str | None = None,
    threshold: float | None = None,
    suppressed: Collection[str] = (),
    engine: Engine = "local",
    spark: SparkOptions | None = None,
) -> ScoreResult:
    """Score a feature table already built with the bundle's topic model.

    The nightly job uses this to score the population it just trained on without
    reading the log a second time (the features are the same: same log, same topics).
    """
    if not hasattr(bundle.model, "family_forests_"):
        raise UserError(
            f"{model_path}: this bundle was saved by an older detector (no family forests); "
            "retrain it with `detector train`"
        )
    missing = [f for f in bundle.features if f not in result.features.columns]
    retired = retired_features(missing)
    if retired:
        raise UserError(
            f"{model_path}: the model {bundle.version} was trained by an older detector on "
            f"features it no longer computes ({', '.join(retired)}); retrain it with "
            "`detector train`"
        )
    if missing:
        why = "; ".join(sorted({result.omitted.get(m, "?") for m in missing}))
        raise UserError(
            f"{log}: the model {bundle.version} needs features this log cannot provide: "
            f"{', '.join(missing)} ({why}); train a model on logs with the same columns"
        )
    result = unlink_quiet_clusters(result, bundle.model, config)
    features = result.features[list(bundle.features)]
    if bundle.learned is not None:  # the learned layer scores on the driver
        table = bundle.learned.score_frame(
            bundle.model, features, threshold=threshold, budget=budget, n_reasons=config.n_reasons
        )
    else:
        table = frame_scorer(engine, spark)(
            bundle.model, features, threshold=threshold, budget=budget, n_reasons=config.n_reasons
        )
    table = _lift_by_substreams(
        table, result, bundle, threshold=threshold, budget=budget, config=config
    )
    clusters = result.clusters
    table = attach_clusters(table, None if clusters is None else clusters.membership)
    base = (
        threshold if threshold is not None else float((bundle.learned or bundle.model).threshold_)
    )
    riders = frozenset() if clusters is None else clusters.riders
    table, applied = assign_cases(table, threshold=base, budget=budget, riders=riders)
    table = lead_with_cluster(table, None if clusters is None else clusters.table)
    first = [*S.SCORE_COLUMNS, S.CASE_ID, S.CASE_SCORE]
    table = table[first + [c for c in table.columns if c not in first]]
    table = table.sort_values(S.RANK, kind="stable").reset_index(drop=True)
    table[S.SUPPRESSED] = table[S.ACCOUNT_ID].isin(set(suppressed))
    table.loc[table[S.SUPPRESSED], S.FLAGGED] = False
    start_s, end_s = result.window
    meta = {
        "model_version": bundle.version,
        "model_path": str(Path(bundle.path or model_path).resolve()),
        "window_start": start_s,
        "window_end": end_s,
        "threshold": applied if math.isfinite(applied) else None,
        "budget": budget,
        "learned_from": None if bundle.learned is None else bundle.learned.provenance_,
        "cases": int(table[S.CASE_ID].nunique()),
        "flagged_cases": int(table.loc[table[S.FLAGGED], S.CASE_ID].nunique()),
        "accounts": len(table),
        "flagged": int(table[S.FLAGGED].sum()),
        "suppressed": int(table[S.SUPPRESSED].sum()),
        "features_omitted": result.omitted,
        "feature_settings": config.feature_settings(),
        "ingest": result.report.to_dict(),
    }
    if result.annotation_cache is not None:  # files replayed from the cache and files read
        meta["annotation_cache"] = result.annotation_cache
    return ScoreResult(table, result, bundle, clusters, meta)


def _lift_by_substreams(
    table: pd.DataFrame,
    result: FeatureResult,
    bundle: Bundle,
    *,
    threshold: float | None,
    budget: str | None,
    config: Config,
) -> pd.DataFrame:
    """Score the sub-streams with the bundle's model (the learned layer when it has one)
    and give each account the higher of its own and its worst sub-stream's score (see
    :mod:`detector.substreams`). Runs on the driver for every engine: the sub-streams
    are a fraction of the accounts, and one code path keeps the engines' tables equal."""
    from detector import explain

    model, learned = bundle.model, bundle.learned
    subs = result.substreams
    if len(subs):
        subs = type(subs)(subs.features[list(bundle.features)], subs.meta)

    def score_of(frame: pd.DataFrame) -> np.ndarray:
        return learned.score(model, frame) if learned is not None else model.score(frame)

    def reasons_of(frame: pd.DataFrame, forest: np.ndarray) -> np.ndarray:
        ids = frame.index.to_numpy(dtype=object)
        text = explain.reasons_strings(
            model, frame, forest_accounts=ids[forest], n_reasons=config.n_reasons
        )
        return text.to_numpy(dtype=object)

    default = float((learned or model).threshold_)
    return lift_scores(
        table,
        subs,
        score_of,
        reasons_of,
        cut_of=lambda s: alert_cut(s, threshold=threshold, budget=budget, default=default),
        explain_top=explain.DEFAULT_EXPLAIN_TOP,
    )
