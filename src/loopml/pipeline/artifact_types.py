"""Typed artifacts that components take and produce: :class:`Dataset`, :class:`Model` ...

An artifact class is both the annotation a component is declared with and the value it handles
at run time:

* **inputs** arrive as *stored* instances (``artifact_id``, ``uri``, ``sha256`` set); read them
  with :meth:`ArtifactType.local_path`, :meth:`ArtifactType.read_bytes` or
  :meth:`ArtifactType.read_json`;
* **outputs** are returned as *pending* instances made with :meth:`ArtifactType.from_path`
  (a file or a folder the component wrote), :meth:`ArtifactType.from_properties` (a small value,
  stored as canonical JSON) or :meth:`ArtifactType.from_reference` (data registered in place).
  The runner uploads them to the content-addressed blob store and records them in the store.

New types are plain subclasses; ``type_name`` defaults to the class name::

    class Embeddings(ArtifactType):
        \"\"\"Vectors for each row of a dataset.\"\"\"
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from loopml.errors import InvalidInput, InvalidState

__all__ = [
    "LAYOUT_DIRECTORY",
    "LAYOUT_FILE",
    "LAYOUT_PROPERTY",
    "Anomalies",
    "ArtifactType",
    "Blessing",
    "Dataset",
    "Evaluation",
    "File",
    "InfraBlessing",
    "Model",
    "ModelCard",
    "PushedModel",
    "Schema",
    "Statistics",
    "Transform",
    "artifact_type_for",
]

LAYOUT_PROPERTY = "loopml.layout"
"""Artifact property saying how the bytes are laid out: ``file`` or ``directory``."""
LAYOUT_FILE = "file"
LAYOUT_DIRECTORY = "directory"

_REGISTRY: dict[str, type[ArtifactType]] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactType:
    """Base of every artifact type; subclasses set ``type_name`` (default: the class name).

    Attributes:
        artifact_id: Store id; None while the artifact is pending (returned, not yet recorded).
        uri: Blob location (``sha256/..`` or the reference URL); None while pending.
        sha256: Content hash; None while pending.
        size: Content size in bytes; None while pending.
        is_reference: True when the content was registered in place, not copied.
        is_directory: True when the content is a folder (stored as a manifest of blobs).
        properties: Small JSON-ready facts about the artifact (row counts, metric values ...).
        name: Artifact name in the store; pending outputs may set it (e.g. a dataset name, versioned
            per name), otherwise the runner names it ``<pipeline>.<step>.<output>``.
        source_path: For pending outputs, the local file or folder to upload.
        source_url: For pending references, the URL to register.

    Example:
        >>> m = Model.from_properties({"accuracy": 0.9})
        >>> (m.type_name, m.is_stored, m.properties["accuracy"])
        ('Model', False, 0.9)
    """

    type_name: ClassVar[str] = "Artifact"

    artifact_id: str | None = None
    uri: str | None = None
    sha256: str | None = None
    size: int | None = None
    is_reference: bool = False
    is_directory: bool = False
    properties: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    source_path: Path | None = None
    source_url: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # No zero-argument super() here: slots=True rebuilds the class, which breaks its cell.
        if "type_name" not in cls.__dict__:
            cls.type_name = cls.__name__
        _REGISTRY.setdefault(cls.type_name, cls)

    # ----------------------------------------------------------------- constructors (outputs)
    @classmethod
    def from_path(
        cls, path: str | Path, *, properties: Mapping[str, Any] | None = None, name: str | None = None
    ) -> Self:
        """A pending output whose content is the file or folder at ``path``.

        Raises:
            InvalidInput: when ``path`` does not exist.
        """
        p = Path(path)
        if not p.exists():
            raise InvalidInput(
                f"{cls.type_name}.from_path: {str(p)!r} does not exist; write the file or folder first."
            )
        return cls(source_path=p, is_directory=p.is_dir(), properties=dict(properties or {}), name=name)

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any], *, name: str | None = None) -> Self:
        """A pending output whose content is ``properties`` as canonical JSON (a verdict, a metric set)."""
        return cls(properties=dict(properties), name=name)

    @classmethod
    def from_reference(
        cls, url: str, *, properties: Mapping[str, Any] | None = None, name: str | None = None
    ) -> Self:
        """A pending output registered in place (hashed, not copied), e.g. a large table in S3."""
        return cls(source_url=url, is_reference=True, properties=dict(properties or {}), name=name)

    # ------------------------------------------------------------------ accessors (inputs)
    @property
    def is_stored(self) -> bool:
        """True once the artifact is recorded in the store (inputs always are)."""
        return self.artifact_id is not None

    def local_path(self) -> Path:
        """A local path to the content (a folder for directory artifacts), verified against its hash.

        Only valid inside a running component. References on the local file system are returned
        in place.

        Raises:
            InvalidState: outside a component, or for a pending artifact without a path.
        """
        from loopml.pipeline._runtime import materialize

        if not self.is_stored:
            if self.source_path is not None:
                return self.source_path
            raise InvalidState(f"This {self.type_name} is pending and has no local path.")
        return materialize(self)

    def read_bytes(self) -> bytes:
        """The content as bytes (files only)."""
        path = self.local_path()
        if path.is_dir():
            raise InvalidInput(f"{self.type_name} {self.artifact_id} is a folder; use local_path().")
        return path.read_bytes()

    def read_json(self) -> Any:
        """The content parsed as JSON (e.g. outputs made with :meth:`from_properties`)."""
        try:
            return json.loads(self.read_bytes())
        except ValueError as err:
            raise InvalidInput(f"{self.type_name} {self.artifact_id} is not JSON: {err}") from err


class Dataset(ArtifactType):
    """Tabular examples (a file or a folder of Parquet/CSV files), possibly with splits."""


class Statistics(ArtifactType):
    """Per-feature statistics of a dataset."""


class Schema(ArtifactType):
    """The expected columns, types and domains of a dataset."""


class Anomalies(ArtifactType):
    """Findings of validating statistics against a schema."""


class Transform(ArtifactType):
    """A preprocessing fitted on training data, applied identically in serving."""


class Model(ArtifactType):
    """A trained model (a file or a folder)."""


class Evaluation(ArtifactType):
    """Metrics of a model, overall and per slice."""


class Blessing(ArtifactType):
    """The verdict of a gate: passed or failed, with reasons."""


class InfraBlessing(ArtifactType):
    """The verdict of loading a model in a clean process and scoring sample rows."""


class PushedModel(ArtifactType):
    """A model handed to the registry."""


class ModelCard(ArtifactType):
    """A human-readable description of an evaluated model."""


class File(ArtifactType):
    """Any other file or folder."""


def artifact_type_for(type_name: str) -> type[ArtifactType]:
    """The artifact class registered under ``type_name`` (:class:`File`-like base when unknown).

    Example:
        >>> artifact_type_for("Model") is Model
        True
    """
    return _REGISTRY.get(type_name, ArtifactType)
