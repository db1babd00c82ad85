"""``model.yaml``: what a package holds (flavor, files, signature, transform, provenance)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from loopml.errors import IntegrityError, InvalidInput
from loopml.registry.package._manifest import check_relative_path
from loopml.registry.package._schema import ModelSignature

__all__ = ["MODEL_YAML", "MODEL_YAML_FORMAT", "ModelSpec", "TransformSpec", "read_model_yaml"]

MODEL_YAML = "model.yaml"
MODEL_YAML_FORMAT = "loopml-model/1"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TransformSpec:
    """A fitted preprocessing step packaged with the model and applied before ``predict``."""

    flavor: str
    files: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """The parsed ``model.yaml`` of a package.

    Attributes:
        flavor: Name of the flavor that saved and loads the model (``sklearn``, ``onnx`` ...).
        files: Model files, relative to the package root.
        framework_versions: Library name → version at packaging time.
        signature: Input/output columns, or None when unknown.
        transform: The packaged preprocessing step, or None.
        requirements: pip requirement strings needed to load the model.
        metrics: Evaluation metrics recorded with the package.
        lineage: Ids tying the package to its origin (run_id, artifact_id, execution_id ...).
        created_by: Who packaged it.
        created_at: ISO-8601 UTC time of packaging.
        conversion: Record of a format conversion attempt (e.g. to ONNX), or empty.
    """

    flavor: str
    files: tuple[str, ...]
    framework_versions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    signature: ModelSignature | None = None
    transform: TransformSpec | None = None
    requirements: tuple[str, ...] = ()
    metrics: Mapping[str, float] = dataclasses.field(default_factory=dict)
    lineage: Mapping[str, str] = dataclasses.field(default_factory=dict)
    created_by: str = ""
    created_at: str = ""
    conversion: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.flavor:
            raise InvalidInput("ModelSpec.flavor must be a flavor name, got an empty value.")
        if not self.files:
            raise InvalidInput(f"ModelSpec.files must list the model files of flavor {self.flavor!r}.")

    def to_yaml(self) -> str:
        """The ``model.yaml`` text (keys in a fixed order)."""
        doc: dict[str, Any] = {
            "format": MODEL_YAML_FORMAT,
            "flavor": self.flavor,
            "files": list(self.files),
            "framework_versions": dict(self.framework_versions),
            "signature": self.signature.to_dict() if self.signature else None,
            "transform": (
                {"flavor": self.transform.flavor, "files": list(self.transform.files)}
                if self.transform
                else None
            ),
            "requirements": list(self.requirements),
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "lineage": dict(self.lineage),
            "created_by": self.created_by,
            "created_at": self.created_at,
            "conversion": dict(self.conversion),
        }
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, text: str) -> ModelSpec:
        """Parse ``model.yaml`` text with the safe YAML loader.

        Raises:
            IntegrityError: the text is not a valid loopml model.yaml, naming the bad key.
        """
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise IntegrityError(f"{MODEL_YAML} is not valid YAML: {err}") from err
        if not isinstance(doc, dict) or doc.get("format") != MODEL_YAML_FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise IntegrityError(f"{MODEL_YAML}: expected format {MODEL_YAML_FORMAT!r}, got {got!r}.")
        try:
            return cls(
                flavor=str(doc["flavor"]),
                files=_paths(doc.get("files")),
                framework_versions={str(k): str(v) for k, v in (doc.get("framework_versions") or {}).items()},
                signature=ModelSignature.from_dict(doc["signature"]) if doc.get("signature") else None,
                transform=_transform(doc.get("transform")),
                requirements=tuple(str(r) for r in doc.get("requirements") or ()),
                metrics={str(k): float(v) for k, v in (doc.get("metrics") or {}).items()},
                lineage={str(k): str(v) for k, v in (doc.get("lineage") or {}).items()},
                created_by=str(doc.get("created_by") or ""),
                created_at=str(doc.get("created_at") or ""),
                conversion=dict(doc.get("conversion") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise IntegrityError(f"{MODEL_YAML} is malformed ({type(err).__name__}: {err}).") from err


def _paths(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise IntegrityError(f"{MODEL_YAML}: 'files' must be a list of relative paths, got {value!r}.")
    return tuple(check_relative_path(v) for v in value)


def _transform(value: Any) -> TransformSpec | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise IntegrityError(f"{MODEL_YAML}: 'transform' must be a mapping or null, got {value!r}.")
    return TransformSpec(flavor=str(value.get("flavor")), files=_paths(value.get("files")))


def read_model_yaml(root: Path) -> ModelSpec:
    """Read and parse ``<root>/model.yaml`` (call only after the package was verified)."""
    return ModelSpec.from_yaml((root / MODEL_YAML).read_text(encoding="utf-8"))
