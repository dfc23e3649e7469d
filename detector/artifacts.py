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
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import io
import json
import os
import platform
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import joblib
import numpy as np
import pandas as pd
import sklearn

from detector.learned import LearnedLayer
from detector.model import AnomalyModel

__all__ = [
    "KEY_ENV",
    "MAGIC",
    "TRUSTED_TYPES",
    "Bundle",
    "BundleError",
    "bundle_filename",
    "library_versions",
    "load_bundle",
    "names_directory",
    "read_manifest",
    "resolve_bundle",
    "save_bundle",
]

MAGIC: Final = b"DETECTOR-BUNDLE/1"
KEY_ENV: Final = "DETECTOR_BUNDLE_KEY"
SUFFIX: Final = ".bundle"
MAX_MANIFEST_BYTES: Final = 16 * 1024 * 1024
MAX_PAYLOAD_EXPANDED: Final = 4 * 1024**3
"""Largest total uncompressed size of a payload archive: a bigger one is refused."""
PAYLOAD_FORMAT: Final = "skops"
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
_HMAC_FIELD: Final = "hmac_sha256"
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_REQUIRED: Final = {
    "format": str,
    "name": str,
    "version": str,
    "created_at": str,
    "features": list,
    "versions": dict,
    "payload_sha256": str,
    "payload_bytes": int,
}


class BundleError(ValueError):
    """A bundle cannot be used: corrupt, tampered, unsigned, or incompatible."""


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


# --- helpers ----------------------------------------------------------------------------


