"""What a running component can reach: the blob store and a scratch folder, and moving bytes in and out.

The worker side of a step (in-process, in a pool process or in a Ray task) activates a
:class:`StepRuntime`; input artifacts read through it (:func:`materialize`), and pending outputs
are uploaded through it (:func:`upload_output`).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from loopml.artifacts import BlobStore
from loopml.errors import InvalidInput, InvalidState
from loopml.pipeline.artifact_types import LAYOUT_DIRECTORY, LAYOUT_FILE, LAYOUT_PROPERTY, ArtifactType
from loopml.store import Store
from loopml.store.sql import open_store

__all__ = [
    "StepContext",
    "StepRuntime",
    "StoredOutput",
    "activate",
    "canonical_json",
    "current_step",
    "materialize",
    "scratch_dir",
    "share_store",
    "upload_output",
]

_MANIFEST_FORMAT = "loopml-directory/1"
_stores: dict[tuple[int, str], Store] = {}
_current: contextvars.ContextVar[StepRuntime | None] = contextvars.ContextVar("loopml_step", default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepContext:
    """What a running component may know about its step; get it with :func:`current_step`.

    Attributes:
        step_name: The step's name in the pipeline.
        component: The component's name.
        pipeline: The pipeline's name.
        pipeline_run: The run's name (also the name of its ``pipeline_run`` Context).
        context_id: The run's Context id.
        execution_id: This step's Execution id (link tracking runs and records to it).
        attempt: 1 for the first try, 2 for the first retry ...
        blobs: The blob store outputs go to.
        store_url: URL of the metadata store, for :meth:`open_store`.
    """

    step_name: str
    component: str
    pipeline: str
    pipeline_run: str
    context_id: str
    execution_id: str
    attempt: int = 1
    blobs: BlobStore
    store_url: str

    def open_store(self) -> Store:
        """The metadata store: the runner's own in its process, else opened once per worker process."""
        key = (os.getpid(), self.store_url)
        store = _stores.get(key)
        if store is None:
            store = open_store(self.store_url)
            _stores[key] = store
        return store


def share_store(url: str, store: Store | None) -> None:
    """Let components running in this process use ``store`` for ``url`` (None stops sharing)."""
    key = (os.getpid(), url)
    if store is None:
        _stores.pop(key, None)
    else:
        _stores[key] = store


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRuntime:
    """The step context and scratch folder of one running step."""

    step: StepContext
    workdir: Path

    @property
    def blobs(self) -> BlobStore:
        return self.step.blobs


def current_step() -> StepContext:
    """The step this code runs in (inside a component).

    Raises:
        InvalidState: outside a running component.
    """
    return _runtime().step


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredOutput:
    """An output after upload: where its bytes are, ready to be recorded as an Artifact.

    ``artifact_id`` is set when a component passed one of its (already recorded) inputs through.
    """

    type_name: str
    uri: str
    sha256: str
    size: int
    is_reference: bool = False
    properties: Mapping[str, Any] = field(default_factory=dict)
    artifact_id: str | None = None
    name: str | None = None


@contextlib.contextmanager
def activate(runtime: StepRuntime) -> Iterator[StepRuntime]:
    """Make ``runtime`` the current one for the duration of the block."""
    token = _current.set(runtime)
    try:
        yield runtime
    finally:
        _current.reset(token)


def _runtime() -> StepRuntime:
    runtime = _current.get()
    if runtime is None:
        raise InvalidState(
            "Artifact content is only readable inside a running component (the runner provides the "
            "blob store); run the pipeline, or read the blob with loopml.artifacts.BlobStore."
        )
    return runtime


def _local_reference(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else uri)
    return None


def materialize(artifact: ArtifactType) -> Path:
    """A verified local copy of a stored artifact's content (cached per step)."""
    runtime = _runtime()
    if artifact.sha256 is None or artifact.uri is None:
        raise InvalidState(f"{artifact.type_name} has no content recorded.")
    label = f"{artifact.type_name} {artifact.artifact_id}"
    if artifact.is_reference:
        local = _local_reference(artifact.uri)
        if local is not None:
            return local
        import fsspec  # base dependency; only needed for remote references

        dest = runtime.workdir / "inputs" / artifact.sha256
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            with fsspec.open(artifact.uri, "rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
        return dest
    dest = runtime.workdir / "inputs" / artifact.sha256
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not artifact.is_directory:
        return runtime.blobs.get_file(artifact.sha256, dest, label=label)
    manifest = json.loads(runtime.blobs.read_bytes(artifact.sha256, label=label))
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for rel, sha in manifest["files"].items():
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        runtime.blobs.get_file(sha, target, label=f"{label} file {rel}")
    staging.mkdir(parents=True, exist_ok=True)
    staging.rename(dest)
    return dest


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces) of a JSON-ready value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def upload_output(blobs: BlobStore, artifact: ArtifactType, *, label: str) -> StoredOutput:
    """Store a pending output's content in the blob store.

    Files are stored as one blob, folders as one blob per file plus a manifest blob, references
    are registered in place, and a properties-only output as its canonical JSON.
    """
    props = dict(artifact.properties)
    try:
        canonical_json(props)
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"{label}: properties must be JSON-ready: {err}") from err
    if artifact.source_url is not None:
        ref = blobs.reference(artifact.source_url, label=label)
        props[LAYOUT_PROPERTY] = LAYOUT_FILE
        return StoredOutput(
            type_name=artifact.type_name,
            uri=ref.uri,
            sha256=ref.sha256,
            size=ref.size,
            is_reference=True,
            properties=props,
            name=artifact.name,
        )
    path = artifact.source_path
    if path is None:
        ref = blobs.put_bytes(canonical_json(props), label=label)
        props[LAYOUT_PROPERTY] = LAYOUT_FILE
        return StoredOutput(
            type_name=artifact.type_name,
            uri=ref.uri,
            sha256=ref.sha256,
            size=ref.size,
            properties=props,
            name=artifact.name,
        )
    if path.is_dir():
        files: dict[str, str] = {}
        total = 0
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            rel = item.relative_to(path).as_posix()
            ref = blobs.put_file(item, label=f"{label} file {rel}")
            files[rel] = ref.sha256
            total += ref.size
        manifest = blobs.put_bytes(canonical_json({"format": _MANIFEST_FORMAT, "files": files}), label=label)
        props[LAYOUT_PROPERTY] = LAYOUT_DIRECTORY
        return StoredOutput(
            type_name=artifact.type_name,
            uri=manifest.uri,
            sha256=manifest.sha256,
            size=total,
            properties=props,
            name=artifact.name,
        )
    if not path.is_file():
        raise InvalidInput(f"{label}: {str(path)!r} no longer exists; keep it until the component returns.")
    ref = blobs.put_file(path, label=label)
    props[LAYOUT_PROPERTY] = LAYOUT_FILE
    return StoredOutput(
        type_name=artifact.type_name,
        uri=ref.uri,
        sha256=ref.sha256,
        size=ref.size,
        properties=props,
        name=artifact.name,
    )


def scratch_dir(name: str = "out") -> Path:
    """A fresh, empty folder for a component to write its outputs into.

    Inside a running step it lives in the step's scratch folder (removed after the outputs are
    uploaded); outside one (calling a component's function directly in a test) it is a new
    temporary folder.

    Example:
        >>> scratch_dir("model").is_dir()
        True
    """
    runtime = _current.get()
    if runtime is None:
        return Path(tempfile.mkdtemp(prefix=f"loopml-{name}-"))
    base = runtime.workdir / "outputs"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
