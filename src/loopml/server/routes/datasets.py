"""Dataset versions: list, one version's files and schema, its statistics, and adding a version
from data already under the artifact root."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from loopml.data.versions import DatasetVersions
from loopml.errors import InvalidInput, NotFound
from loopml.security.auth import ResourceKind
from loopml.server._deps import Blobs, StoreDep
from loopml.server._json_body import SafeRoute
from loopml.server._paths import local_data_under_root
from loopml.server._security import visibility_of
from loopml.server._streams import stream_blob
from loopml.server.schemas.common import Id, Name
from loopml.server.schemas.datasets import DatasetAdd, DatasetVersionOut
from loopml.server.schemas.lineage import ArtifactOut, ArtifactPage
from loopml.store.entities import Artifact, EventType
from loopml.store.repositories import Store

__all__ = ["router"]

router = APIRouter(prefix="/datasets", tags=["datasets"], route_class=SafeRoute)
STATISTICS_TYPE = "Statistics"
_JSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}}, "description": "The statistics document, verified."}
}


@router.get("")
def list_dataset_versions(
    request: Request, store: StoreDep, blobs: Blobs, name: Name | None = None
) -> ArtifactPage:
    visible = visibility_of(request)
    found = [
        a for a in DatasetVersions(store, blobs).list(name) if visible.shows(ResourceKind.DATASET, a.name)
    ]
    return ArtifactPage(artifacts=[ArtifactOut.of(a) for a in found])


@router.post("/{name}/versions", status_code=201)
async def add_dataset_version(
    name: Name, body: DatasetAdd, store: StoreDep, blobs: Blobs
) -> DatasetVersionOut:
    """Register data under the artifact root (a file or a folder) as the next version of ``name``."""
    path = local_data_under_root(body.uri, artifact_root=blobs.root_url)

    def add() -> DatasetVersionOut:
        try:
            added = DatasetVersions(store, blobs).add(name, path, by_reference=body.by_reference)
        except (pa.ArrowException, OSError, UnicodeDecodeError) as err:
            raise InvalidInput(
                f"Data at {body.uri[:80]!r} cannot be read as CSV or Parquet: {err}. Fix the files and retry."
            ) from err
        return DatasetVersionOut.of(added)

    return await anyio.to_thread.run_sync(add)


def _statistics_of(store: Store, artifact_id: str) -> list[Artifact]:
    """Statistics artifacts computed from a dataset version (outputs of executions reading it)."""
    executions = {
        e.execution_id
        for e in store.lineage.list_events(artifact_id=artifact_id)
        if e.type is EventType.INPUT
    }
    found: dict[str, Artifact] = {}
    for execution_id in sorted(executions):
        for event in store.lineage.list_events(execution_id=execution_id):
            if event.type is EventType.OUTPUT and event.artifact_id not in found:
                artifact = store.artifacts.get(event.artifact_id)
                if artifact.type == STATISTICS_TYPE:
                    found[artifact.artifact_id] = artifact
    return sorted(found.values(), key=lambda a: (a.created_at, a.artifact_id))


@router.get("/{ref}/statistics")
def list_dataset_statistics(ref: Name, store: StoreDep, blobs: Blobs) -> ArtifactPage:
    """Statistics computed for a version (``loopml data stats --dataset REF``), oldest first."""
    version = DatasetVersions(store, blobs).get(ref)
    return ArtifactPage(artifacts=[ArtifactOut.of(a) for a in _statistics_of(store, version.artifact_id)])


@router.get("/{ref}/statistics/{artifact_id}", responses=_JSON, response_class=StreamingResponse)
def get_dataset_statistics(ref: Name, artifact_id: Id, store: StoreDep, blobs: Blobs) -> StreamingResponse:
    """Stream one statistics document of a version, verified against its hash as it is read."""
    version = DatasetVersions(store, blobs).get(ref)
    match = next(
        (a for a in _statistics_of(store, version.artifact_id) if a.artifact_id == artifact_id), None
    )
    if match is None or match.sha256 is None or match.is_reference:
        raise NotFound(
            f"Dataset {ref!r} has no statistics artifact {artifact_id!r}; "
            f"`GET /api/v1/datasets/{ref}/statistics` lists them."
        )
    label = f"statistics of {ref}"
    return stream_blob(blobs, match.sha256, label=label, size=match.size, media_type="application/json")


@router.get("/{ref}")
def get_dataset_version(ref: Name, store: StoreDep, blobs: Blobs) -> DatasetVersionOut:
    """One version, by ``name@version`` (or ``name`` for the latest)."""
    return DatasetVersionOut.of(DatasetVersions(store, blobs).get(ref))