def _skops_io() -> ModuleType:
    """``skops.io``, imported on first use: importing it costs about a second (it scans
    every scikit-learn type it trusts), which every ``detector`` command that never
    saves or loads a model (features, validate, simulate ...) would pay at start."""
    import skops.io

    return skops.io


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on."""
    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
        "skops": importlib.metadata.version("skops"),
    }


def bundle_filename(name: str, created_at: str, payload_sha256: str) -> str:
    """``<name>-<YYYYMMDD>-<first 8 hex digits of the payload SHA-256>.bundle``."""
    return f"{_version(name, created_at, payload_sha256)}{SUFFIX}"


def _version(name: str, created_at: str, payload_sha256: str) -> str:
    day = _parse_created_at(created_at).strftime("%Y%m%d")
    return f"{name}-{day}-{payload_sha256[:8]}"


def _parse_created_at(created_at: str) -> datetime:
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        raise BundleError(f"created_at {created_at!r} is not an ISO-8601 time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _canonical(manifest: Mapping[str, Any]) -> bytes:
    """The manifest as one canonical JSON line (sorted keys, ASCII, no NaN)."""
    return json.dumps(
        manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _resolve_key(key: str | bytes | None) -> bytes | None:
    if key is None:
        key = os.environ.get(KEY_ENV) or None
    if key is None:
        return None
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def _mac(key: bytes, manifest_wo_mac: Mapping[str, Any], payload: bytes) -> str:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(MAGIC + b"\n")
    mac.update(_canonical(manifest_wo_mac) + b"\n")
    mac.update(payload)
    return mac.hexdigest()


def _json_safe(value: Any) -> Any:
    """Round-trip ``value`` through JSON (non-JSON leaves become strings)."""
    return json.loads(json.dumps(value, default=str, allow_nan=False))


def _atomic_write(path: Path, chunks: Iterable[bytes]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- save -------------------------------------------------------------------------------


def save_bundle(
    path: str | os.PathLike[str],
    model: AnomalyModel,
    *,
    name: str = "detector",
    text_models: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    training_start: str | None = None,
    training_end: str | None = None,
    created_at: str | None = None,
    key: str | bytes | None = None,
    compress: int = 3,
    learned: LearnedLayer | None = None,
) -> Path:
    """Write a fitted model (and text models) as one verified bundle file.

    Parameters
    ----------
    path : the bundle file to write (any name, e.g. ``m.joblib`` or ``m.bundle``), or a
        directory (see :func:`names_directory`: existing, ``models/``, or a new path
        without a suffix), created if needed: then the file is named
        ``<name>-<YYYYMMDD>-<digest8>.bundle`` inside it (see :func:`bundle_filename`).
    model : a fitted AnomalyModel.
    name : bundle name: letters, digits, ``.``, ``_``, ``-``.
    text_models : fitted text models (e.g. a topic model), saved with the model; their
        types must be in :data:`TRUSTED_TYPES` or trusted by skops.
    config : the pipeline configuration (``Config.to_dict()``), stored as JSON.
    training_start, training_end : the training window, e.g. ``"2026-05-01"``.
    created_at : UTC ISO-8601 time; default now (pass one for reproducible files).
    key : HMAC key; default the ``DETECTOR_BUNDLE_KEY`` environment variable. With a
        key the manifest carries an HMAC-SHA256 of magic + manifest + payload.
    compress : zip (deflate) compression level of the payload (0–9).
    learned : the layer learned from verdicts over ``model``, if any; the manifest's
        ``labels`` then records its labels' provenance (counts, dates, digest).

    Returns
    -------
    The path written.
    """
    if not isinstance(model, AnomalyModel):
        raise TypeError(f"expected an AnomalyModel, got {type(model).__name__}")
    if not hasattr(model, "forest_"):
        raise BundleError("the model is not fitted; fit it before saving a bundle")
    if not _NAME_RE.match(name):
        raise BundleError(
            f"bundle name {name!r} must be 1–100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    text_models = dict(text_models or {})
    created_at = created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _parse_created_at(created_at)

    if learned is not None and learned.features_ != [str(f) for f in model.feature_names_in_]:
        raise BundleError("the learned layer was fitted over another model's features")
    content: dict[str, Any] = {"model": model, "text_models": text_models}
    if learned is not None:
        content["learned"] = learned
    payload = _skops_io().dumps(
        content,
        compression=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED,
        compresslevel=compress or None,
    )
    digest = hashlib.sha256(payload).hexdigest()

    manifest: dict[str, Any] = {
        "format": MAGIC.decode("ascii"),
        "name": name,
        "version": _version(name, created_at, digest),
        "created_at": created_at,
        "features": [str(f) for f in model.feature_names_in_],
        "config": _json_safe(dict(config or {})),
        "versions": library_versions(),
        "training_window": {"start": training_start, "end": training_end},
        "fingerprint": _json_safe(getattr(model, "fingerprint_", {})),
        "text_models": sorted(str(k) for k in text_models),
        "labels": None if learned is None else _json_safe(learned.provenance_),
        "learned": None if learned is None else _json_safe(learned.summary()),
        "payload_format": PAYLOAD_FORMAT,
        "payload_sha256": digest,
        "payload_bytes": len(payload),
    }
    secret = _resolve_key(key)
    if secret is not None:
        manifest[_HMAC_FIELD] = _mac(secret, manifest, payload)

    target = Path(path)
    if names_directory(path):
        target.mkdir(parents=True, exist_ok=True)
        target = target / bundle_filename(name, created_at, digest)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, [MAGIC + b"\n", _canonical(manifest) + b"\n", payload])
    return target


def names_directory(path: str | os.PathLike[str]) -> bool:
    """Whether a model path names a directory of versioned bundles rather than one file.

    A directory is: an existing directory, a path written with a trailing separator
    (``models/``), or a path with no suffix that does not exist yet (``models``). Any
    other path (``m.joblib``, ``m.bundle``, ``out/model.v2``) names the bundle file
    itself, so ``train --model P`` and ``score --model P`` round-trip for every ``P``.
    """
    text = os.fspath(path)
    target = Path(text)
    if target.is_dir() or text.endswith(("/", os.sep)):
        return True
    return not target.exists() and not target.suffix


def resolve_bundle(path: str | os.PathLike[str]) -> Path:
    """The bundle file a model path means: the file itself, or a directory's newest.

    For a directory, every regular file in it that starts with the bundle magic and
    whose manifest and payload verify (length, SHA-256, HMAC when a key is set) is a
    candidate; the newest by ``created_at`` wins (ties: by file name). Nothing is
    loaded here. Raises :class:`BundleError` when the path does not exist or a
    directory holds no valid bundle.
    """
    target = Path(path)
    if target.is_file():
        return target
    if not target.is_dir():
        raise BundleError(
            f"no model at {target}: train one with `detector train LOG --model {target}`"
        )
    candidates: list[tuple[datetime, str, Path]] = []
    for entry in sorted(target.iterdir()):
        if not entry.is_file() or entry.name.startswith("."):
            continue
        try:
            manifest = read_manifest(entry)
            created = _parse_created_at(manifest["created_at"])
        except BundleError:
            continue
        candidates.append((created, entry.name, entry))
    if not candidates:
        raise BundleError(
            f"{target} is a directory with no valid model bundle in it; train one with "
            f"`detector train LOG --model {target}/` or pass the bundle file"
        )
    return max(candidates)[2]


# --- load -------------------------------------------------------------------------------


def _read_parts(path: Path) -> tuple[dict[str, Any], bytes]:
    """Magic, manifest and payload bytes, with structural checks only."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise BundleError(f"cannot open bundle {path}: {exc.strerror or exc}") from None
    with fh:
        magic = fh.readline(len(MAGIC) + 1)
        if magic != MAGIC + b"\n":
            raise BundleError(f"{path} is not a detector bundle (first line is not {MAGIC!r})")
        line = fh.readline(MAX_MANIFEST_BYTES + 1)
        if not line.endswith(b"\n"):
            raise BundleError(
                f"{path}: manifest line is truncated or larger than {MAX_MANIFEST_BYTES} bytes"
            )
        try:
            manifest = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{path}: manifest is not valid JSON ({exc})") from None
        except RecursionError:
            raise BundleError(f"{path}: manifest is nested too deeply to be a bundle") from None
        if not isinstance(manifest, dict):
            raise BundleError(f"{path}: manifest is not a JSON object")
        problems = [
            f"{k} ({t.__name__})"
            for k, t in _REQUIRED.items()
            if not isinstance(manifest.get(k), t) or isinstance(manifest.get(k), bool)
        ]
        if problems:
            raise BundleError(f"{path}: manifest lacks or mistypes: {', '.join(problems)}")
        if manifest["format"] != MAGIC.decode("ascii"):
            raise BundleError(f"{path}: unsupported bundle format {manifest['format']!r}")
        expected = manifest["payload_bytes"]
        available = os.fstat(fh.fileno()).st_size - fh.tell()
        if expected < 0:
            raise BundleError(f"{path}: manifest payload_bytes is negative; not a bundle")
        if expected > available:
            raise BundleError(
                f"{path}: payload is truncated ({available} of {expected} bytes); "
                "the file was cut short, re-copy or re-train it"
            )
        payload = fh.read(expected + 1)
    if len(payload) < expected:
        raise BundleError(
            f"{path}: payload is truncated ({len(payload)} of {expected} bytes); "
            "the file was cut short, re-copy or re-train it"
        )
    if len(payload) > expected:
        raise BundleError(f"{path}: unexpected bytes after the {expected}-byte payload")
    return manifest, payload


