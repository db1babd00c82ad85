"""Run artifact files addressed by path: upload (stream, blob, record, lineage event) and lookup."""

from __future__ import annotations

from typing import BinaryIO

from loopml.artifacts import BlobStore
from loopml.errors import InvalidState, NotFound
from loopml.store.entities import Artifact, EventType, every_item
from loopml.store.repositories import Store

__all__ = ["find_run_file", "store_run_file"]


def store_run_file(
    store: Store, blobs: BlobStore, run_id: str, path: str, body: BinaryIO, *, type: str
) -> Artifact:
    """Store the bytes of ``body`` as the artifact ``path`` of a RUNNING run (an OUTPUT of its execution)."""
    run = store.runs.get(run_id)
    if run.status.is_terminal:
        raise InvalidState(
            f"Run {run_id} has ended ({run.status}); artifacts can only be logged to a RUNNING run."
        )
    ref = blobs.put_stream(body, label=path)
    artifact = store.artifacts.create(
        type=type, name=path, uri=ref.uri, sha256=ref.sha256, size=ref.size, run_id=run_id
    )
    execution = store.lineage.find_run_execution(run_id)
    if execution is not None:
        store.lineage.add_events(
            execution.execution_id, [(artifact.artifact_id, EventType.OUTPUT, type.lower())]
        )
    return artifact


def find_run_file(store: Store, run_id: str, path: str) -> tuple[Artifact, str]:
    """The latest stored (not referenced) artifact named ``path`` of a run."""
    store.runs.get(run_id)
    latest: tuple[Artifact, str] | None = None
    for art in every_item(lambda token: store.artifacts.list(run_id=run_id, name=path, page_token=token)):
        if not art.is_reference and art.sha256 is not None:
            latest = (art, art.sha256)
    if latest is None:
        raise NotFound(
            f"Run {run_id} has no artifact {path!r}; `loopml artifacts list {run_id}` lists them."
        )
    return latest
