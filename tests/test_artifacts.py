"""Model bundles: round trip, integrity before unpickling, HMAC, compatibility checks."""

from __future__ import annotations

import builtins
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from detector import artifacts, schema
from detector.artifacts import (
    KEY_ENV,
    MAGIC,
    BundleError,
    bundle_filename,
    load_bundle,
    read_manifest,
    save_bundle,
)
from detector.artifacts import save as save_module
from detector.artifacts.manifest import bundle_version
from detector.config import DEFAULT
from detector.features.registry import FeatureSpec
from detector.model import AnomalyModel

CREATED = "2026-05-09T07:35:25Z"
GADGET_FLAG = "_detector_test_gadget_ran"


def spec(name: str, scale: str, direction: str) -> FeatureSpec:
    return FeatureSpec(
        name=name,
        family="test",
        unit="count",
        description=name,
        why="test",
        needs=(),
        neutral=0.0,
        scale=scale,  # type: ignore[arg-type]
        direction=direction,  # type: ignore[arg-type]
        reason="{value}",
    )


SPECS = {
    "a": spec("a", "log", "high"),
    "b": spec("b", "share", "high"),
    "c": spec("c", "linear", "low"),
}


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    return pd.DataFrame(
        {"a": rng.lognormal(2, 1, n), "b": rng.beta(1, 9, n), "c": rng.normal(0, 1, n)},
        index=pd.Index([f"acct-{i:04d}" for i in range(n)], name=schema.ACCOUNT_ID),
    )


@pytest.fixture(scope="module")
def model(features: pd.DataFrame) -> AnomalyModel:
    return AnomalyModel(specs=SPECS, n_estimators=20, max_samples=128).fit(features)


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delattr(builtins, GADGET_FLAG, raising=False)


