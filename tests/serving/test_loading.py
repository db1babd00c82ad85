"""Models load through the registry's verified path only; a package failing verification is never served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.artifacts import BlobStore
from loopml.errors import IntegrityError, InvalidInput, NotFound, PolicyViolation
from loopml.registry import ColumnSpec, ModelRegistry, ModelSignature, PromotionPolicy, package_model
from loopml.registry.policy import AliasRequirements
from loopml.serving import ModelSource, OutputPolicy, load_served_model
from loopml.store.sql import open_store
from tests.serving.conftest import NUMERIC_COLUMNS, Models, blessing

_SIGNATURE = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in NUMERIC_COLUMNS))


def _registry(root: Path, models: Models, policy: PromotionPolicy | None = None) -> ModelRegistry:
    return ModelRegistry(
        open_store(f"sqlite:///{root / 'store.db'}"),
        BlobStore(root / "blobs"),
        trust_store=models.registry.trust_store,
        policy=policy,
        cache_dir=root / "cache",
    )


def test_alias_version_and_latest_load_with_metadata(models: Models) -> None:
    served = load_served_model(ModelSource(uri="models:/numeric@champion"), registry=models.registry)
    assert (served.name, served.version, served.labels, served.accepts_matrix) == (
        "numeric",
        "1",
        ("champion",),
        True,
    )
    by_version = load_served_model(ModelSource(uri="models:/mixed/1", name="m2"), registry=models.registry)
    assert (by_version.name, by_version.accepts_matrix, by_version.schema.names) == (
        "m2",
        False,
        ("age", "income", "city"),
    )
    assert (
        load_served_model(ModelSource(uri="models:/price/latest"), registry=models.registry).has_probabilities
        is False
    )


def test_unknown_model_alias_or_folder_is_not_found(models: Models, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no alias 'canary'"):
        load_served_model(ModelSource(uri="models:/numeric@canary"), registry=models.registry)
    with pytest.raises(NotFound, match="neither a models:/ URI nor a package folder"):
        load_served_model(ModelSource(uri=str(tmp_path / "missing")))


def test_tampered_blob_is_never_served(models: Models, tmp_path: Path) -> None:
    registry = _registry(tmp_path, models)
    model = LogisticRegression().fit(models.numeric_x, (models.numeric_x[:, 0] > 0).astype(int))
    pkg = package_model(model, tmp_path / "pkg", signature=_SIGNATURE)
    version = registry.register(pkg, "t")
    manifest_blob = tmp_path / "blobs" / "sha256" / version.manifest_sha256[:2] / version.manifest_sha256[2:]
    index = __import__("json").loads(manifest_blob.read_bytes())
    model_sha = next(v for k, v in index["files"].items() if k.endswith("model.skops"))
    digest = model_sha if isinstance(model_sha, str) else model_sha["sha256"]
    blob = tmp_path / "blobs" / "sha256" / digest[:2] / digest[2:]
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-10] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        load_served_model(ModelSource(uri="models:/t/1"), registry=registry)


def test_production_alias_needs_trusted_signature_and_blessing_at_load_time(
    models: Models, tmp_path: Path
) -> None:
    lax = PromotionPolicy(production=AliasRequirements())  # lets an unsigned, unblessed version take champion
    registry = _registry(tmp_path, models, policy=lax)
    model = LogisticRegression().fit(models.numeric_x, (models.numeric_x[:, 1] > 0).astype(int))
    registry.register(package_model(model, tmp_path / "pkg", signature=_SIGNATURE), "u", blessing=blessing())
    registry.set_alias("u", "champion", 1, actor="tests")
    strict = _registry(tmp_path, models)  # the default policy: champion needs a trusted signature
    with pytest.raises(IntegrityError, match="not signed"):
        load_served_model(ModelSource(uri="models:/u@champion"), registry=strict)
    assert load_served_model(ModelSource(uri="models:/u/1"), registry=strict).version == "1"
    registry.register(package_model(model, tmp_path / "pkg2", signature=_SIGNATURE), "v")
    registry.set_alias("v", "champion", 1, actor="tests")
    with pytest.raises(PolicyViolation, match="no passing blessing"):
        load_served_model(ModelSource(uri="models:/v@champion"), registry=strict)


def test_package_folder_verified_and_signature_required_on_request(models: Models, tmp_path: Path) -> None:
    model = LogisticRegression().fit(models.numeric_x, (models.numeric_x[:, 2] > 0).astype(int))
    pkg = package_model(model, tmp_path / "folder-model", signature=_SIGNATURE)
    served = load_served_model(ModelSource(uri=str(pkg.path)))
    assert (served.name, served.version) == ("folder-model", "1")
    with pytest.raises(IntegrityError, match="not signed"):
        load_served_model(
            ModelSource(uri=str(pkg.path), require_signature=True), trust_store=models.registry.trust_store
        )
    (pkg.path / "model.yaml").write_text((pkg.path / "model.yaml").read_text() + "\n# edited\n")
    with pytest.raises(IntegrityError, match="was modified"):
        load_served_model(ModelSource(uri=str(pkg.path)))


def test_package_without_signature_columns_is_refused(tmp_path: Path, models: Models) -> None:
    model = LogisticRegression().fit(models.numeric_x, (models.numeric_x[:, 2] > 0).astype(int))
    pkg = package_model(model, tmp_path / "nosig")
    with pytest.raises(InvalidInput, match="needs an input signature"):
        load_served_model(ModelSource(uri=str(pkg.path)))


def test_output_policy_applies(models: Models) -> None:
    import asyncio

    from loopml.inference.inputs import from_matrix
    from loopml.serving import DataPlane, ModelRepository

    x = models.numeric_x[:3]
    sources = {
        "label": OutputPolicy(label_only=True),
        "top": OutputPolicy(top_k=1, decimals=2),
    }
    served = [
        load_served_model(ModelSource(uri="models:/numeric/1", name=name, policy=p), registry=models.registry)
        for name, p in sources.items()
    ]
    plane = DataPlane(ModelRepository(served))

    async def run(name: str) -> dict[str, np.ndarray]:
        model = plane.model(name)
        return (await plane.infer(model, from_matrix(model.schema, x), protocol="test")).outputs

    label = asyncio.run(run("label"))
    assert list(label) == ["predict"]
    top = asyncio.run(run("top"))
    assert list(top) == ["predict", "top_k_labels", "top_k_scores"]
    proba = models.numeric.predict_proba(x)
    np.testing.assert_array_equal(top["top_k_labels"][:, 0], models.numeric.predict(x))
    np.testing.assert_array_equal(top["top_k_scores"][:, 0], np.round(proba.max(axis=1), 2))
