"""Models: registered models, their versions, aliases with history, signature, scan and blessing."""

from __future__ import annotations

from typing import Any, cast

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from loopml.artifacts import BlobStore
from loopml.errors import LoopmlError
from loopml.security.auth import ResourceKind
from loopml.server._deps import Blobs, StoreDep
from loopml.server._model_files import package_file, package_files
from loopml.server._visibility import visibility_of
from loopml.server.ui._render import page
from loopml.server.ui._session import UI_PREFIX
from loopml.store.entities import EventType, ModelVersion

__all__ = ["router"]

router = APIRouter(prefix=f"{UI_PREFIX}/models", include_in_schema=False)


def _models(store: Any) -> Any:
    return store.models  # the SQL store provides `models` (a RegistryStore)


@router.get("")
def models(request: Request, store: StoreDep) -> HTMLResponse:
    visible = visibility_of(request)
    found = _models(store).search_models(max_results=1000).items
    shown = [m for m in found if visible.shows(ResourceKind.MODEL, m.name)]
    return page(request, "models.html", models=shown)


@router.get("/{model_name}")
def model_page(request: Request, model_name: str, store: StoreDep) -> HTMLResponse:
    repo = _models(store)
    model = repo.get_model(model_name)
    return page(
        request,
        "model.html",
        model=model,
        versions=repo.list_versions(model_name),
        aliases=repo.list_aliases(model_name),
        history=repo.alias_history(model_name)[-100:],
    )


@router.get("/{model_name}/versions/{version}")
def version_page(
    request: Request, model_name: str, version: int, store: StoreDep, blobs: Blobs
) -> HTMLResponse:
    found: ModelVersion = _models(store).get_version(model_name, version)
    label = f"models:/{model_name}/{version}"
    files, files_error = [], None
    try:
        files = package_files(blobs, found.manifest_sha256, label=label)
    except LoopmlError as err:
        files_error = str(err)
    return page(
        request,
        "model_version.html",
        v=found,
        files=files,
        files_error=files_error,
        model_yaml=_model_yaml(blobs, found.manifest_sha256, label),
        blessing=_blessing(request, store, found),
    )


def _model_yaml(blobs: BlobStore, index_sha256: str, label: str) -> dict[str, Any]:
    """The package's ``model.yaml`` (signature, flavor, requirements), empty when it cannot be read."""
    try:
        entry = package_file(blobs, index_sha256, "model.yaml", label=label)
        doc = yaml.safe_load(blobs.read_bytes(entry.sha256, label=f"{label}: model.yaml", size=entry.size))
    except (LoopmlError, yaml.YAMLError):
        return {}
    return cast(dict[str, Any], doc) if isinstance(doc, dict) else {}


def _blessing(request: Request, store: Any, version: ModelVersion) -> dict[str, Any] | None:
    """The blessing's verdict and the evaluation written beside it (overall metrics), if visible."""
    if version.blessing_artifact_id is None:
        return None
    visible = visibility_of(request)
    try:
        blessing = store.artifacts.get(version.blessing_artifact_id)
    except LoopmlError:
        return None
    if not visible.shows_artifact(blessing):
        return None
    evaluations = []
    for event in store.lineage.list_events(artifact_id=blessing.artifact_id):
        if event.type is not EventType.OUTPUT:
            continue
        for sibling in visible.visible_events(
            store.lineage.list_events(execution_id=event.execution_id), store=store
        ):
            if sibling.type is EventType.OUTPUT and sibling.artifact_id != blessing.artifact_id:
                art = store.artifacts.get(sibling.artifact_id)
                if art.type == "Evaluation":
                    evaluations.append(art)
    return {"artifact": blessing, "properties": dict(blessing.properties), "evaluations": evaluations}
