"""Train and score: the stages composed for the CLI and the nightly job.

``train`` fits the text (topic) model and the anomaly model on a log and saves a
verified bundle. ``score`` loads a bundle (verified before unpickling), builds the
same features with the bundle's topic model, scores, attaches clusters and
suppressions, and returns the contract's score table. ``write_scores`` writes it
with its sidecars:

- ``SCORES.csv`` — contract 3.1 (log-derived text neutralised for spreadsheets);
- ``SCORES.features.parquet`` — the feature table that was scored (for explain,
  evaluate baselines and the report);
- ``SCORES.clusters.json`` — clusters with members and evidence;
- ``SCORES.meta.json`` — model version and path, window, ingest counts;
- ``SCORES.space.npy`` — the model's preprocessed matrix (float32, rows in the
  feature table's order), so ``detector similar`` answers without loading the model.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detector import schema as S
from detector.artifacts import Bundle, load_bundle, save_bundle
from detector.config import DEFAULT, Config
from detector.coordination import Clusters
from detector.engines import Engine, SparkOptions, feature_builder, frame_scorer
from detector.errors import UserError
from detector.learned import fit_learned
from detector.model import AnomalyModel
from detector.pipeline import FeatureResult, Progress
from detector.safe import atomic_path, atomic_write_text, write_csv

TOPIC_MODEL_KEY = "topics"
CLUSTER_REASON_MIN_SIZE = 3


@dataclass
class ScoreResult:
    """A scored population: the score table and what it was computed from."""

    scores: pd.DataFrame
    result: FeatureResult
    bundle: Bundle
    clusters: Clusters | None
    meta: dict[str, Any] = field(default_factory=dict)


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
) -> tuple[Path, FeatureResult, AnomalyModel]:
    """Fit a model on the population in ``log`` and save it as a bundle.

    ``exclude`` are accounts left out of the fit (e.g. confirmed extraction), so the
    forest learns what normal looks like. ``labels`` (``account_id, label[,
    decided_at]``, see :mod:`detector.verdicts`) also fit the learned layer
    (:mod:`detector.learned`) over the whole population when there are enough of them
    in it; the bundle's manifest records their provenance under ``labels``
    (``labels_source`` says where they came from). ``model_path`` may be a directory,
    in which case the bundle is named ``<name>-<YYYYMMDD>-<digest8>.bundle`` inside it.
    ``engine="spark"`` builds the features with Spark (``spark``: master and config);
    the forest is fitted on the driver either way.
    """
    result = feature_builder(engine, spark)(
        log,
        accounts=accounts,
        start=start,
        end=end,
        config=config,
        quarantine_path=quarantine_path,
        progress=progress,
    )
    train_rows = result.features.drop(index=list(set(exclude) & set(result.features.index)))
    if len(train_rows) < 2:
        raise UserError(f"{log}: only {len(train_rows)} account(s) to train on; need at least 2")
    model = AnomalyModel(
        n_estimators=config.n_estimators,
        family_estimators=config.family_estimators,
        max_samples=config.max_samples,
        random_state=config.random_state,
        alert_budget=config.alert_budget,
    ).fit(train_rows)
    learned = None
    if labels is not None:
        from detector.verdicts import provenance

        used = labels[labels[S.ACCOUNT_ID].astype(str).isin(set(result.features.index))]
        learned = fit_learned(
            model,
            result.features,
            used,
            provenance=provenance(used, labels_source),
            config=config,
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
) -> ScoreResult:
    """Score every account of ``log`` with the bundle at ``model_path``.

    The threshold is, in order: ``threshold`` (a score), ``budget`` (a count or a
    percentage of this population), or the bundle's own threshold (fixed at training,
    so flags are comparable across runs). Suppressed accounts are never flagged.
    ``engine="spark"`` builds the features and scores the accounts with Spark.
    """
    bundle = load_bundle(model_path)
    result = feature_builder(engine, spark)(
        log,
        accounts=accounts,
        start=start,
        end=end,
        config=config,
        topic_model=bundle.text_models.get(TOPIC_MODEL_KEY),
        fit_topics=False,
        quarantine_path=quarantine_path,
        progress=progress,
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
    if missing:
        why = "; ".join(sorted({result.omitted.get(m, "?") for m in missing}))
        raise UserError(
            f"{log}: the model {bundle.version} needs features this log cannot provide: "
            f"{', '.join(missing)} ({why}); train a model on logs with the same columns"
        )
    features = result.features[list(bundle.features)]
    if bundle.learned is not None:  # the learned layer scores on the driver
        table = bundle.learned.score_frame(
            bundle.model, features, threshold=threshold, budget=budget, n_reasons=config.n_reasons
        )
    else:
        table = frame_scorer(engine, spark)(
            bundle.model, features, threshold=threshold, budget=budget, n_reasons=config.n_reasons
        )
    default_threshold = (bundle.learned or bundle.model).threshold_
    clusters = result.extras.get("clusters")
    table = _attach_clusters(table, clusters)
    table[S.SUPPRESSED] = table[S.ACCOUNT_ID].isin(set(suppressed))
    table.loc[table[S.SUPPRESSED], S.FLAGGED] = False
    start_s, end_s = result.window
    meta = {
        "model_version": bundle.version,
        "model_path": str(Path(bundle.path or model_path).resolve()),
        "window_start": start_s,
        "window_end": end_s,
        "threshold": threshold
        if threshold is not None
        else (None if budget else float(default_threshold)),
        "learned_from": None if bundle.learned is None else bundle.learned.provenance_,
        "budget": budget,
        "accounts": len(table),
        "flagged": int(table[S.FLAGGED].sum()),
        "suppressed": int(table[S.SUPPRESSED].sum()),
        "features_omitted": result.omitted,
        "ingest": result.report.to_dict(),
    }
    return ScoreResult(table, result, bundle, clusters, meta)


def _attach_clusters(table: pd.DataFrame, clusters: Clusters | None) -> pd.DataFrame:
    """Fill ``cluster_id`` and lead a clustered, flagged account's reasons with its cluster."""
    if clusters is None:
        return table
    cid = clusters.membership.reindex(table[S.ACCOUNT_ID]).fillna("").to_numpy(dtype=object)
    table[S.CLUSTER_ID] = cid
    ctab = clusters.table
    if ctab.empty:
        return table
    members = ctab["members"].reindex(cid).to_numpy()
    evidence = ctab["evidence"].reindex(cid).fillna("").to_numpy(dtype=object)
    lead = (table[S.FLAGGED].to_numpy()) & (np.nan_to_num(members) >= CLUSTER_REASON_MIN_SIZE)
    if lead.any():
        sentences = pd.Series(
            [
                f"one of {int(m)} linked accounts in cluster {c} that {e}"
                for m, c, e in zip(members[lead], cid[lead], evidence[lead], strict=True)
            ],
            dtype=object,
        )
        # vectorised join with the existing reasons (one string op per flagged row set)
        reasons = table.loc[lead, S.REASONS].astype(str).to_numpy()
        table.loc[lead, S.REASONS] = (
            sentences + S.REASONS_SEPARATOR + pd.Series(reasons)
        ).to_numpy()
    return table


