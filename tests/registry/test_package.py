"""Package round trip and every way a package can be tampered with, refused before loading."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from loopml.errors import Conflict, IntegrityError, InvalidInput
from loopml.registry import (
    ModelPackage,
    SignatureStatus,
    TrustStore,
    load_model,
    package_model,
    verify_package,
)
from loopml.registry.package import CHECKSUMS_FILE, SIGNATURE_FILE, ModelSpec


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def no_deserialisation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to deserialise a skops file."""

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("skops deserialisation was reached before verification failed")

    monkeypatch.setattr(skops.io, "load", refuse)
    monkeypatch.setattr(skops.io, "get_untrusted_types", refuse)


def test_round_trip_gives_identical_predictions(
    signed_package: ModelPackage,
    trust_store: TrustStore,
    training_data: tuple[pd.DataFrame, np.ndarray],
    fitted: tuple[StandardScaler, LogisticRegression],
) -> None:
    frame, _ = training_data
    transform, model = fitted
    predictor = load_model(signed_package.path, trust_store=trust_store, require_signature=True)
    assert predictor.package.signature_status is SignatureStatus.VERIFIED
    assert predictor.package.signer is not None and predictor.package.signer.name == "release"
    np.testing.assert_array_equal(predictor.predict(frame), model.predict(transform.transform(frame)))
    np.testing.assert_array_equal(
        predictor.predict_proba(frame), model.predict_proba(transform.transform(frame))
    )
    # columns are taken in signature order, whatever order the caller sends
    np.testing.assert_array_equal(predictor.predict(frame[frame.columns[::-1]]), predictor.predict(frame))


def test_package_layout_and_model_yaml(signed_package: ModelPackage) -> None:
    names = {p.relative_to(signed_package.path).as_posix() for p in _files(signed_package.path)}
    assert names == {
        "model.yaml",
        CHECKSUMS_FILE,
        SIGNATURE_FILE,
        "model/model.skops",
        "transform/transform.skops",
        "training_stats.json",
    }
    stats = json.loads((signed_package.path / "training_stats.json").read_text())
    age = stats["columns"]["age"]
    assert age["kind"] == "numeric" and age["min"] <= age["q01"] <= age["q99"] <= age["max"]
    assert stats["rows"] > 0
    spec = ModelSpec.from_yaml((signed_package.path / "model.yaml").read_text())
    assert spec.flavor == "sklearn"
    assert spec.signature is not None
    assert spec.signature.input_names == ("age", "income", "tenure", "score")
    assert [c.type for c in spec.signature.inputs] == ["double"] * 4
    assert spec.signature.outputs[0].type == "int64"
    assert spec.transform is not None and spec.transform.files == ("transform/transform.skops",)
    assert spec.metrics == {"accuracy": 0.97}
    assert spec.lineage == {"run_id": "a" * 32}
    assert "scikit-learn" in spec.framework_versions and spec.created_at.endswith("+00:00")


def test_checksums_format_is_stable(signed_package: ModelPackage) -> None:
    text = (signed_package.path / CHECKSUMS_FILE).read_text()
    doc = json.loads(text)
    assert doc["format"] == "loopml-checksums/1" and doc["algorithm"] == "sha256"
    assert sorted(doc["files"]) == [
        "model.yaml",
        "model/model.skops",
        "training_stats.json",
        "transform/transform.skops",
    ]
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    entry = doc["files"]["model/model.skops"]
    assert entry["size"] == (signed_package.path / "model/model.skops").stat().st_size


def test_flipping_one_byte_in_any_file_is_refused_naming_it(
    signed_package: ModelPackage, trust_store: TrustStore, no_deserialisation: None
) -> None:
    pristine = signed_package.path.parent / "pristine"
    shutil.copytree(signed_package.path, pristine)
    for original in _files(pristine):
        rel = original.relative_to(pristine).as_posix()
        shutil.rmtree(signed_package.path)
        shutil.copytree(pristine, signed_package.path)
        target = signed_package.path / rel
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
        with pytest.raises(IntegrityError) as info:
            load_model(signed_package.path, trust_store=trust_store, require_signature=True)
        assert Path(rel).name in str(info.value), (rel, str(info.value))


