"""Models: registered models, versions, aliases with history; each version's card; candidate vs champion."""

from __future__ import annotations

from typing import Annotated, Any, cast

import yaml
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from loopml.analysis import load_evaluation
from loopml.artifacts import BlobStore
from loopml.errors import LoopmlError
from loopml.security.auth import ResourceKind
from loopml.server._deps import Blobs, StoreDep
from loopml.server._model_files import package_file, package_files
from loopml.server._visibility import visibility_of
from loopml.server.ui._render import page
from loopml.server.ui._session import UI_PREFIX
from loopml.store.entities import EventType, ModelVersion
from loopml.tracking.lineage import LineageNode, walk
from loopml.ui import side_by_side

__all__ = ["router"]

router = APIRouter(prefix=f"{UI_PREFIX}/models", include_in_schema=False)
CHAMPION = "champion"


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
    """The model card of a version: package, signature, scan, training lineage, evaluation, champion."""
    repo = _models(store)
    found: ModelVersion = repo.get_version(model_name, version)
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
        upstream=_upstream(request, store, found),
        champion=_alias_version(repo, model_name, CHAMPION),
    )


@router.get("/{model_name}/compare")
def compare_versions(
    request: Request,
    model_name: str,
    store: StoreDep,
    blobs: Blobs,
    candidate: Annotated[int | None, Query(ge=1)] = None,
    champion: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """Two versions side by side (default: the latest against the champion): facts and overall metrics."""
    repo = _models(store)
    versions = repo.list_versions(model_name)
    latest = max((v.version for v in versions), default=1)
    right = champion or _alias_version(repo, model_name, CHAMPION) or latest
    sides = [repo.get_version(model_name, n) for n in (candidate or latest, right)]
    cards = [_card(request, store, blobs, v) for v in sides]
    return page(
        request,
        "model_compare.html",
        model_name=model_name,
        sides=list(zip(sides, cards, strict=True)),
        metrics=side_by_side(cards[0]["overall"], cards[1]["overall"]),
        versions=[v.version for v in versions],
    )


def _alias_version(repo: Any, model_name: str, alias: str) -> int | None:
    return next((a.version for a in repo.list_aliases(model_name) if a.alias == alias), None)


def _card(request: Request, store: Any, blobs: BlobStore, version: ModelVersion) -> dict[str, Any]:
    """What one side of a comparison shows: its verdict, overall metrics and signature."""
    blessing = _blessing(request, store, version)
    overall: dict[str, float | None] = {}
    for evaluation in (blessing or {}).get("evaluations", [])[:1]:
        try:
            result = load_evaluation(blobs, evaluation)
            overall = {k: m.value for k, m in result.overall.metrics.items()}
        except LoopmlError:
            overall = {str(k): v for k, v in (evaluation.properties.get("overall") or {}).items()}
    label = f"models:/{version.name}/{version.version}"
    signature = _model_yaml(blobs, version.manifest_sha256, label).get("signature") or {}
    return {"blessing": blessing, "overall": overall, "signature": signature}


def _upstream(request: Request, store: Any, version: ModelVersion) -> list[LineageNode]:
    """What the version's model artifact was made from (runs, executions, data), nearest first."""
    if version.artifact_id is None:
        return []
    try:
        graph = walk(
            store, version.artifact_id, direction="upstream", depth=4, visible=visibility_of(request)
        )
    except LoopmlError:
        return []
    return [n for n in graph.nodes if n.id != graph.root][:50]


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
