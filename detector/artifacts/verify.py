"""Verifying a bundle before anything in it is parsed as a model.

Checks, all on bytes and JSON only: the magic line; the manifest (size, depth,
required fields); the payload's length against the file's size (truncation, trailing
bytes, absurd lengths); its SHA-256; the HMAC, which a signed bundle needs and which
is required of every bundle when a key is configured (otherwise stripping the HMAC
would bypass it); the library versions; the feature set. :func:`read_manifest` is
these checks alone, and :func:`resolve_bundle` finds the newest bundle in a directory
that passes them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from detector.artifacts.manifest import (
    HMAC_FIELD,
    KEY_ENV,
    MAGIC,
    MAX_MANIFEST_BYTES,
    REQUIRED_FIELDS,
    BundleError,
    library_versions,
    manifest_mac,
    parse_created_at,
    resolve_key,
)

__all__ = [
    "check_features",
    "check_library_versions",
    "read_manifest",
    "read_parts",
    "resolve_bundle",
    "verify_parts",
]


def read_parts(path: Path) -> tuple[dict[str, Any], bytes]:
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
            for k, t in REQUIRED_FIELDS.items()
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


def verify_parts(
    path: Path,
    manifest: dict[str, Any],
    payload: bytes,
    key: str | bytes | None,
    require_signature: bool | None,
) -> None:
    """Check the payload's SHA-256 and the HMAC (see :func:`read_manifest` for ``key``
    and ``require_signature``); raise BundleError saying what is wrong."""
    digest = hashlib.sha256(payload).hexdigest()
    if not hmac.compare_digest(digest, manifest["payload_sha256"]):
        raise BundleError(
            f"{path}: payload SHA-256 does not match the manifest (corrupted or modified); "
            "refusing to load it"
        )
    secret = resolve_key(key)
    stored = manifest.get(HMAC_FIELD)
    if stored is not None:
        if secret is None:
            raise BundleError(
                f"{path} is signed (HMAC-SHA256) but no key is available; set {KEY_ENV} "
                "to the key it was saved with"
            )
        unsigned = {k: v for k, v in manifest.items() if k != HMAC_FIELD}
        if not isinstance(stored, str) or not hmac.compare_digest(
            manifest_mac(secret, unsigned, payload), stored
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


def check_library_versions(path: Path, saved: Mapping[str, Any]) -> None:
    """Refuse another scikit-learn major.minor or another numpy major than installed."""
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


def check_features(path: Path, saved: list[str], expected: Iterable[str]) -> None:
    """Refuse a bundle whose features are not exactly ``expected`` (order may differ)."""
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
    manifest, payload = read_parts(path)
    if verify:
        verify_parts(path, manifest, payload, key, require_signature)
    return manifest


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
            created = parse_created_at(manifest["created_at"])
        except BundleError:
            continue
        candidates.append((created, entry.name, entry))
    if not candidates:
        raise BundleError(
            f"{target} is a directory with no valid model bundle in it; train one with "
            f"`detector train LOG --model {target}/` or pass the bundle file"
        )
    return max(candidates)[2]