class _Gadget:
    """A pickle whose loading runs code: proof of whether unpickling was reached."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"import builtins; builtins.{GADGET_FLAG} = True",))


def _gadget_payload() -> bytes:
    buffer = io.BytesIO()
    joblib.dump(_Gadget(), buffer)
    return buffer.getvalue()


def _split(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    magic, manifest, payload = data.split(b"\n", 2)
    assert magic == MAGIC
    return json.loads(manifest), payload


def _write(path: Path, manifest: dict, payload: bytes) -> None:
    path.write_bytes(MAGIC + b"\n" + artifacts.canonical_manifest(manifest) + b"\n" + payload)


def _save(tmp_path: Path, model: AnomalyModel, **kw: object) -> Path:
    return save_bundle(
        tmp_path,
        model,
        name="detector",
        text_models={"topics": {"k": 24, "centroids": np.arange(3)}},
        config=DEFAULT.to_dict(),
        training_start="2026-05-01",
        training_end="2026-05-07",
        created_at=CREATED,
        **kw,  # type: ignore[arg-type]
    )


# --- round trip -------------------------------------------------------------------------


def test_round_trip(tmp_path: Path, model: AnomalyModel, features: pd.DataFrame) -> None:
    path = _save(tmp_path, model)
    manifest, payload = _split(path)
    assert path.name == bundle_filename("detector", CREATED, manifest["payload_sha256"])
    assert path.name.startswith("detector-20260509-") and path.suffix == ".bundle"
    assert manifest["payload_bytes"] == len(payload)
    assert manifest["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert "hmac_sha256" not in manifest

    bundle = load_bundle(path, expected_features=["c", "b", "a"])
    np.testing.assert_array_equal(bundle.model.score(features), model.score(features))
    assert bundle.features == ("a", "b", "c")
    assert bundle.text_models["topics"]["k"] == 24
    assert bundle.config["n_estimators"] == DEFAULT.n_estimators
    assert bundle.training_window == {"start": "2026-05-01", "end": "2026-05-07"}
    assert bundle.fingerprint["n_accounts"] == len(features)
    assert bundle.versions["sklearn"] and bundle.versions["numpy"] and bundle.versions["python"]
    assert bundle.version == path.stem and bundle.created_at == CREATED
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic write


def test_explicit_file_path_and_bad_names(tmp_path: Path, model: AnomalyModel) -> None:
    target = tmp_path / "current.bundle"
    assert save_bundle(target, model, created_at=CREATED) == target
    assert read_manifest(target)["name"] == "detector"
    with pytest.raises(BundleError, match="bundle name"):
        save_bundle(tmp_path, model, name="../evil")
    with pytest.raises(BundleError, match="not fitted"):
        save_bundle(tmp_path, AnomalyModel(specs=SPECS))


# --- integrity: checked before unpickling -----------------------------------------------


def test_gadget_control_runs_when_unpickled() -> None:
    """Control: the gadget payload really executes code once it is unpickled."""
    joblib.load(io.BytesIO(_gadget_payload()))
    assert getattr(builtins, GADGET_FLAG, False) is True


def test_a_pickle_with_valid_hashes_is_refused_and_never_runs(
    tmp_path: Path, model: AnomalyModel
) -> None:
    """The attack of issue 11: a pickle payload with its SHA-256 and length fixed up."""
    manifest, _ = _split(_save(tmp_path, model))
    evil = _gadget_payload()
    manifest.update(payload_sha256=hashlib.sha256(evil).hexdigest(), payload_bytes=len(evil))
    for fmt in ("joblib", "skops"):
        manifest["payload_format"] = fmt
        path = tmp_path / f"{fmt}.bundle"
        _write(path, manifest, evil)
        with pytest.raises(BundleError, match=r"refused|not a skops archive"):
            load_bundle(path)
    assert not hasattr(builtins, GADGET_FLAG)


def test_a_skops_payload_naming_an_untrusted_callable_is_refused(
    tmp_path: Path, model: AnomalyModel
) -> None:
    import os

    import skops.io as sio

    manifest, _ = _split(_save(tmp_path, model))
    evil = sio.dumps({"model": model, "text_models": {"x": os.system}})
    manifest.update(payload_sha256=hashlib.sha256(evil).hexdigest(), payload_bytes=len(evil))
    path = tmp_path / "evil.bundle"
    _write(path, manifest, evil)
    with pytest.raises(BundleError, match=r"outside the trusted list \(posix.system\)"):
        load_bundle(path)


def test_absurd_lengths_and_deep_manifests_are_refused(tmp_path: Path, model: AnomalyModel) -> None:
    manifest, payload = _split(_save(tmp_path, model))
    path = tmp_path / "b.bundle"
    for size in (10**30, -1):
        _write(path, {**manifest, "payload_bytes": size}, payload)
        with pytest.raises(BundleError, match=r"truncated|negative"):
            load_bundle(path)
    path.write_bytes(MAGIC + b"\n" + b"[" * 100_000 + b"\n")
    with pytest.raises(BundleError, match=r"nested too deeply|not valid JSON"):
        load_bundle(path)


def test_a_zip_bomb_payload_is_refused_before_inflating(
    tmp_path: Path, model: AnomalyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(tmp_path, model)
    monkeypatch.setattr(artifacts, "MAX_PAYLOAD_EXPANDED", 1000)
    with pytest.raises(BundleError, match="expands to"):
        load_bundle(path)


def test_swapped_payload_is_refused_before_unpickling(tmp_path: Path, model: AnomalyModel) -> None:
    path = _save(tmp_path, model)
    manifest, _ = _split(path)
    evil = _gadget_payload()
    manifest["payload_bytes"] = len(evil)  # length fixed up, digest not
    _write(path, manifest, evil)
    with pytest.raises(BundleError, match="SHA-256 does not match"):
        load_bundle(path)
    assert not hasattr(builtins, GADGET_FLAG)


def test_flipped_payload_byte_is_refused(tmp_path: Path, model: AnomalyModel) -> None:
    path = _save(tmp_path, model)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(path)
    with pytest.raises(BundleError, match="SHA-256"):
        read_manifest(path)
    assert read_manifest(path, verify=False)["name"] == "detector"


def test_truncated_and_padded_files(tmp_path: Path, model: AnomalyModel) -> None:
    path = _save(tmp_path, model)
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    with pytest.raises(BundleError, match="truncated"):
        load_bundle(path)
    path.write_bytes(data[: len(MAGIC) + 20])  # cut inside the manifest
    with pytest.raises(BundleError, match="manifest"):
        load_bundle(path)
    path.write_bytes(data + b"extra")
    with pytest.raises(BundleError, match="unexpected bytes"):
        load_bundle(path)


def test_not_a_bundle(tmp_path: Path) -> None:
    path = tmp_path / "x.bundle"
    path.write_bytes(b"PK\x03\x04 something else")
    with pytest.raises(BundleError, match="not a detector bundle"):
        load_bundle(path)
    path.write_bytes(MAGIC + b"\n{not json\n")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(path)
    path.write_bytes(MAGIC + b'\n{"format": "DETECTOR-BUNDLE/1"}\n')
    with pytest.raises(BundleError, match="lacks or mistypes"):
        load_bundle(path)
    with pytest.raises(BundleError, match="no model at"):
        load_bundle(tmp_path / "missing.bundle")


# --- authenticity: HMAC -----------------------------------------------------------------


def test_hmac_signed_bundle(
    tmp_path: Path, model: AnomalyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "s3cret")
    path = _save(tmp_path, model)
    assert "hmac_sha256" in read_manifest(path)
    assert load_bundle(path).model.n_features_in_ == 3

    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(BundleError, match=f"signed .* {KEY_ENV}"):
        load_bundle(path)
    with pytest.raises(BundleError, match="HMAC does not verify"):
        load_bundle(path, key="wrong")


def test_hmac_catches_a_consistent_forgery(
    tmp_path: Path, model: AnomalyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attacker can fix up the digest and length, but not the HMAC."""
    monkeypatch.setenv(KEY_ENV, "s3cret")
    path = _save(tmp_path, model)
    manifest, _ = _split(path)
    evil = _gadget_payload()
    manifest.update(payload_sha256=hashlib.sha256(evil).hexdigest(), payload_bytes=len(evil))
    _write(path, manifest, evil)
    with pytest.raises(BundleError, match="HMAC does not verify"):
        load_bundle(path)
    assert not hasattr(builtins, GADGET_FLAG)

    # stripping the HMAC does not help while a key is configured
    del manifest["hmac_sha256"]
    _write(path, manifest, evil)
    with pytest.raises(BundleError, match="not signed"):
        load_bundle(path)
    assert not hasattr(builtins, GADGET_FLAG)


