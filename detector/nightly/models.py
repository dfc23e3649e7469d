"""The nightly job's model lifecycle: which model scores tonight, and training a new one.

Bundles live in ``STATE/models/`` and are registered in the store (path relative to
the state dir, payload SHA-256). A registered bundle is used only while its file's
digest is the registered one. A new model is trained when there is none, when the
current one's training data ends more than ``retrain_days`` before DATE, when it
cannot be loaded or is not the registered file, when ``retrain_new_verdicts`` accounts
got a verdict since it was trained (the learned layer learns from verdicts at
training), when the window's features drifted from its training population (see
:mod:`detector.nightly.drift`), or when forced. The
reason is recorded in the registry and the summary. Training leaves out the accounts
analysts confirmed as extraction, so the forest learns what normal looks like.

Re-runs are reproducible: the store records which model scored each date (the
``model_version`` of its last ``ok`` run); re-running a date reuses that model while
its file is intact, so ``scores.csv`` comes out byte for byte the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from detector import schema as S
from detector.artifacts import BundleError, load_bundle, read_manifest
from detector.features import retired_features
from detector.nightly.drift import psi_path, write_psi_reference
from detector.nightly.inputs import NightlyOptions, Window
from detector.nightly.layout import MODEL_NAME, MODELS_DIR
from detector.pipeline import FeatureResult
from detector.scoring import TOPIC_MODEL_KEY, train
from detector.store import ModelRecord, Store
from detector.topics import TopicModel
from detector.verdicts import new_verdicts_since

__all__ = [
    "ChosenModel",
    "check_loaded",
    "choose_model",
    "confirmed_extraction",
    "discard_orphans",
    "discard_unregistered",
    "registry_mismatch",
    "topics_to_keep",
    "train_model",
]

Warn = Callable[[str], None]


@dataclass
class ChosenModel:
    """The model a run uses and why."""

    version: str
    path: Path
    reason: str
    trained: bool = False
    reused_for_date: bool = False
    digest: str = ""
    created_at: str = ""
    window_start: str | None = None
    window_end: str | None = None
    training_accounts: int | None = None
    excluded: int | None = None
    topics: str | None = None
    """When trained tonight: whether the topic model was kept or refitted, and why."""
    features: FeatureResult | None = field(default=None, repr=False, compare=False)
    """The window's features when this run just trained on them (scored without re-reading)."""

    @classmethod
    def registered(cls, record: ModelRecord, path: Path, reason: str) -> ChosenModel:
        return cls(
            version=record.version,
            path=path,
            reason=reason,
            digest=record.digest,
            created_at=record.trained_at,
            window_start=record.window_start,
            window_end=record.window_end,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "path": str(self.path),
            "reason": self.reason,
            "action": "train" if self.trained else "reuse",
            "retrained": self.trained,
            "reused_for_date": self.reused_for_date,
            "training_window": [self.window_start, self.window_end],
            "training_accounts": self.training_accounts,
            "excluded_accounts": self.excluded,
            "topics": self.topics,
        }


def _resolve(store: Store, state: Path, record: ModelRecord) -> Path | None:
    """The bundle of a registry row: its path against the state dir, else by file name.

    The fallback finds rows written before paths were stored relative to the state
    dir (relative to whatever the working directory was) when the file is in
    ``STATE/models``.
    """
    stored = store.model_path(record)
    for candidate in (stored, state / MODELS_DIR / stored.name):
        if candidate.is_file():
            return candidate
    return None


def registry_mismatch(path: Path, record: ModelRecord) -> str | None:
    """Why the file at ``path`` is not the registered, usable model, or ``None``.

    The registry's digest is the payload SHA-256 of the bundle it registered. The
    file's manifest is read and verified (payload length, SHA-256, HMAC when a key is
    set) without loading the payload, and its payload digest must be the registered
    one: a bundle swapped for another -- valid, but not the one that scored the
    earlier runs -- is not used. Nor is one trained by an older detector on features
    this one no longer computes (it is retrained).
    """
    try:
        manifest = read_manifest(path)
    except BundleError as exc:
        return str(exc)
    if manifest.get("payload_sha256") != record.digest:
        return (
            f"{path}: payload SHA-256 {str(manifest.get('payload_sha256'))[:12]}... is not the "
            f"registered {record.digest[:12]}... of {record.version} (the file was replaced)"
        )
    retired = retired_features(manifest.get("features", []))
    if retired:
        return (
            f"{path}: trained by an older detector on features it no longer computes: "
            f"{', '.join(retired)}"
        )
    return None


