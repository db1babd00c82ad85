"""Dataset versions (read-only): list versions of a dataset, and one version's files and schema."""

from __future__ import annotations

from fastapi import APIRouter

from loopml.data.versions import DatasetVersions
from loopml.server._deps import Blobs, StoreDep
from loopml.server._json_body import SafeRoute
from loopml.server.schemas.common import Name
from loopml.server.schemas.datasets import DatasetVersionOut
from loopml.server.schemas.lineage import ArtifactOut, ArtifactPage

__all__ = ["router"]

router = APIRouter(prefix="/datasets", tags=["datasets"], route_class=SafeRoute)


@router.get("")
def list_dataset_versions(store: StoreDep, blobs: Blobs, name: Name | None = None) -> ArtifactPage:
    found = DatasetVersions(store, blobs).list(name)
    return ArtifactPage(artifacts=[ArtifactOut.of(a) for a in found])


@router.get("/{ref}")
def get_dataset_version(ref: Name, store: StoreDep, blobs: Blobs) -> DatasetVersionOut:
    """One version, by ``name@version`` (or ``name`` for the latest)."""
    return DatasetVersionOut.of(DatasetVersions(store, blobs).get(ref))