def score_csv_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The score table as written: booleans as the contract's ``true``/``false``."""
    out = table.copy()
    for col in (S.FLAGGED, S.SUPPRESSED):
        if col in out.columns:
            out[col] = np.where(out[col].astype(bool), "true", "false")
    return out


def sidecar(out: Path, kind: str) -> Path:
    """Path of a score table's sidecar (``features``, ``clusters``, ``meta``, ``space``)."""
    ext = {"features": "parquet", "clusters": "json", "meta": "json", "space": "npy"}[kind]
    return out.with_name(f"{out.stem}.{kind}.{ext}")


def write_scores(scored: ScoreResult, out: Path) -> list[Path]:
    """Write the score table and its sidecars atomically; returns the paths written."""
    out = Path(out)
    write_csv(
        score_csv_frame(scored.scores), out, text_columns=[S.ACCOUNT_ID, S.CLUSTER_ID, S.REASONS]
    )
    feats = sidecar(out, "features")
    with atomic_path(feats) as tmp:
        scored.result.features.to_parquet(tmp)
    space = sidecar(out, "space")
    matrix = scored.bundle.model.transform(scored.result.features[list(scored.bundle.features)])
    with atomic_path(space) as tmp, open(tmp, "wb") as fh:
        np.save(fh, matrix, allow_pickle=False)
    clusters_path = sidecar(out, "clusters")
    atomic_write_text(clusters_path, json.dumps(clusters_json(scored), indent=1, sort_keys=True))
    meta = sidecar(out, "meta")
    atomic_write_text(meta, json.dumps(scored.meta, indent=1, sort_keys=True, default=str))
    return [out, feats, space, clusters_path, meta]


def clusters_json(scored: ScoreResult) -> dict[str, Any]:
    """Clusters with members (with score and flag), evidence and combined behaviour."""
    if scored.clusters is None or scored.clusters.table.empty:
        return {"clusters": []}
    scores = scored.scores.set_index(S.ACCOUNT_ID)
    membership = scored.clusters.membership
    membership = membership[membership != ""]
    rows = []
    members_by = membership.groupby(membership).groups
    for cid, row in scored.clusters.table.iterrows():  # one iteration per cluster
        ids = sorted(members_by.get(cid, []))
        member_scores = scores.reindex(ids)
        rows.append(
            {
                "cluster_id": cid,
                "members": len(ids),
                "evidence": row["evidence"],
                "evidence_counts": scored.clusters.evidence_kinds.get(cid, {}),
                "requests_per_day": round(float(row["requests_per_day"]), 2),
                "template_share": round(float(row["template_share"]), 4),
                "synchrony": round(float(row["synchrony"]), 4),
                "activation_spread_hours": round(float(row["activation_spread_hours"]), 2),
                "max_score": float(member_scores[S.SCORE].max()),
                "flagged_members": int(member_scores[S.FLAGGED].sum()),
                "accounts": [
                    {"account_id": a, "score": float(s), "flagged": bool(f)}
                    for a, s, f in zip(
                        ids, member_scores[S.SCORE], member_scores[S.FLAGGED], strict=True
                    )
                ],
            }
        )
    rows.sort(key=lambda r: (-r["max_score"], r["cluster_id"]))
    return {"clusters": rows}


def read_scores(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a SCORES.csv back (undoing nothing: neutralised cells keep their quote).

    ``columns`` reads only those (they must include ``account_id`` and ``flagged``),
    e.g. without the long ``reasons``, which is most of the file.
    """
    path = Path(path)
    try:
        table = pd.read_csv(
            path,
            dtype={S.ACCOUNT_ID: str, S.CLUSTER_ID: str, S.REASONS: str},
            keep_default_na=False,
            usecols=None if columns is None else list(columns),
        )
    except Exception as exc:  # pandas raises several types for a bad CSV
        raise UserError(f"{path}: cannot read scores CSV ({exc})") from None
    missing = [c for c in (columns or S.SCORE_COLUMNS) if c not in table.columns]
    if missing:
        raise UserError(f"{path}: not a scores file, missing column(s) {', '.join(missing)}")
    table[S.FLAGGED] = table[S.FLAGGED].astype(str).str.lower().eq("true")
    return table
