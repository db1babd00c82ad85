"""Experiments: create, get (by id or name), get-or-create, list, rename, tag, delete, restore."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from loopml.security.auth import ResourceKind
from loopml.server._deps import StoreDep
from loopml.server._visibility import visibility_of
from loopml.server.schemas.common import Id, Key
from loopml.server.schemas.tracking import (
    ExperimentCreate,
    ExperimentList,
    ExperimentName,
    ExperimentOut,
    TagSet,
)
from loopml.web.json_body import SafeRoute

__all__ = ["router"]

router = APIRouter(prefix="/experiments", tags=["experiments"], route_class=SafeRoute)


@router.post("", status_code=201)
def create_experiment(body: ExperimentCreate, store: StoreDep) -> ExperimentOut:
    return ExperimentOut.of(store.experiments.create(body.name, tags=body.tags))


@router.post("/get-or-create")
def get_or_create_experiment(body: ExperimentName, store: StoreDep) -> ExperimentOut:
    return ExperimentOut.of(store.experiments.get_or_create(body.name))


@router.get("")
def list_experiments(request: Request, store: StoreDep, include_deleted: bool = False) -> ExperimentList:
    """Experiments the caller may see (restricted ones need a grant)."""
    visible = visibility_of(request)
    found = store.experiments.list(include_deleted=include_deleted)
    shown = [e for e in found if visible.shows(ResourceKind.EXPERIMENT, e.experiment_id)]
    return ExperimentList(experiments=[ExperimentOut.of(e) for e in shown])


@router.get("/by-name/{name}")
def get_experiment_by_name(name: Key, store: StoreDep) -> ExperimentOut:
    return ExperimentOut.of(store.experiments.get_by_name(name))


@router.get("/{experiment_id}")
def get_experiment(experiment_id: Id, store: StoreDep) -> ExperimentOut:
    return ExperimentOut.of(store.experiments.get(experiment_id))


@router.patch("/{experiment_id}")
def rename_experiment(experiment_id: Id, body: ExperimentName, store: StoreDep) -> ExperimentOut:
    """Give the experiment a new name (409 when another experiment, deleted or not, has it)."""
    return ExperimentOut.of(store.experiments.rename(experiment_id, body.name))


@router.put("/{experiment_id}/tags", status_code=204)
def set_experiment_tag(experiment_id: Id, body: TagSet, store: StoreDep) -> Response:
    store.experiments.set_tag(experiment_id, body.key, body.value)
    return Response(status_code=204)


@router.delete("/{experiment_id}", status_code=204)
def delete_experiment(experiment_id: Id, store: StoreDep) -> Response:
    """Soft-delete: the experiment stays readable, with ``lifecycle_stage: deleted``, until restored."""
    store.experiments.delete(experiment_id)
    return Response(status_code=204)


@router.post("/{experiment_id}/restore", status_code=204)
def restore_experiment(experiment_id: Id, store: StoreDep) -> Response:
    store.experiments.restore(experiment_id)
    return Response(status_code=204)
