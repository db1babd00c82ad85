"""MLflow registry routes (``/registered-models/*``, ``/model-versions/*``) over loopml's registry.

Versions registered here are MLflow model folders of a run, stored as loopml packages of flavor
``mlflow``: every file scanned with the verdict recorded, unsigned, so loopml's promotion policy
decides which aliases they may take. ``models:/NAME@ALIAS`` resolves the same way for both clients.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from loopml.errors import InvalidInput, InvalidState, NotFound
from loopml.registry import ModelRegistry
from loopml.security.auth import ResourceKind
from loopml.server._deps import StoreDep
from loopml.server._security import principal_of
from loopml.server._visibility import visibility_of
from loopml.server.mlflow.access import VERSIONS_SEGMENT
from loopml.server.mlflow.errors import MlflowRoute
from loopml.server.mlflow.model_sources import fetch_model_folder, resolve_source
from loopml.server.mlflow.paging import offset_of, token_of
from loopml.server.mlflow.registry_wire import (
    MLFLOW_FLAVOR,
    SOURCE_PROPERTY,
    model_filter,
    model_version_json,
    registered_model_json,
    sort_by,
    version_filter,
)
from loopml.server.mlflow.stages import ARCHIVED, PRODUCTION, STAGE_TAG, canonical_stage, stage_of
from loopml.server.mlflow.wire import Body, KeyValue
from loopml.services import Services
from loopml.store.entities import ModelVersion, ModelVersionStatus

#: The loopml alias whose promotion policy a transition to ``Production`` must pass.
PRODUCTION_STAGE_ALIAS = "production"

__all__ = ["Registry", "router"]

router = APIRouter(prefix="/api/2.0/mlflow", tags=["mlflow"], route_class=MlflowRoute)
Empty = dict[str, Any]
Name = Annotated[str, Query(max_length=256)]
Text = Annotated[str, Query(max_length=64)]


def _registry(request: Request) -> ModelRegistry:
    services: Services = request.app.state.services
    return services.registry


Registry = Annotated[ModelRegistry, Depends(_registry)]


def _version(text: str | int) -> int:
    try:
        number = int(text)
    except ValueError as err:
        raise InvalidInput(f"A model version is a number >= 1; got {text!r:.40}.") from err
    if number < 1:
        raise InvalidInput(f"A model version is a number >= 1; got {number}.")
    return number


#: MLflow's largest pages: registered models, model versions.
MAX_MODELS_PER_PAGE = 1_000
MAX_VERSIONS_PER_PAGE = 200_000


def _page(
    items: list[Any], max_results: int, page_token: str | None, *, limit: int
) -> tuple[list[Any], str | None]:
    if not 1 <= max_results <= limit:
        raise InvalidInput(f"max_results must be in 1..{limit}; got {max_results}.")
    start = offset_of(page_token)
    end = start + max_results
    return items[start:end], token_of(end) if end < len(items) else None


def _model_json(registry: ModelRegistry, name: str) -> Empty:
    model = registry.get_model(name)
    latest = registry.store.models.find_latest_version(name)
    return registered_model_json(model, [latest] if latest else [])


# --- registered models ---


class CreateModel(Body):
    name: str
    tags: list[KeyValue] = []
    description: str | None = None


class UpdateModel(Body):
    name: str
    description: str | None = None


class ModelTag(Body):
    name: str
    key: str
    value: str = ""


class SetAlias(Body):
    name: str
    alias: str
    version: str


class LatestVersions(Body):
    name: str
    stages: list[str] = []


@router.post("/registered-models/create")
def create_registered_model(body: CreateModel, request: Request, registry: Registry) -> Empty:
    registry.store.models.create_model(
        body.name,
        description=body.description,
        tags={t.key: t.value or "" for t in body.tags},
        created_by=principal_of(request).name,
    )
    return {"registered_model": _model_json(registry, body.name)}


@router.get("/registered-models/get")
def get_registered_model(name: Name, registry: Registry) -> Empty:
    return {"registered_model": _model_json(registry, name)}


@router.get("/registered-models/search")
def search_registered_models(
    request: Request,
    registry: Registry,
    filter: Annotated[str | None, Query(max_length=4_000)] = None,
    max_results: Annotated[int, Query()] = 100,
    order_by: Annotated[list[str] | None, Query()] = None,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> Empty:
    keep, visible = model_filter(filter), visibility_of(request)
    found = [m for m in registry.search() if keep(m) and visible.shows(ResourceKind.MODEL, m.name)]
    ordered = sort_by(found, order_by or [], default=["name"])
    page, token = _page(ordered, max_results, page_token, limit=MAX_MODELS_PER_PAGE)
    out: Empty = {"registered_models": [_model_json(registry, m.name) for m in page]}
    if token:
        out["next_page_token"] = token
    return out


@router.patch("/registered-models/update")
def update_registered_model(body: UpdateModel, registry: Registry) -> Empty:
    registry.store.models.update_model(body.name, description=body.description or "")
    return {"registered_model": _model_json(registry, body.name)}


@router.post("/registered-models/set-tag")
def set_registered_model_tag(body: ModelTag, registry: Registry) -> Empty:
    registry.store.models.update_model(body.name, tags={body.key: body.value})
    return {}


class RenameModel(Body):
    name: str
    new_name: str


class ModelRef(Body):
    name: str


class ModelTagRef(Body):
    name: str
    key: str


@router.post("/registered-models/rename")
def rename_registered_model(body: RenameModel, registry: Registry) -> Empty:
    registry.store.models.rename_model(body.name, body.new_name)
    return {"registered_model": _model_json(registry, body.new_name)}


@router.delete("/registered-models/delete")
def delete_registered_model(body: ModelRef, registry: Registry) -> Empty:
    """Only a model without versions can go: loopml keeps versions for lineage (archive them)."""
    registry.store.models.delete_model(body.name)
    return {}


@router.delete("/registered-models/delete-tag")
def delete_registered_model_tag(body: ModelTagRef, registry: Registry) -> Empty:
    registry.store.models.delete_tag(body.name, body.key)
    return {}


@router.post("/registered-models/get-latest-versions")
def get_latest_versions(body: LatestVersions, registry: Registry) -> Empty:
    """The newest version in each asked stage (every stage when none is asked), see :mod:`.stages`."""
    versions = registry.versions(body.name)
    stages = {canonical_stage(s) for s in body.stages}
    latest: dict[str, ModelVersion] = {}
    for version in sorted(versions, key=lambda v: v.version):
        stage = stage_of(version)
        if not stages or stage in stages:
            latest[stage] = version
    return {"model_versions": [model_version_json(v) for v in latest.values()]}


@router.post("/registered-models/alias")
def set_registered_model_alias(body: SetAlias, request: Request, registry: Registry) -> Empty:
    registry.set_alias(body.name, body.alias, _version(body.version), actor=principal_of(request).name)
    return {}


class AliasRef(Body):
    name: str
    alias: str


@router.delete("/registered-models/alias")
def delete_registered_model_alias(body: AliasRef, request: Request, registry: Registry) -> Empty:
    registry.delete_alias(body.name, body.alias, actor=principal_of(request).name)
    return {}


@router.get("/registered-models/alias")
def get_model_version_by_alias(name: Name, alias: Text, registry: Registry) -> Empty:
    return {"model_version": model_version_json(registry.resolve(f"models:/{name}@{alias}"))}


# --- model versions ---


class CreateVersion(Body):
    name: str
    source: str
    run_id: str | None = None
    tags: list[KeyValue] = []
    description: str | None = None
    model_id: str | None = None


class VersionRef(Body):
    name: str
    version: str


class UpdateVersion(VersionRef):
    description: str | None = None


class VersionTag(VersionRef):
    key: str
    value: str = ""


@router.post("/model-versions/create")
def create_model_version(body: CreateVersion, request: Request, store: StoreDep, registry: Registry) -> Empty:
    registry.get_model(body.name)  # MLflow registers versions of existing models only
    source = resolve_source(store, body.source, model_id=body.model_id)
    if body.run_id and body.run_id != source.run_id:
        raise InvalidInput(
            f"The source {body.source!r:.200} belongs to run {source.run_id}, not {body.run_id}."
        )
    if not visibility_of(request).shows_run(source.run_id):
        raise NotFound(f"No run {source.run_id!r}; `mlflow.search_runs()` lists the runs you can see.")
    for tag in body.tags:
        _not_stage_tag(tag.key)
    with tempfile.TemporaryDirectory(prefix="loopml-mlflow-model-") as folder:
        version = registry.register_foreign(
            fetch_model_folder(store, registry.blobs, source, Path(folder) / "model"),
            body.name,
            flavor=MLFLOW_FLAVOR,
            run_id=source.run_id,
            description=body.description,
            tags={t.key: t.value or "" for t in body.tags},
            properties={SOURCE_PROPERTY: source.uri},
            actor=principal_of(request).name,
        )
    return {"model_version": model_version_json(version)}


@router.get("/model-versions/get")
def get_model_version(name: Name, version: Text, registry: Registry) -> Empty:
    return {"model_version": model_version_json(registry.store.models.get_version(name, _version(version)))}


@router.patch("/model-versions/update")
def update_model_version(body: UpdateVersion, registry: Registry) -> Empty:
    updated = registry.store.models.update_version(
        body.name, _version(body.version), description=body.description
    )
    return {"model_version": model_version_json(updated)}


@router.delete("/model-versions/delete")
def delete_model_version(body: VersionRef, request: Request, registry: Registry) -> Empty:
    """loopml keeps versions for lineage: deleting one archives it and removes its aliases (audited)."""
    registry.archive(body.name, _version(body.version), actor=principal_of(request).name, force=True)
    return {}


class TransitionStage(VersionRef):
    stage: str
    archive_existing_versions: bool = False


@router.post("/model-versions/transition-stage")
def transition_model_version_stage(body: TransitionStage, request: Request, registry: Registry) -> Empty:
    """Move a version to a legacy stage; ``Production`` must pass the ``production`` alias's policy.

    The caller needs ``aliases.production`` for ``Production`` (the security layer reads the
    stage like an alias name). ``archive_existing_versions`` moves the model's other versions in
    that stage to ``Archived``.
    """
    stage = canonical_stage(body.stage)
    number = _version(body.version)
    target = registry.store.models.get_version(body.name, number)
    if target.status is ModelVersionStatus.ARCHIVED:
        raise InvalidState(
            f"models:/{body.name}/{number} is archived in loopml and stays in stage {ARCHIVED}; "
            "register the model again to get a new version."
        )
    if stage == PRODUCTION:
        registry.check_promotion(target, PRODUCTION_STAGE_ALIAS, actor=principal_of(request).name)
    if body.archive_existing_versions and stage != ARCHIVED:
        for other in registry.versions(body.name):
            if other.version != number and stage_of(other) == stage:
                registry.store.models.update_version(body.name, other.version, tags={STAGE_TAG: ARCHIVED})
    moved = registry.store.models.update_version(body.name, number, tags={STAGE_TAG: stage})
    return {"model_version": model_version_json(moved)}


def _not_stage_tag(key: str) -> None:
    if key == STAGE_TAG:
        raise InvalidInput(
            f"The tag {STAGE_TAG!r} holds the version's stage; change it with "
            "`MlflowClient().transition_model_version_stage(name, version, stage)`."
        )


@router.post("/model-versions/set-tag")
def set_model_version_tag(body: VersionTag, registry: Registry) -> Empty:
    _not_stage_tag(body.key)
    registry.store.models.update_version(body.name, _version(body.version), tags={body.key: body.value})
    return {}


class VersionTagRef(VersionRef):
    key: str


@router.delete("/model-versions/delete-tag")
def delete_model_version_tag(body: VersionTagRef, registry: Registry) -> Empty:
    _not_stage_tag(body.key)
    registry.store.models.delete_tag(body.name, body.key, version=_version(body.version))
    return {}


@router.get("/model-versions/get-download-uri")
def get_model_version_download_uri(name: Name, version: Text, registry: Registry) -> Empty:
    """The registered files themselves (``mlflow-artifacts:/registered-models/...``), never the run's."""
    found = registry.store.models.get_version(name, _version(version))
    if found.flavor != MLFLOW_FLAVOR:
        raise InvalidState(
            f"models:/{name}/{found.version} is a loopml package (flavor {found.flavor!r}), not an MLflow "
            f"model; fetch it with `loopml models download models:/{name}/{found.version} --out DIR`."
        )
    folder = f"{VERSIONS_SEGMENT}/{quote(name, safe='')}/versions/{found.version}"
    return {"artifact_uri": f"mlflow-artifacts:/{folder}"}


@router.get("/model-versions/search")
def search_model_versions(
    request: Request,
    registry: Registry,
    filter: Annotated[str | None, Query(max_length=4_000)] = None,
    max_results: Annotated[int, Query()] = 10_000,
    order_by: Annotated[list[str] | None, Query()] = None,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> Empty:
    keep, visible = version_filter(filter), visibility_of(request)
    found = [
        v
        for m in registry.search()
        if visible.shows(ResourceKind.MODEL, m.name)
        for v in registry.versions(m.name)
        if keep(v)
    ]
    ordered = sort_by(found, order_by or [], default=["name", "version_number DESC"])
    page, token = _page(ordered, max_results, page_token, limit=MAX_VERSIONS_PER_PAGE)
    out: Empty = {"model_versions": [model_version_json(v) for v in page]}
    if token:
        out["next_page_token"] = token
    return out