def test_unsigned_bundle_with_key_needs_opt_in(
    tmp_path: Path, model: AnomalyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(tmp_path, model)
    monkeypatch.setenv(KEY_ENV, "s3cret")
    with pytest.raises(BundleError, match="not signed"):
        load_bundle(path)
    assert load_bundle(path, require_signature=False).name == "detector"


def test_manifest_tampering_breaks_hmac(
    tmp_path: Path, model: AnomalyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "s3cret")
    path = _save(tmp_path, model)
    manifest, payload = _split(path)
    manifest["training_window"]["end"] = "2030-01-01"
    _write(path, manifest, payload)
    with pytest.raises(BundleError, match="HMAC"):
        load_bundle(path)


# --- compatibility ----------------------------------------------------------------------


def _saved_with(
    tmp_path: Path, model: AnomalyModel, monkeypatch: pytest.MonkeyPatch, **versions: str
) -> Path:
    """A bundle as another installation would have saved it (other library versions)."""
    mine = artifacts.library_versions()
    monkeypatch.setattr(save_module, "library_versions", lambda: {**mine, **versions})
    path = _save(tmp_path, model)
    monkeypatch.undo()
    return path


def test_library_version_mismatch(
    tmp_path: Path, model: AnomalyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _saved_with(tmp_path, model, monkeypatch, sklearn="0.24.2", numpy="1.26.4")
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    message = str(err.value)
    assert "scikit-learn 0.24.2 at save time" in message and "major.minor must match" in message
    assert "numpy 1.26.4 at save time" in message and "(major must match)" in message
    assert load_bundle(path, check_versions=False).features == ("a", "b", "c")


def test_patch_versions_may_differ(
    tmp_path: Path, model: AnomalyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    major, minor = artifacts.library_versions()["sklearn"].split(".")[:2]
    path = _saved_with(tmp_path, model, monkeypatch, sklearn=f"{major}.{minor}.999", pandas="0.1")
    assert load_bundle(path).name == "detector"


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["config"].update(frontier_model_pattern="zz(?i)opus"),
        lambda m: m["training_window"].update(end="2030-01-01"),
        lambda m: m["versions"].update(sklearn="0.24.2"),
        lambda m: m.update(version="detector-20260501-00000000"),
        lambda m: m.update(name="other"),
    ],
    ids=["feature setting", "training window", "library versions", "version", "name"],
)
def test_an_edited_manifest_is_refused_without_a_key(
    tmp_path: Path, model: AnomalyModel, edit: Callable[[dict], None]
) -> None:
    """The payload keeps the manifest's digest: an unsigned bundle whose manifest was
    edited after saving (a feature setting changes what every score means) is refused,
    not scored under the same model version."""
    path = _save(tmp_path, model)
    manifest, payload = _split(path)
    edit(manifest)
    _write(path, manifest, payload)
    with pytest.raises(BundleError) as err:
        load_bundle(path, check_versions=False)
    assert "not the one saved with the model" in str(err.value) and str(path) in str(err.value)


def test_a_bundle_from_before_the_manifest_digest_still_loads(
    tmp_path: Path, model: AnomalyModel
) -> None:
    content = {"model": model, "text_models": {}}
    payload = artifacts.skops_io().dumps(content)
    path = _save(tmp_path, model)
    manifest, _ = _split(path)
    digest = hashlib.sha256(payload).hexdigest()
    manifest.update(
        payload_sha256=digest,
        payload_bytes=len(payload),
        version=bundle_version("detector", CREATED, digest),
        text_models=[],
    )
    _write(path, manifest, payload)
    assert load_bundle(path).model.n_features_in_ == model.n_features_in_


def test_feature_set_mismatch(tmp_path: Path, model: AnomalyModel) -> None:
    path = _save(tmp_path, model)
    with pytest.raises(BundleError) as err:
        load_bundle(path, expected_features=["a", "d", "e"])
    message = str(err.value)
    assert "bundle was trained with features not produced now: b, c" in message
    assert "features produced now that the bundle was not trained with: d, e" in message


def test_save_into_a_new_directory_names_the_bundle(tmp_path: Path, model: AnomalyModel) -> None:
    """`detector train --model models/new/` must not write a file called `new`."""
    path = save_bundle(tmp_path / "models" / "new", model)
    assert path.parent == tmp_path / "models" / "new"
    assert path.suffix == ".bundle" and path.name.startswith("detector-")
    assert load_bundle(path).model.n_features_in_ == model.n_features_in_
