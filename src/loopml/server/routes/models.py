"""Registered models (read-only): search, one model, its versions and its alias audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from loopml.registry.service import ModelRegistry
from loopml.server._deps import Blobs, StoreDep
from loopml.server._json_body import SafeRoute
from loopml.server.schemas.common import Name
from loopml.server.schemas.models import (
    AliasEventList,
    AliasEventOut,
    ModelList,
    ModelOut,
    ModelVersionList,
    ModelVersionOut,
)

__all__ = ["router"]

router = APIRouter(prefix="/models", tags=["models"], route_class=SafeRoute)


def _registry(store: StoreDep, blobs: Blobs) -> ModelRegistry:
    registry_store: Any = store  # the SQL store provides `models`
    return ModelRegistry(registry_store, blobs)


Registry = Annotated[ModelRegistry, Depends(_registry)]


@router.get("")
def search_models(registry: Registry, name_like: Name | None = None, tag: Name | None = None) -> ModelList:
    return ModelList(models=[ModelOut.of(m) for m in registry.search(name_like=name_like, tag=tag)])


@router.get("/{name}")
def get_model(name: Name, registry: Registry) -> ModelOut:
    return ModelOut.of(registry.get_model(name))


@router.get("/{name}/versions")
def list_model_versions(name: Name, registry: Registry) -> ModelVersionList:
    return ModelVersionList(versions=[ModelVersionOut.of(v) for v in registry.versions(name)])


@router.get("/{name}/alias-history")
def get_alias_history(name: Name, registry: Registry, alias: Name | None = None) -> AliasEventList:
    return AliasEventList(events=[AliasEventOut.of(e) for e in registry.alias_history(name, alias)])