def test_missing_file(signed_package: ModelPackage, no_deserialisation: None) -> None:
    (signed_package.path / "transform" / "transform.skops").unlink()
    with pytest.raises(IntegrityError, match=r"missing 'transform/transform.skops'"):
        load_model(signed_package.path)


def test_extra_file(signed_package: ModelPackage, no_deserialisation: None) -> None:
    (signed_package.path / "model" / "helper.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(IntegrityError, match=r"'model/helper.pkl'.*does not list"):
        load_model(signed_package.path)


def test_symlink_pointing_outside(
    signed_package: ModelPackage, tmp_path: Path, no_deserialisation: None
) -> None:
    outside = tmp_path / "outside.skops"
    target = signed_package.path / "model" / "model.skops"
    shutil.copyfile(target, outside)
    target.unlink()
    os.symlink(outside, target)
    with pytest.raises(IntegrityError, match=r"symlink 'model/model.skops'"):
        load_model(signed_package.path)


@pytest.mark.parametrize("bad_path", ["../x", "/etc/passwd", "model/../../x", "a//b", "C:/x", "a\\b"])
def test_manifest_with_escaping_paths(
    signed_package: ModelPackage, bad_path: str, no_deserialisation: None
) -> None:
    manifest = signed_package.path / CHECKSUMS_FILE
    doc = json.loads(manifest.read_text())
    doc["files"][bad_path] = {"sha256": "0" * 64, "size": 0}
    manifest.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="path traversal") as info:
        verify_package(signed_package.path)
    assert repr(bad_path) in str(info.value)


def test_manifest_missing(signed_package: ModelPackage) -> None:
    (signed_package.path / CHECKSUMS_FILE).unlink()
    with pytest.raises(IntegrityError, match=r"no regular checksums.json"):
        verify_package(signed_package.path)


def test_unsigned_package_loads_without_requirement_but_not_with(
    tmp_path: Path,
    training_data: tuple[pd.DataFrame, np.ndarray],
    fitted: tuple[StandardScaler, LogisticRegression],
    trust_store: TrustStore,
) -> None:
    transform, model = fitted
    package = package_model(model, tmp_path / "plain", transform=transform)
    assert load_model(package).package.signature_status is SignatureStatus.ABSENT
    with pytest.raises(IntegrityError, match="not signed"):
        load_model(package.path, trust_store=trust_store, require_signature=True)
    with pytest.raises(InvalidInput, match="needs a trust_store"):
        load_model(package.path, require_signature=True)


def test_package_destination_must_be_new(
    signed_package: ModelPackage, fitted: tuple[StandardScaler, LogisticRegression]
) -> None:
    with pytest.raises(Conflict, match="already exists"):
        package_model(fitted[1], signed_package.path)
    assert not [p for p in signed_package.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_missing_signature_column_is_named(
    signed_package: ModelPackage, training_data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    predictor = load_model(signed_package.path)
    with pytest.raises(InvalidInput, match="income"):
        predictor.predict(training_data[0].drop(columns=["income"]))


def test_pickle_smuggled_into_an_unsigned_package_is_stopped_by_the_scanner(
    tmp_path: Path, fitted: tuple[StandardScaler, LogisticRegression], no_deserialisation: None
) -> None:
    from loopml.errors import UnsafeArtifact
    from loopml.registry.package import Manifest
    from loopml.registry.package._manifest import hash_file

    package = package_model(fitted[1], tmp_path / "pkg")
    # An attacker swaps the model for a pickle that calls os.system and rewrites checksums.json.
    (package.path / "model" / "model.skops").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    files = {rel: hash_file(package.path / rel) for rel in package.manifest.files}
    (package.path / CHECKSUMS_FILE).write_text(Manifest(files=files).to_json())
    assert verify_package(package.path).signature_status is SignatureStatus.ABSENT
    with pytest.raises(UnsafeArtifact, match=r"'model/model.skops'.*unsafe.*os.system"):
        load_model(package.path)
