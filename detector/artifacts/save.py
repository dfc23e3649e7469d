"""Writing a bundle: a fitted model and its manifest, atomically, optionally signed.

:func:`save_bundle` serialises the model (and text models, and the learned layer) as
a skops payload, writes the manifest that describes it (:mod:`.manifest`), signs it
when a key is set, and writes the file atomically (temporary file in the same
directory + :func:`os.replace`), so a reader never sees a half-written bundle. A model
path may name a directory of versioned bundles instead of a file
(:func:`names_directory`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from detector.artifacts.manifest import (
    HMAC_FIELD,
    MAGIC,
    PAYLOAD_FORMAT,
    BundleError,
    bundle_filename,
    bundle_version,
    canonical_manifest,
    json_safe,
    library_versions,
    manifest_digest,
    manifest_mac,
    parse_created_at,
    resolve_key,
    skops_io,
)
from detector.learned import LearnedLayer
from detector.model import AnomalyModel

__all__ = ["MANIFEST_SHA256", "names_directory", "save_bundle"]

MANIFEST_SHA256: Final = "manifest_sha256"
"""Payload key of the manifest's digest (:func:`~detector.artifacts.manifest.manifest_digest`)."""

_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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
    parse_created_at(created_at)

    if learned is not None and learned.features_ != [str(f) for f in model.feature_names_in_]:
        raise BundleError("the learned layer was fitted over another model's features")
    manifest: dict[str, Any] = {
        "format": MAGIC.decode("ascii"),
        "name": name,
        "created_at": created_at,
        "features": [str(f) for f in model.feature_names_in_],
        "config": json_safe(dict(config or {})),
        "versions": library_versions(),
        "training_window": {"start": training_start, "end": training_end},
        "fingerprint": json_safe(getattr(model, "fingerprint_", {})),
        "text_models": sorted(str(k) for k in text_models),
        "labels": None if learned is None else json_safe(learned.provenance_),
        "learned": None if learned is None else json_safe(learned.summary()),
        "payload_format": PAYLOAD_FORMAT,
    }
    content: dict[str, Any] = {"model": model, "text_models": text_models}
    if learned is not None:
        content["learned"] = learned
    content[MANIFEST_SHA256] = manifest_digest(manifest)  # the payload vouches for it
    payload = skops_io().dumps(
        content,
        compression=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED,
        compresslevel=compress or None,
    )
    digest = hashlib.sha256(payload).hexdigest()
    manifest["version"] = bundle_version(name, created_at, digest)
    manifest["payload_sha256"] = digest
    manifest["payload_bytes"] = len(payload)
    secret = resolve_key(key)
    if secret is not None:
        manifest[HMAC_FIELD] = manifest_mac(secret, manifest, payload)

    target = Path(path)
    if names_directory(path):
        target.mkdir(parents=True, exist_ok=True)
        target = target / bundle_filename(name, created_at, digest)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, [MAGIC + b"\n", canonical_manifest(manifest) + b"\n", payload])
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
