"""Model bundles: one file holding a fitted model and everything needed to trust it.

File format (``NAME.bundle``, or any file name the caller chose)::

    DETECTOR-BUNDLE/1\n
    {"created_at": ..., "features": [...], "payload_sha256": ..., ...}\n   (one JSON line)
    <skops payload bytes>

The first line is a magic string; the second a JSON manifest with everything a reader
may want to know *without loading the payload*: name, version, features, config,
library versions, training window, population fingerprint, the payload's length and
SHA-256, and optionally an HMAC. The payload is a `skops <https://skops.readthedocs.io>`_
archive of the fitted :class:`~detector.model.AnomalyModel` and the caller's text models.

**Loading cannot run code, by construction.** A pickle executes whatever its bytes
name, so a digest in a manifest the attacker also writes protects nothing. skops
stores an object tree as JSON plus NumPy arrays (``allow_pickle=False``) and rebuilds
only types on an explicit list: scikit-learn's own estimators that skops trusts by
default, plus :data:`TRUSTED_TYPES` (our model, feature spec and topic model classes,
and scikit-learn's tree structure). A payload naming any other type -- ``os.system``,
``builtins.eval``, a class of the attacker's -- is refused before anything is built.
Bundles written by older detectors (a joblib pickle) are refused with a message to
retrain; they are never unpickled.

Before the payload is even parsed, :func:`load_bundle` checks magic, manifest (size,
depth, required fields), payload length against the file's size (truncation,
trailing bytes, absurd lengths), SHA-256, HMAC, library versions, feature set, and the
archive's expanded size (a zip bomb is refused, not inflated).

**Integrity vs authenticity.** The SHA-256 in the manifest detects corruption and
truncation, but anybody who can write the file can also rewrite the digest. When the
environment variable ``DETECTOR_BUNDLE_KEY`` is set at save time, an HMAC-SHA256 over
the magic, the manifest and the payload is stored in the manifest; it can only be
produced with the key, so it detects deliberate tampering (a model swapped for one
that never flags). At load, a signed bundle needs the key and a valid HMAC; and when a
key is available, unsigned bundles are refused too (otherwise stripping the HMAC would
bypass it).

Writes are atomic (temporary file in the same directory + :func:`os.replace`), so a
reader never sees a half-written bundle.

The package holds one step per module: the file format, naming and signing
(:mod:`~detector.artifacts.manifest`), writing (:mod:`~detector.artifacts.save`) and
verifying before anything is parsed (:mod:`~detector.artifacts.verify`). Rebuilding the
payload from trusted types -- the trust boundary -- is here, with :func:`load_bundle`;
every public name is re-exported here.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from detector.artifacts.manifest import (
    KEY_ENV,
    MAGIC,
    PAYLOAD_FORMAT,
    BundleError,
    bundle_filename,
    bundle_version,
    canonical_manifest,
    library_versions,
    manifest_digest,
    skops_io,
)

# public in the former single module, beyond __all__
from detector.artifacts.manifest import MAX_MANIFEST_BYTES as MAX_MANIFEST_BYTES
from detector.artifacts.manifest import SUFFIX as SUFFIX
from detector.artifacts.save import MANIFEST_SHA256, names_directory, save_bundle
from detector.artifacts.verify import (
    check_features,
    check_library_versions,
    read_manifest,
    read_parts,
    resolve_bundle,
    verify_parts,
)
from detector.learned import LearnedLayer
from detector.model import AnomalyModel

__all__ = [
    "KEY_ENV",
    "MAGIC",
    "TRUSTED_TYPES",
    "Bundle",
    "BundleError",
    "bundle_filename",
    "canonical_manifest",
    "library_versions",
    "load_bundle",
    "names_directory",
    "read_manifest",
    "resolve_bundle",
    "save_bundle",
]

MAX_PAYLOAD_EXPANDED: Final = 4 * 1024**3
"""Largest total uncompressed size of a payload archive: a bigger one is refused."""
TRUSTED_TYPES: Final = (
    "detector.model.AnomalyModel",
    "detector.features.registry.FeatureSpec",
    "detector.learned.LearnedLayer",
    "detector.peers.PeerTiers",
    "detector.tails.TailScorer",
    "detector.topics.TopicModel",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)
"""Types a payload may hold beyond those skops trusts by default (scikit-learn's
estimators, NumPy arrays, builtin containers). Each is plain data once built: their
``__setstate__``/``__dict__`` restore attributes and run nothing else (``TreePredictor``,
the learned layer's boosted trees, also casts its node array to its record dtype)."""


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle.

    Attributes
    ----------
    model : the fitted AnomalyModel.
    features : feature names, in the model's column order.
    text_models : the fitted text models saved alongside (opaque to this module).
    config : the pipeline configuration the model was trained with.
    versions : library versions at save time.
    training_window : ``{"start": ..., "end": ...}`` (strings, may be ``None``).
    fingerprint : population fingerprint of the training accounts.
    created_at : UTC ISO-8601 time of saving.
    name, version : the bundle's name and version (``<name>-<YYYYMMDD>-<digest8>``).
    manifest : the full manifest as read.
    path : where it was loaded from.
    learned : the layer learned from verdicts (:mod:`detector.learned`), or ``None``:
        then the model's unsupervised score is the score.
    """

    model: AnomalyModel
    features: tuple[str, ...]
    text_models: dict[str, Any]
    config: dict[str, Any]
    versions: dict[str, str]
    training_window: dict[str, str | None]
    fingerprint: dict[str, Any]
    created_at: str
    name: str
    version: str
    manifest: dict[str, Any] = field(repr=False)
    path: Path | None = None
    learned: LearnedLayer | None = None


def _load_payload(path: Path, manifest: Mapping[str, Any], payload: bytes) -> Any:
    """Rebuild the payload's objects, allowing only trusted types; never unpickle."""
    fmt = manifest.get("payload_format")
    if fmt != PAYLOAD_FORMAT:
        raise BundleError(
            f"{path}: payload format {fmt!r} is refused: only {PAYLOAD_FORMAT!r} bundles load "
            "(older bundles were pickles, which can run code when loaded); re-train with "
            "`detector train`"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BundleError(f"{path}: payload is not a skops archive ({exc})") from None
    if expanded > MAX_PAYLOAD_EXPANDED:
        raise BundleError(
            f"{path}: payload expands to {expanded:,} bytes (limit {MAX_PAYLOAD_EXPANDED:,}); "
            "refusing to load it"
        )
    try:
        sio = skops_io()
        untrusted = set(sio.get_untrusted_types(data=payload)) - set(TRUSTED_TYPES)
        if untrusted:
            raise BundleError(
                f"{path}: payload holds types outside the trusted list "
                f"({', '.join(sorted(untrusted))}); refusing to load it"
            )
        return sio.loads(payload, trusted=list(TRUSTED_TYPES))
    except BundleError:
        raise
    except RecursionError:
        raise BundleError(f"{path}: payload is nested too deeply to be a model") from None
    except Exception as exc:  # a verified archive that still fails: report, not crash
        raise BundleError(f"{path}: payload could not be loaded: {exc}") from exc


def _check_manifest(path: Path, manifest: Mapping[str, Any], saved: object) -> None:
    """Refuse a manifest that is not the one saved with the payload, or whose version
    is not the one its name, time and payload make. Bundles saved before the payload
    kept the manifest's digest (``saved`` None) are read as they are."""
    if saved is None:
        return
    version = bundle_version(manifest["name"], manifest["created_at"], manifest["payload_sha256"])
    if saved != manifest_digest(manifest) or manifest["version"] != version:
        raise BundleError(
            f"{path}: the manifest is not the one saved with the model (edited or corrupted); "
            "refusing to load it: restore the bundle or re-train"
        )


def load_bundle(
    path: str | os.PathLike[str],
    *,
    expected_features: Iterable[str] | None = None,
    key: str | bytes | None = None,
    require_signature: bool | None = None,
    check_versions: bool = True,
) -> Bundle:
    """Verify a bundle, then rebuild its model from trusted types only.

    Checks, in order and all before the payload is parsed: magic line; manifest (JSON, required
    fields); payload length (truncation / trailing bytes); payload SHA-256; HMAC;
    library versions; feature set.

    Parameters
    ----------
    path : the bundle file, or a directory of bundles (its newest valid one is loaded,
        see :func:`resolve_bundle`; ``Bundle.path`` says which).
    expected_features : features the pipeline produces now; when given they must be
        exactly the bundle's features (order may differ).
    key : HMAC key; default ``DETECTOR_BUNDLE_KEY``. A signed bundle needs it.
    require_signature : refuse unsigned bundles. Default: refuse them when a key is
        available, accept them otherwise (the SHA-256 still guards against corruption).
    check_versions : refuse a bundle saved with another scikit-learn *major.minor*
        (tree internals are not portable across minor versions) or another numpy
        *major* (array pickles changed between 1.x and 2.x). Python, pandas and joblib
        versions are recorded but not enforced.

    Returns
    -------
    The loaded :class:`Bundle`.

    Raises
    ------
    BundleError
        With a message saying exactly what is wrong.
    """
    path = resolve_bundle(path)
    manifest, payload = read_parts(path)
    verify_parts(path, manifest, payload, key, require_signature)
    if check_versions:
        check_library_versions(path, manifest["versions"])
    features = [str(f) for f in manifest["features"]]
    if expected_features is not None:
        check_features(path, features, expected_features)

    content = _load_payload(path, manifest, payload)
    if not isinstance(content, dict) or not isinstance(content.get("model"), AnomalyModel):
        raise BundleError(f"{path}: payload does not hold an AnomalyModel")
    _check_manifest(path, manifest, content.get(MANIFEST_SHA256))
    model = content["model"]
    if [str(f) for f in model.feature_names_in_] != features:
        raise BundleError(f"{path}: manifest features disagree with the saved model")
    learned = content.get("learned")
    if learned is not None and (
        not isinstance(learned, LearnedLayer) or learned.features_ != features
    ):
        raise BundleError(f"{path}: the learned layer does not fit the saved model")
    window = manifest.get("training_window") or {}
    return Bundle(
        model=model,
        features=tuple(features),
        text_models=dict(content.get("text_models") or {}),
        config=dict(manifest.get("config") or {}),
        versions=dict(manifest["versions"]),
        training_window={"start": window.get("start"), "end": window.get("end")},
        fingerprint=dict(manifest.get("fingerprint") or {}),
        created_at=manifest["created_at"],
        name=manifest["name"],
        version=manifest["version"],
        manifest=manifest,
        path=path,
        learned=learned,
    )
