"""Build a model package folder: model files, optional transform, model.yaml, checksums.json."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loopml.errors import Conflict, InvalidInput
from loopml.registry.flavors.base import Flavor, flavor_for, get_flavor
from loopml.registry.flavors.sklearn import save_skops
from loopml.registry.package._manifest import CHECKSUMS_FILE, Manifest, hash_file, list_package_files
from loopml.registry.package._model_yaml import MODEL_YAML, ModelSpec, TransformSpec
from loopml.registry.package._schema import ModelSignature, infer_columns
from loopml.registry.package.training_stats import compute_training_stats, write_training_stats

__all__ = ["ModelPackage", "package_model"]

_MODEL_DIR, _TRANSFORM_FILE = "model", "transform/transform.skops"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ModelPackage:
    """A package just written to disk (not yet signed)."""

    path: Path
    spec: ModelSpec
    manifest: Manifest


def _onnx_or_fallback(
    model: Any, transform: Any, eval_data: Any, atol: float
) -> tuple[Any, Flavor, dict[str, Any]]:
    """Convert to ONNX; keep it only when it matches the original on ``eval_data``."""
    if eval_data is None:
        raise InvalidInput("flavor='onnx' for a scikit-learn model needs eval_data to check the conversion.")
    from loopml.registry.flavors.onnx import convert_sklearn

    features = transform.transform(eval_data) if transform is not None else eval_data
    conversion = convert_sklearn(model, features, atol=atol)
    if conversion.is_match:
        return conversion, get_flavor("onnx"), conversion.record()
    return model, get_flavor("sklearn"), conversion.record()


def _signature(model: Any, flavor: Flavor, transform: Any, sample: Any) -> ModelSignature:
    features = transform.transform(sample) if transform is not None else sample
    outputs = flavor.predict(model, features[:5] if hasattr(features, "__getitem__") else features)
    return ModelSignature(
        inputs=infer_columns(sample), outputs=infer_columns(outputs, default_name="prediction")
    )


def _write_manifest(root: Path) -> Manifest:
    files = {rel: hash_file(root / rel) for rel in list_package_files(root) if rel != CHECKSUMS_FILE}
    manifest = Manifest(files=files)
    (root / CHECKSUMS_FILE).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def package_model(
    model: Any,
    dest: Path | str,
    *,
    flavor: str | None = None,
    transform: Any = None,
    sample: Any = None,
    signature: ModelSignature | None = None,
    eval_data: Any = None,
    onnx_atol: float = 1e-5,
    requirements: Sequence[str] = (),
    metrics: Mapping[str, float] | None = None,
    lineage: Mapping[str, str] | None = None,
    created_by: str = "",
) -> ModelPackage:
    """Write ``model`` as a package folder at ``dest`` (atomically: temp folder, then rename).

    Args:
        model: The fitted model (scikit-learn, XGBoost, LightGBM, ONNX proto, PythonModelCode).
        dest: The folder to create; it must not exist.
        flavor: Flavor name; by default chosen from the model's type. ``"onnx"`` with a
            scikit-learn model converts it and keeps the ONNX graph only when its outputs match
            the original on ``eval_data`` within ``onnx_atol``; otherwise the package falls
            back to the sklearn flavor and ``model.yaml`` records why under ``conversion``.
        transform: A fitted scikit-learn transformer applied before the model (saved with skops).
        sample: Input rows (DataFrame, Arrow, NumPy) to derive the signature from; their per-feature
            statistics are kept as ``training_stats.json`` (atypical-input detection when served).
        signature: An explicit signature (wins over ``sample``).
        eval_data: Rows to check an ONNX conversion on.
        onnx_atol: Tolerance on probabilities (or predictions) for keeping an ONNX conversion.
        requirements: pip requirements for loading.
        metrics: Evaluation metrics to record.
        lineage: Ids linking the package to its run, data and pipeline execution.
        created_by: Who packaged it.

    Returns:
        The written package.

    Raises:
        Conflict: ``dest`` exists.
        InvalidInput: no flavor fits, or the model cannot be saved by the chosen flavor.
    """
    root = Path(dest)
    if root.exists():
        raise Conflict(f"{root} already exists; package into a new folder.")
    converting = flavor == "onnx" and type(model).__module__.startswith("sklearn")
    chosen = get_flavor("sklearn") if converting else (get_flavor(flavor) if flavor else flavor_for(model))
    if signature is None and sample is not None:
        if chosen.runs_code or chosen.name == "onnx":
            signature = ModelSignature(inputs=infer_columns(sample))
        else:
            signature = _signature(model, chosen, transform, sample)
    conversion: dict[str, Any] = {}
    if converting:
        model, chosen, conversion = _onnx_or_fallback(model, transform, eval_data, onnx_atol)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.", suffix=".tmp"))
    try:
        (tmp / _MODEL_DIR).mkdir()
        files = tuple(f"{_MODEL_DIR}/{p}" for p in chosen.save(model, tmp / _MODEL_DIR))
        transform_spec = None
        if transform is not None:
            (tmp / _TRANSFORM_FILE).parent.mkdir()
            save_skops(transform, tmp / _TRANSFORM_FILE)
            transform_spec = TransformSpec(flavor="sklearn", files=(_TRANSFORM_FILE,))
        versions = dict(chosen.framework_versions())
        if transform is not None:
            versions.update(get_flavor("sklearn").framework_versions())
        spec = ModelSpec(
            flavor=chosen.name,
            files=files,
            framework_versions=versions,
            signature=signature,
            transform=transform_spec,
            requirements=tuple(requirements),
            metrics=dict(metrics or {}),
            lineage=dict(lineage or {}),
            created_by=created_by,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            conversion=conversion,
        )
        (tmp / MODEL_YAML).write_text(spec.to_yaml(), encoding="utf-8")
        if sample is not None:
            names = signature.input_names if signature is not None and signature.inputs else None
            write_training_stats(tmp, compute_training_stats(sample, names))
        manifest = _write_manifest(tmp)
        os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ModelPackage(path=root, spec=spec, manifest=manifest)
