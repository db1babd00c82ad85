"""Dataset versions: list, one version's files and schema, the statistics computed from it (also
through a pipeline's derived examples), and adding a version from data already under the artifact root."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from loopml.data.derived import DerivedStatistics, SplitRequired
from loopml.data.versions import DatasetVersions
from loopml.errors import InvalidInput
from loopml.security.auth import ResourceKind
from loopml.server._deps import Blobs, StoreDep
from loopml.server._paths import local_data_under_root
from loopml.server._streams import stream_blob
from loopml.server._visibility import visibility_of
from loopml.server.schemas.common import DatasetRef, Id, Name
from loopml.server.schemas.datasets import (
    DatasetAdd,
    DatasetStatisticsOut,
    DatasetStatisticsPage,
    DatasetVersionOut,
)
from loopml.server.schemas.lineage import ArtifactOut, ArtifactPage
from loopml.web.json_body import SafeRoute

__all__ = ["router"]

router = APIRouter(prefix="/datasets", tags=["datasets"], route_class=SafeRoute)
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


@router.get("/{ref}/statistics")
def list_dataset_statistics(ref: DatasetRef, store: StoreDep, blobs: Blobs) -> DatasetStatisticsPage:
    """Statistics computed from a version or from data derived from it (a pipeline's examples),
    oldest first; per-split folders list their splits."""
    version = DatasetVersions(store, blobs).get(ref)
    found = DerivedStatistics(store, blobs).list(version)
    return DatasetStatisticsPage(artifacts=[DatasetStatisticsOut.of_statistics(s) for s in found])


@router.get("/{ref}/statistics/{artifact_id}", responses=_JSON, response_class=StreamingResponse)
def get_dataset_statistics(
    ref: DatasetRef, artifact_id: Id, store: StoreDep, blobs: Blobs, split: Name | None = None
) -> StreamingResponse:
    """Stream one statistics document of a version, verified against its hash as it is read.

    A per-split artifact needs ``?split=NAME``; without it the answer is a 400 naming its splits.
    """
    finder = DerivedStatistics(store, blobs)
    found = finder.get(DatasetVersions(store, blobs).get(ref), artifact_id)
    try:
        doc = finder.document(found, split=split)
    except SplitRequired as err:
        hint = f" Add ?split=NAME to the URL, e.g. ?split={err.splits[0]}."
        raise SplitRequired(str(err) + hint, artifact_id=err.artifact_id, splits=err.splits) from err
    return stream_blob(blobs, doc.sha256, label=doc.label, size=doc.size, media_type="application/json")


@router.get("/{ref}")
def get_dataset_version(ref: DatasetRef, store: StoreDep, blobs: Blobs) -> DatasetVersionOut:
    """One version, by ``name@version`` (or ``name`` for the latest)."""
    return DatasetVersionOut.of(DatasetVersions(store, blobs).get(ref))