def check_loaded(manifest: dict[str, Any], model: ChosenModel) -> None:
    """The bundle that scored is the registered one (its file may change between reads)."""
    loaded = manifest.get("payload_sha256")
    if model.digest and loaded != model.digest:
        raise BundleError(
            f"{model.path}: the bundle loaded (payload SHA-256 {str(loaded)[:12]}...) is not "
            f"the registered {model.version} ({model.digest[:12]}...)"
        )


def _model_that_scored(store: Store, state: Path, day: dt.date, warn: Warn) -> ChosenModel | None:
    """The registered model of the latest ``ok`` run of ``day``, if its file is intact."""
    latest = store.latest_ok_run(day)
    if latest is None or latest[1] is None:
        return None
    version = str(latest[1])
    record = next((r for r in store.model_records() if r.version == version), None)
    if record is None:
        return None
    path = _resolve(store, state, record)
    if path is None:
        return None
    problem = registry_mismatch(path, record)
    if problem is not None:
        warn(f"not reusing {version} for the re-run of {day}: {problem}")
        return None
    reason = f"re-run of {day}: reusing {version}, the model that scored it"
    model = ChosenModel.registered(record, path, reason)
    model.reused_for_date = True
    return model


def current_model_file(
    store: Store, state: Path, warn: Warn | None = None
) -> tuple[ModelRecord, Path] | str:
    """The registered current model and its intact bundle file, or why there is none
    (``no model``, ``model file missing: …``, ``model … unusable: …``; the last also
    ``warn``-ed)."""
    current = store.current_model()
    if current is None:
        return "no model"
    path = _resolve(store, state, current)
    if path is None:
        return f"model file missing: {current.path} ({current.version})"
    problem = registry_mismatch(path, current)
    if problem is not None:
        if warn is not None:
            warn(f"not using {current.version}: {problem}")
        return f"model {current.version} unusable: {problem}"
    return current, path


def choose_model(
    store: Store, options: NightlyOptions, warn: Warn
) -> tuple[ChosenModel | None, str]:
    """The model to score ``options.date`` with, or ``None`` and the reason to train one.

    A re-run reuses the model that scored the date; otherwise the current model, unless
    the retrain policy says otherwise.
    """
    day, state = options.date, options.state
    if options.force_retrain:
        return None, "forced (--force-retrain)"
    reused = _model_that_scored(store, state, day, warn)
    if reused is not None:
        return reused, ""
    found = current_model_file(store, state, warn)
    if isinstance(found, str):
        return None, found
    current, path = found
    if current.window_end is None:
        return None, f"model {current.version} has no recorded training window"
    end = dt.date.fromisoformat(current.window_end)
    age = (day - end).days
    if age > options.retrain_days:
        return None, (
            f"model older than {options.retrain_days} days: {current.version} was trained on "
            f"data through {end}, {age} days before {day}"
        )
    fresh = new_verdicts_since(store, current.trained_at)
    if fresh >= options.config.retrain_new_verdicts:
        return None, (
            f"{fresh} accounts got a verdict since {current.version} was trained "
            f"(retrain at {options.config.retrain_new_verdicts})"
        )
    reason = f"current model, trained on data through {end}"
    return ChosenModel.registered(current, path, reason), ""


def confirmed_extraction(store: Store) -> set[str]:
    """Accounts whose latest verdict is ``extraction``: left out of training."""
    labels = store.labels_frame()
    return set(labels.loc[labels[S.LABEL] == S.LABEL_EXTRACTION, S.ACCOUNT_ID].astype(str))


