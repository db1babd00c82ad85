"""Artifacts: one artifact's facts, files and a size-bounded preview; an evaluation by slice.

A preview reads at most :data:`~loopml.ui.PREVIEW_BYTES` of a stored file (a whole Parquet file
up to :data:`~loopml.ui.MAX_PARQUET_BYTES`) and only parses data formats; files registered by
reference are not fetched. An artifact the caller may not see answers 404 like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from loopml.analysis import load_evaluation
from loopml.artifacts import BlobStore, is_folder, read_manifest
from loopml.data import DatasetVersions
from loopml.data.versions import is_registered
from loopml.errors import LoopmlError
from loopml.server._deps import Blobs, StoreDep
from loopml.server._model_files import package_files
from loopml.server._visibility import visibility_of
from loopml.server.ui._render import page
from loopml.server.ui._session import UI_PREFIX
from loopml.store import missing_artifact
from loopml.store.entities import Artifact, EventType
from loopml.ui import (
    MAX_PARQUET_BYTES,
    PREVIEW_BYTES,
    Preview,
    evaluation_view,
    needs_whole_file,
    preview_file,
)

__all__ = ["router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)
Text = Annotated[str | None, Query(max_length=1_000)]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Member:
    path: str
    sha256: str
    size: int | None
    is_reference: bool = False


def _visible_artifact(request: Request, store: Any, artifact_id: str) -> Artifact:
    artifact: Artifact = store.artifacts.get(artifact_id)
    if not visibility_of(request).shows_artifact(artifact):
        raise missing_artifact(artifact_id)
    return artifact


def _members(store: Any, blobs: BlobStore, artifact: Artifact) -> list[_Member]:
    """The files an artifact holds: a dataset version's, a folder's, a model package's, or itself."""
    if artifact.sha256 is None or artifact.is_reference:
        return []
    label = f"{artifact.type} {artifact.name}"
    if artifact.type == "Dataset" and is_registered(artifact):
        version = DatasetVersions(store, blobs).get(f"{artifact.name}@{artifact.version}")
        return [
            _Member(path=f.path, sha256=f.sha256, size=f.size, is_reference=f.is_reference)
            for f in version.files
        ]
    if is_folder(artifact.properties):
        found = read_manifest(blobs.read_bytes(artifact.sha256, label=label), label=label)
        return [_Member(path=m.path, sha256=m.sha256, size=m.size) for m in found]
    if artifact.type == "Model":
        try:
            files = package_files(blobs, artifact.sha256, label=label)
            return [_Member(path=f.path, sha256=f.sha256, size=f.size) for f in files]
        except LoopmlError:
            pass  # a model stored as one file
    return [_Member(path=artifact.name, sha256=artifact.sha256, size=artifact.size)]


def _preview(blobs: BlobStore, member: _Member, *, label: str) -> Preview:
    """Read the beginning of ``member`` (verified when read to its end) and preview it."""
    if member.is_reference:
        return Preview(
            kind="too_large", note="Registered by reference: its bytes live elsewhere, not read here."
        )
    limit = MAX_PARQUET_BYTES if needs_whole_file(member.path) else PREVIEW_BYTES
    with blobs.open(member.sha256, label=f"{label} file {member.path}", size=member.size) as reader:
        data = reader.read(limit + 1)
    size = member.size if member.size is not None else len(data)
    return preview_file(member.path, data[:limit], size=size)


@router.get("/artifacts/{artifact_id}")
def artifact_page(
    request: Request, artifact_id: str, store: StoreDep, blobs: Blobs, path: Text = None
) -> HTMLResponse:
    """An artifact: facts, properties, its files and a preview of one (``path``, else the only one)."""
    artifact = _visible_artifact(request, store, artifact_id)
    label = f"{artifact.type} {artifact.name}"
    members: list[_Member] = []
    preview, error = None, None
    try:
        members = _members(store, blobs, artifact)
        chosen = next((m for m in members if m.path == path), members[0] if len(members) == 1 else None)
        if chosen is not None:
            preview = _preview(blobs, chosen, label=label)
    except LoopmlError as err:
        error, chosen = str(err), None
    return page(
        request,
        "artifact.html",
        a=artifact,
        members=members[:1000],
        total_members=len(members),
        chosen=chosen,
        preview=preview,
        error=error,
        registered_dataset=artifact.type == "Dataset" and is_registered(artifact),
    )


@router.get("/evaluations/{artifact_id}")
def evaluation_page(
    request: Request,
    artifact_id: str,
    store: StoreDep,
    blobs: Blobs,
    metric: Annotated[list[str], Query(max_length=200)] = [],  # noqa: B006
    spec: Text = None,
) -> HTMLResponse:
    """Metrics by slice with their intervals, the thresholds checked and the blessing."""
    artifact = _visible_artifact(request, store, artifact_id)
    result = load_evaluation(blobs, artifact)
    return page(
        request,
        "evaluation.html",
        a=artifact,
        result=result,
        view=evaluation_view(result, metrics=metric, spec=spec or None),
        spec=spec or "",
        blessings=_blessings_beside(request, store, artifact),
    )


@router.get("/evaluations/{artifact_id}/evaluation.json")
def evaluation_data(request: Request, artifact_id: str, store: StoreDep, blobs: Blobs) -> JSONResponse:
    """The evaluation the page shows, as JSON (the tables' data)."""
    return JSONResponse(load_evaluation(blobs, _visible_artifact(request, store, artifact_id)).to_dict())


def _blessings_beside(request: Request, store: Any, evaluation: Artifact) -> list[Artifact]:
    """Blessing artifacts written by the execution that wrote ``evaluation`` (the gate's verdict)."""
    visible = visibility_of(request)
    found = []
    for event in store.lineage.list_events(artifact_id=evaluation.artifact_id):
        if event.type is not EventType.OUTPUT:
            continue
        for sibling in visible.visible_events(
            store.lineage.list_events(execution_id=event.execution_id), store=store
        ):
            if sibling.type is EventType.OUTPUT and sibling.artifact_id != evaluation.artifact_id:
                other = store.artifacts.get(sibling.artifact_id)
                if other.type == "Blessing":
                    found.append(other)
    return found
