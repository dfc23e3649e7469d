"""The bundle file format: magic line, manifest line, naming and signing.

A bundle is ``DETECTOR-BUNDLE/1\n``, one canonical JSON manifest line, then the skops
payload. This module holds what writing and verifying a bundle must agree on: the
magic, the manifest's required fields and canonical encoding, the version and file
name derived from it, the HMAC over magic + manifest + payload and the key it is made
with, and the library versions a manifest records.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import json
import os
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Final

import joblib
import numpy as np
import pandas as pd
import sklearn

__all__ = [
    "HMAC_FIELD",
    "KEY_ENV",
    "MAGIC",
    "MAX_MANIFEST_BYTES",
    "PAYLOAD_FORMAT",
    "REQUIRED_FIELDS",
    "SUFFIX",
    "BundleError",
    "bundle_filename",
    "bundle_version",
    "canonical_manifest",
    "json_safe",
    "library_versions",
    "manifest_digest",
    "manifest_mac",
    "parse_created_at",
    "resolve_key",
    "skops_io",
]

MAGIC: Final = b"DETECTOR-BUNDLE/1"
KEY_ENV: Final = "DETECTOR_BUNDLE_KEY"
SUFFIX: Final = ".bundle"
MAX_MANIFEST_BYTES: Final = 16 * 1024 * 1024
PAYLOAD_FORMAT: Final = "skops"
HMAC_FIELD: Final = "hmac_sha256"
"""Manifest field of the HMAC-SHA256 (absent in unsigned bundles)."""
REQUIRED_FIELDS: Final = {
    "format": str,
    "name": str,
    "version": str,
    "created_at": str,
    "features": list,
    "versions": dict,
    "payload_sha256": str,
    "payload_bytes": int,
}
"""Manifest fields every bundle has, with their JSON types."""


class BundleError(ValueError):
    """A bundle cannot be used: corrupt, tampered, unsigned, or incompatible."""


def skops_io() -> ModuleType:
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
    return f"{bundle_version(name, created_at, payload_sha256)}{SUFFIX}"


def bundle_version(name: str, created_at: str, payload_sha256: str) -> str:
    """``<name>-<YYYYMMDD>-<first 8 hex digits of the payload SHA-256>``."""
    day = parse_created_at(created_at).strftime("%Y%m%d")
    return f"{name}-{day}-{payload_sha256[:8]}"


def parse_created_at(created_at: str) -> datetime:
    """``created_at`` as an aware datetime (UTC when it names no zone); BundleError if
    it is not ISO-8601."""
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        raise BundleError(f"created_at {created_at!r} is not an ISO-8601 time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


DERIVED_FIELDS: Final = ("version", "payload_sha256", "payload_bytes", HMAC_FIELD)
"""Manifest fields computed from the payload (or over everything): outside the digest
the payload keeps of the manifest (:func:`manifest_digest`)."""


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of the manifest without its :data:`DERIVED_FIELDS`, canonical JSON.

    The payload holds it (``manifest_sha256``), so the payload's SHA-256 covers the
    manifest too: a manifest edited after saving (another feature setting, training
    window or population fingerprint, which change what a score means) no longer
    matches its payload, and the bundle is refused instead of scoring under the same
    model version. Like the payload's SHA-256 this is integrity, not authenticity: one
    who rewrites the payload too is stopped only by the HMAC (``DETECTOR_BUNDLE_KEY``).
    """
    core = {k: v for k, v in manifest.items() if k not in DERIVED_FIELDS}
    return hashlib.sha256(canonical_manifest(core)).hexdigest()


def canonical_manifest(manifest: Mapping[str, Any]) -> bytes:
    """The manifest as one canonical JSON line (sorted keys, ASCII, no NaN)."""
    return json.dumps(
        manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def resolve_key(key: str | bytes | None) -> bytes | None:
    """The HMAC key as bytes: ``key``, else the ``DETECTOR_BUNDLE_KEY`` variable, else None."""
    if key is None:
        key = os.environ.get(KEY_ENV) or None
    if key is None:
        return None
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def manifest_mac(key: bytes, manifest_wo_mac: Mapping[str, Any], payload: bytes) -> str:
    """HMAC-SHA256 (hex) over the magic line, the canonical manifest line (without the
    HMAC field) and the payload."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(MAGIC + b"\n")
    mac.update(canonical_manifest(manifest_wo_mac) + b"\n")
    mac.update(payload)
    return mac.hexdigest()


def json_safe(value: Any) -> Any:
    """Round-trip ``value`` through JSON (non-JSON leaves become strings)."""
    return json.loads(json.dumps(value, default=str, allow_nan=False))