def _verify(
    path: Path,
    manifest: dict[str, Any],
    payload: bytes,
    key: str | bytes | None,
    require_signature: bool | None,
) -> None:
    digest = hashlib.sha256(payload).hexdigest()
    if not hmac.compare_digest(digest, manifest["payload_sha256"]):
        raise BundleError(
            f"{path}: payload SHA-256 does not match the manifest (corrupted or modified); "
            "refusing to load it"
        )
    secret = _resolve_key(key)
    stored = manifest.get(_HMAC_FIELD)
    if stored is not None:
        if secret is None:
            raise BundleError(
                f"{path} is signed (HMAC-SHA256) but no key is available; set {KEY_ENV} "
                "to the key it was saved with"
            )
        unsigned = {k: v for k, v in manifest.items() if k != _HMAC_FIELD}
        if not isinstance(stored, str) or not hmac.compare_digest(
            _mac(secret, unsigned, payload), stored
        ):
            raise BundleError(
                f"{path}: HMAC does not verify (tampered, or saved with a different "
                f"{KEY_ENV}); refusing to load it"
            )
    elif require_signature if require_signature is not None else secret is not None:
        raise BundleError(
            f"{path} is not signed but a bundle key is set ({KEY_ENV}); only signed "
            "bundles are accepted when a key is configured"
        )


def _major_minor(version: str, parts: int) -> tuple[str, ...]:
    return tuple(re.split(r"[.+]", version)[:parts])


def _check_versions(path: Path, saved: Mapping[str, Any]) -> None:
    now = library_versions()
    problems = []
    for lib, label, parts in (("sklearn", "scikit-learn", 2), ("numpy", "numpy", 1)):
        then = str(saved.get(lib, "unknown"))
        if _major_minor(then, parts) != _major_minor(now[lib], parts):
            what = "major.minor" if parts == 2 else "major"
            problems.append(f"{label} {then} at save time but {now[lib]} now ({what} must match)")
    if problems:
        raise BundleError(
            f"{path} was saved with incompatible libraries: {'; '.join(problems)}; "
            "re-train the model with the installed versions"
        )


def _check_features(path: Path, saved: list[str], expected: Iterable[str]) -> None:
    expected = [str(f) for f in expected]
    not_now = [f for f in saved if f not in set(expected)]
    not_then = [f for f in expected if f not in set(saved)]
    problems = []
    if not_now:
        problems.append(f"bundle was trained with features not produced now: {', '.join(not_now)}")
    if not_then:
        problems.append(
            f"features produced now that the bundle was not trained with: {', '.join(not_then)}"
        )
    if problems:
        raise BundleError(f"{path}: {'; '.join(problems)}")


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
        sio = _skops_io()
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


def read_manifest(
    path: str | os.PathLike[str],
    *,
    verify: bool = True,
    key: str | bytes | None = None,
    require_signature: bool | None = None,
) -> dict[str, Any]:
    """The manifest of a bundle, never loading the payload.

    Parameters
    ----------
    path : the bundle file.
    verify : also check payload length, SHA-256 and HMAC (as :func:`load_bundle`).
    key, require_signature : as for :func:`load_bundle`.

    Returns
    -------
    The manifest dict.
    """
    path = Path(path)
    manifest, payload = _read_parts(path)
    if verify:
        _verify(path, manifest, payload, key, require_signature)
    return manifest


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
    manifest, payload = _read_parts(path)
    _verify(path, manifest, payload, key, require_signature)
    if check_versions:
        _check_versions(path, manifest["versions"])
    features = [str(f) for f in manifest["features"]]
    if expected_features is not None:
        _check_features(path, features, expected_features)

    content = _load_payload(path, manifest, payload)
    if not isinstance(content, dict) or not isinstance(content.get("model"), AnomalyModel):
        raise BundleError(f"{path}: payload does not hold an AnomalyModel")
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
