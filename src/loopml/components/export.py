"""Copy a component output (a file or a folder artifact) out of the blob store, verified."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from loopml.artifacts import BlobStore
from loopml.errors import InvalidInput
from loopml.pipeline.artifact_types import LAYOUT_DIRECTORY, LAYOUT_PROPERTY
from loopml.store import Store

__all__ = ["export_artifact"]


def export_artifact(store: Store, blobs: BlobStore, artifact_id: str, dest: str | Path) -> Path:
    """Write artifact ``artifact_id`` to ``dest``: a file, or a folder for folder artifacts.

    Every byte is verified against its recorded SHA-256 on the way out.

    Raises:
        NotFound: no such artifact.
        InvalidInput: the artifact is registered by reference (read it at its URL).
        IntegrityError: stored bytes do not match their hash.
    """
    artifact = store.artifacts.get(artifact_id)
    if artifact.is_reference or artifact.sha256 is None:
        raise InvalidInput(
            f"Artifact {artifact_id} is registered by reference at {artifact.uri}; read it there."
        )
    target = Path(dest)
    label = f"{artifact.type} {artifact.name}"
    if artifact.properties.get(LAYOUT_PROPERTY) != LAYOUT_DIRECTORY:
        target.parent.mkdir(parents=True, exist_ok=True)
        return blobs.get_file(artifact.sha256, target, label=label)
    manifest = json.loads(blobs.read_bytes(artifact.sha256, label=label))
    for rel, sha in manifest["files"].items():
        path = target.joinpath(*PurePosixPath(rel).parts)
        if ".." in PurePosixPath(rel).parts:
            raise InvalidInput(f"{label}: manifest entry {rel!r} leaves the folder; refusing to export it.")
        path.parent.mkdir(parents=True, exist_ok=True)
        blobs.get_file(sha, path, label=f"{label} file {rel}")
    return target