def topics_to_keep(
    store: Store, options: NightlyOptions, window: Window
) -> tuple[TopicModel | None, str]:
    """The current model's topic model, when a scheduled retrain may keep it; and why
    (or why not).

    Kept while the window it was fitted on ended at most ``Config.topic_refit_days``
    before tonight's: the nights since were annotated with it, so a retrain replays
    them from the annotation cache instead of reading them again (the cache is keyed by
    the topic model), and topic ids -- so topic features and scores -- do not move
    because a new sample was drawn. A bundle whose topic model has no fitting date (saved
    before this was recorded) is refitted.
    """
    refit_days = options.config.topic_refit_days
    found = current_model_file(store, options.state)
    if isinstance(found, str):
        return None, f"refit: {found}"
    if refit_days <= 0:
        return None, "refit: topic_refit_days is 0"
    current, path = found
    try:
        topics = load_bundle(path).text_models.get(TOPIC_MODEL_KEY)
    except BundleError as exc:
        return None, f"refit: model {current.version} unusable: {exc}"
    through = getattr(topics, "fitted_through_", None)
    if topics is None or through is None:
        return None, f"refit: model {current.version}'s topic model has no fitting date"
    age = (window.end - dt.date.fromisoformat(through)).days
    if age > refit_days:
        return None, (
            f"refit: the topic model of {current.version} was fitted on data through "
            f"{through}, {age} days before {window.end} (topic_refit_days {refit_days})"
        )
    return topics, f"kept from {current.version} (fitted on data through {through})"


def train_model(
    options: NightlyOptions,
    window: Window,
    *,
    exclude: set[str],
    reason: str,
    quarantine: Path | None,
    labels: pd.DataFrame | None = None,
    topic_model: TopicModel | None = None,
    topics: str | None = None,
    accounts: pd.DataFrame | None,
) -> ChosenModel:
    """Train on the window (without ``exclude``), save the bundle and its drift reference.

    ``labels`` (the store's current verdicts) also fit the learned layer when there are
    enough of them among the window's accounts. ``topic_model``: keep this fitted topic
    model (see :func:`topics_to_keep`) instead of fitting one; ``topics`` says why.
    ``accounts``: the account table as the run read it (with ``idle_days``,
    :mod:`detector.nightly.idle`), ``None`` without one.
    """
    models = options.state / MODELS_DIR
    models.mkdir(parents=True, exist_ok=True)
    path, result, fitted = train(
        options.logs,
        models,
        accounts=accounts,
        start=window.start,
        end=window.end,
        config=options.config,
        exclude=exclude,
        labels=labels,
        labels_source=f"state:{options.state}",
        name=MODEL_NAME,
        quarantine_path=quarantine,
        engine=options.engine,
        spark=options.spark,
        cache_dir=options.cache_dir,
        topic_model=topic_model,
    )
    manifest = read_manifest(path, verify=False)
    population = result.features.drop(index=list(exclude & set(result.features.index)))
    write_psi_reference(
        path,
        population[list(fitted.feature_names_in_)],
        str(manifest["version"]),
        bins=options.config.psi_bins,
    )
    start_s, end_s = result.window
    return ChosenModel(
        version=str(manifest["version"]),
        path=path,
        reason=reason,
        trained=True,
        digest=str(manifest["payload_sha256"]),
        created_at=str(manifest["created_at"]),
        window_start=start_s[:10],
        window_end=end_s[:10],
        training_accounts=len(population),
        excluded=len(result.features) - len(population),
        topics=topics,
        features=result,
    )


def _remove_bundle(bundle: Path) -> None:
    bundle.unlink(missing_ok=True)
    psi_path(bundle).unlink(missing_ok=True)


def discard_unregistered(store: Store, trained: Iterable[ChosenModel]) -> None:
    """Remove the bundles a failed run trained, unless the registry already knows them.

    A model enters the registry only in the commit of a run, so a failed run leaves no
    half-adopted model behind.
    """
    known = {record.version for record in store.model_records()}
    for model in trained:
        if model.version not in known:
            _remove_bundle(model.path)


def discard_orphans(store: Store, state: Path, warn: Warn) -> None:
    """Remove the job's bundles the registry does not hold (trained by a killed run)."""
    models = state / MODELS_DIR
    if not models.is_dir():
        return
    known = {record.version for record in store.model_records()}
    for bundle in sorted(models.glob(f"{MODEL_NAME}-*.bundle")):
        if bundle.name.removesuffix(".bundle") not in known:
            warn(f"removing {bundle}: trained by a run that never committed")
            _remove_bundle(bundle)
