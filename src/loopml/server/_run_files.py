"""Run artifact files addressed by path: upload (stream, scan, blob, record, lineage event) and lookup."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from loopml.artifacts import CHUNK_SIZE, BlobStore
from loopml.config import UnsafeArtifacts
from loopml.errors import InvalidState, NotFound
from loopml.security.uploads import SCAN_PROPERTY, screen_file
from loopml.store.entities import Artifact, EventType, every_item
from loopml.store.repositories import Store

__all__ = ["find_run_file", "store_run_file"]


def store_run_file(
    store: Store,
    blobs: BlobStore,
    run_id: str,
    path: str,
    body: BinaryIO,
    *,
    type: str,
    policy: UnsafeArtifacts,
) -> Artifact:
    """Store the bytes of ``body`` as the artifact ``path`` of a RUNNING run (an OUTPUT of its execution).

    The body is received into a temporary file and scanned before anything is stored; the
    verdict is recorded on the artifact (``loopml.scan``).

    Raises:
        InvalidState: the run has ended (checked before the body is read).
        UnsafeArtifact: the scanner judged the body unsafe and ``policy`` is ``refuse``.
    """
    run = store.runs.get(run_id)
    if run.status.is_terminal:
        raise InvalidState(
            f"Run {run_id} has ended ({run.status}); artifacts can only be logged to a RUNNING run."
        )
    with tempfile.TemporaryDirectory(prefix="loopml-upload-") as folder:
        received = Path(folder) / "body"
        with received.open("xb") as out:
            shutil.copyfileobj(body, out, CHUNK_SIZE)
        scan = screen_file(received, name=path, policy=policy)
        ref = blobs.put_file(received, label=path)
    artifact = store.artifacts.create(
        type=type,
        name=path,
        uri=ref.uri,
        sha256=ref.sha256,
        size=ref.size,
        run_id=run_id,
        properties={SCAN_PROPERTY: scan},
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
        raise NotFound(f"Run {run_id} has no artifact {path!r}; `loopml artifacts list {run_id}` lists them.")
    return latest
