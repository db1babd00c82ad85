"""The registry service: register → alias → load round trip, policy, tampering, encryption, scanning."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.analysis import Blessing
from loopml.analysis.blessing import CheckKind, CheckOutcome
from loopml.artifacts import BlobStore, get_folder, verify_folder
from loopml.errors import (
    IntegrityError,
    InvalidInput,
    InvalidState,
    NotFound,
    PolicyViolation,
    UnsafeArtifact,
)
from loopml.registry import ModelPackage, ModelRegistry, TrustStore, package_model
from loopml.registry.flavors.python import PythonModelCode
from loopml.registry.package._manifest import CHECKSUMS_FILE, Manifest, hash_file, list_package_files
from loopml.store.entities import AliasEventResult, EventType, ModelVersionStatus
from tests.conftest import STORE_BACKENDS

SQL_BACKENDS = ("sqlite", "postgres")


@pytest.fixture(
    params=[pytest.param(b, id=b.name, marks=b.marks) for b in STORE_BACKENDS if b.name in SQL_BACKENDS]
)
def store_backend(request: pytest.FixtureRequest) -> Any:
    """SQL backends only: the registry lives in the SQL store (the remote store has no registry API)."""
    return request.param


def _blessing(passed: bool) -> Blessing:
    outcome = CheckOutcome(
        metric="accuracy",
        slice="overall",
        kind=CheckKind.LOWER_BOUND,
        passed=passed,
        value=0.9,
        bound=0.8,
        message="accuracy on overall" if passed else "accuracy 0.7 below 0.8 on overall",
    )
    return Blessing(outcomes=(outcome,))


@pytest.fixture
def registry(store: Any, tmp_path: Path, trust_store: TrustStore) -> ModelRegistry:
    return ModelRegistry(
        store, BlobStore(tmp_path / "blobs"), trust_store=trust_store, cache_dir=tmp_path / "cache"
    )


@pytest.fixture
def unsigned_package(tmp_path: Path, fitted: Any, training_data: Any) -> ModelPackage:
    return package_model(fitted[1], tmp_path / "unsigned", transform=fitted[0], sample=training_data[0])


def _blob_path(root: Path, sha256: str) -> Path:
    return root / "sha256" / sha256[:2] / sha256[2:]


def test_round_trip_register_alias_load_identical_predictions(
    registry: ModelRegistry, signed_package: ModelPackage, training_data: Any, fitted: Any
) -> None:
    frame, _ = training_data
    version = registry.register(
        signed_package, "churn", blessing=_blessing(True), actor="ann", tags={"t": "1"}
    )
    assert (version.version, version.is_signed, version.blessing_passed, version.scan_verdict) == (
        1,
        True,
        True,
        "safe",
    )
    registry.set_alias("churn", "champion", 1, actor="ann", reason="first release")
    predictor = registry.load("models:/churn@champion")
    expected = fitted[1].predict(fitted[0].transform(frame))
    np.testing.assert_array_equal(predictor.predict(frame), expected)
    np.testing.assert_allclose(
        predictor.predict_proba(frame), fitted[1].predict_proba(fitted[0].transform(frame))
    )
    assert registry.resolve("models:/churn/latest").version == 1
    assert registry.resolve("models:/churn/1").aliases == ("champion",)
    # lineage: register execution with the package as input and the model version artifact as output
    events = registry.store.lineage.list_events(artifact_id=version.artifact_id)
    execution = registry.store.lineage.get_execution(events[0].execution_id)
    assert execution.type == "register"
    io = {(e.type, e.role) for e in registry.store.lineage.list_events(execution_id=execution.execution_id)}
    assert io == {
        (EventType.INPUT, "package"),
        (EventType.OUTPUT, "model_version"),
        (EventType.INPUT, "blessing"),
    }


def test_registered_package_lives_in_the_artifact_store_not_in_its_source_folder(
    registry: ModelRegistry, tmp_path: Path, fitted: Any, training_data: Any
) -> None:
    source = package_model(fitted[1], tmp_path / "handed-over", transform=fitted[0], sample=training_data[0])
    files = {rel: (source.path / rel).read_bytes() for rel in list_package_files(source.path)}
    version = registry.register(source, "churn", actor="ann")
    shutil.rmtree(source.path)  # a pipeline hands over a temporary folder
    package = registry.store.artifacts.get(str(version.properties["package_artifact_id"]))
    assert not package.is_reference and package.uri.startswith("sha256/")
    assert package.size == sum(len(b) for b in files.values())
    members = verify_folder(registry.blobs, package.sha256 or "", label="package", total_size=package.size)
    assert {m.path for m in members} == set(files)
    copy = get_folder(registry.blobs, package.sha256 or "", tmp_path / "copy", label="package")
    assert {rel: (copy / rel).read_bytes() for rel in files} == files


def test_tampered_blob_fails_load_naming_the_file(
    registry: ModelRegistry, signed_package: ModelPackage, tmp_path: Path
) -> None:
    registry.register(signed_package, "churn", blessing=_blessing(True), actor="ann")
    target = next(p for p in signed_package.manifest.files if p.endswith(".skops") and p.startswith("model/"))
    digest = signed_package.manifest.files[target].sha256
    blob = _blob_path(tmp_path / "blobs", digest)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=target.replace(".", r"\.")):
        registry.load("models:/churn/1")
    with pytest.raises(IntegrityError):
        registry.set_alias("churn", "staging", 1, actor="ann")


def test_unsigned_or_unblessed_version_cannot_be_champion_but_staging_is_fine(
    registry: ModelRegistry, unsigned_package: ModelPackage, signed_package: ModelPackage
) -> None:
    registry.register(unsigned_package, "churn", blessing=_blessing(True), actor="ann")
    with pytest.raises(
        PolicyViolation, match=r"Rule 'trusted-signature'.*not signed by a trusted key.*loopml models sign"
    ) as info:
        registry.set_alias("churn", "champion", 1, actor="ann")
    assert info.value.rules == ("trusted-signature",)
    registry.register(signed_package, "churn", actor="ann")  # signed, no blessing
    with pytest.raises(PolicyViolation, match=r"Rule 'blessing'.*no Blessing"):
        registry.set_alias("churn", "production", 2, actor="ann")
    registry.register(signed_package, "churn", blessing=_blessing(False), actor="ann")
    with pytest.raises(PolicyViolation, match="a failed Blessing"):
        registry.set_alias("churn", "prod", 3, actor="ann")
    assert registry.set_alias("churn", "staging", 1, actor="ann").version == 1
    refused = [e for e in registry.alias_history("churn") if e.result is AliasEventResult.REFUSED]
    assert [e.alias for e in refused] == ["champion", "production", "prod"]
    assert "trusted-signature" in (refused[0].detail or "")
    # a blessing attached later lets version 2 through
    registry.attach_blessing("churn", 2, _blessing(True))
    assert registry.set_alias("churn", "champion", 2, actor="ann").version == 2


def test_revoked_key_blocks_promotion(registry: ModelRegistry, signed_package: ModelPackage) -> None:
    registry.register(signed_package, "churn", blessing=_blessing(True), actor="ann")
    assert registry.trust_store is not None
    registry.trust_store.remove("release")
    with pytest.raises(PolicyViolation, match="signed, but not by a key in the trust store"):
        registry.set_alias("churn", "champion", 1, actor="ann")


def test_archived_version_refuses_alias_and_archive_needs_force(
    registry: ModelRegistry, unsigned_package: ModelPackage
) -> None:
    registry.register(unsigned_package, "churn", actor="ann")
    registry.register(unsigned_package, "churn", actor="ann")
    registry.archive("churn", 1, actor="ann")
    with pytest.raises(InvalidState, match="Version 1 of 'churn' is archived"):
        registry.set_alias("churn", "staging", 1, actor="ann")
    registry.set_alias("churn", "staging", 2, actor="ann")
    with pytest.raises(InvalidState, match="staging"):
        registry.archive("churn", 2, actor="ann")
    assert registry.archive("churn", 2, actor="ann", force=True).status is ModelVersionStatus.ARCHIVED
    with pytest.raises(NotFound, match="no alias 'staging'"):
        registry.resolve("models:/churn@staging")


def test_encryption_at_rest_round_trip(
    store: Any, tmp_path: Path, trust_store: TrustStore, signed_package: ModelPackage, training_data: Any
) -> None:
    key = bytes(range(32))
    registry = ModelRegistry(
        store,
        BlobStore(tmp_path / "enc", encryption_key=key),
        trust_store=trust_store,
        cache_dir=tmp_path / "c",
    )
    registry.register(signed_package, "churn", actor="ann")
    for rel in list_package_files(signed_package.path):
        plain = (signed_package.path / rel).read_bytes()
        stored = _blob_path(tmp_path / "enc", hash_file(signed_package.path / rel).sha256).read_bytes()
        assert stored != plain and plain[:64] not in stored
    out = registry.download("models:/churn/1", tmp_path / "out")
    assert (out / CHECKSUMS_FILE).read_bytes() == (signed_package.path / CHECKSUMS_FILE).read_bytes()
    frame, _ = training_data
    assert registry.load("models:/churn/1").predict(frame).shape == (len(frame),)
    without_key = ModelRegistry(store, BlobStore(tmp_path / "enc"), trust_store=trust_store)
    with pytest.raises(InvalidInput, match="stored encrypted"):
        without_key.download("models:/churn/1", tmp_path / "out2")


class _Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, ("echo pwned",))


def test_register_refuses_package_with_malicious_pickle(registry: ModelRegistry, tmp_path: Path) -> None:
    code = tmp_path / "code.py"
    code.write_text("def load_model(directory):\n    return None\n")
    package = package_model(PythonModelCode(source=code), tmp_path / "py")
    (package.path / "model" / "weights.bin").write_bytes(pickle.dumps(_Boom()))
    files = {
        rel: hash_file(package.path / rel)
        for rel in list_package_files(package.path)
        if rel != CHECKSUMS_FILE
    }
    (package.path / CHECKSUMS_FILE).write_text(Manifest(files=files).to_json())
    with pytest.raises(UnsafeArtifact, match=r"model/weights\.bin.*unsafe.*(posix|os)\.system"):
        registry.register(package.path, "evil", actor="eve")
    assert registry.store.models.find_model("evil") is None


def test_bad_uris_and_unknown_names(registry: ModelRegistry) -> None:
    with pytest.raises(InvalidInput, match="Accepted forms"):
        registry.resolve("models:/churn")
    with pytest.raises(NotFound, match="No registered model"):
        registry.resolve("models:/nope/1")


def test_search_by_name_and_tag(registry: ModelRegistry, unsigned_package: ModelPackage) -> None:
    registry.register(unsigned_package, "churn", actor="ann")
    registry.register(unsigned_package, "fraud", actor="ann")
    registry.store.models.update_model("fraud", tags={"team": "risk"})
    assert [m.name for m in registry.search(name_like="ch%")] == ["churn"]
    assert [m.name for m in registry.search(tag="team=risk")] == ["fraud"]
    assert pd.Series([m.latest_version for m in registry.search()]).tolist() == [1, 1]


def test_foreign_version_downloads_as_registered_and_a_tampered_file_is_named(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    folder = tmp_path / "mlflow-model"
    folder.mkdir()
    files = {"MLmodel": b"flavors:\n  python_function: {}\n", "model.pkl": pickle.dumps([1, 2, 3])}
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    version = registry.register_foreign(folder, "churn-mlflow", flavor="mlflow", actor="ann")
    assert registry.is_foreign(version)
    out = registry.download("models:/churn-mlflow/1", tmp_path / "out")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files  # as it came: no checksums.json
    blob = _blob_path(tmp_path / "blobs", hash_file(folder / "model.pkl").sha256)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"model\.pkl"):
        registry.download("models:/churn-mlflow/1", tmp_path / "again")
    assert not (tmp_path / "again").exists()
