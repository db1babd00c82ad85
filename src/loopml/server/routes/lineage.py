"""Lineage: executions, events, contexts and the lineage walk."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from loopml.server._deps import StoreDep
from loopml.server._json_body import SafeRoute
from loopml.server.schemas.common import Id, Name
from loopml.server.schemas.lineage import (
    ArtifactOut,
    ArtifactPage,
    AttachRequest,
    ContextCreate,
    ContextFound,
    ContextList,
    ContextOut,
    EventList,
    EventOut,
    EventsAdd,
    ExecutionCreate,
    ExecutionFinish,
    ExecutionFound,
    ExecutionList,
    ExecutionOut,
)
from loopml.server.schemas.walk import LineageGraphOut
from loopml.store.entities import EventType, ExecutionState
from loopml.tracking.lineage import walk

__all__ = ["router"]

router = APIRouter(tags=["lineage"], route_class=SafeRoute)


@router.post("/executions", status_code=201)
def create_execution(body: ExecutionCreate, store: StoreDep) -> ExecutionOut:
    exe = store.lineage.create_execution(
        type=body.type,
        name=body.name,
        run_id=body.run_id,
        params=body.params,
        properties=body.properties,
        code_version=body.code_version,
        cache_key=body.cache_key,
        state=ExecutionState(body.state),
    )
    return ExecutionOut.of(exe)


@router.get("/executions/cached")
def find_cached_execution(cache_key: Name, store: StoreDep) -> ExecutionFound:
    found = store.lineage.find_cached_execution(cache_key)
    return ExecutionFound(execution=ExecutionOut.of(found) if found else None)


@router.get("/executions/by-run/{run_id}")
def find_run_execution(run_id: Id, store: StoreDep) -> ExecutionFound:
    found = store.lineage.find_run_execution(run_id)
    return ExecutionFound(execution=ExecutionOut.of(found) if found else None)


@router.get("/executions/{execution_id}")
def get_execution(execution_id: Id, store: StoreDep) -> ExecutionOut:
    return ExecutionOut.of(store.lineage.get_execution(execution_id))


@router.post("/executions/{execution_id}/finish")
def finish_execution(execution_id: Id, body: ExecutionFinish, store: StoreDep) -> ExecutionOut:
    exe = store.lineage.finish_execution(
        execution_id, ExecutionState(body.state), error=body.error, properties=body.properties
    )
    return ExecutionOut.of(exe)


@router.post("/executions/{execution_id}/events", status_code=201)
def add_events(execution_id: Id, body: EventsAdd, store: StoreDep) -> EventList:
    triples = [(e.artifact_id, EventType(e.type), e.role) for e in body.events]
    return EventList(events=[EventOut.of(e) for e in store.lineage.add_events(execution_id, triples)])


@router.get("/events")
def list_events(store: StoreDep, execution_id: Id | None = None, artifact_id: Id | None = None) -> EventList:
    found = store.lineage.list_events(execution_id=execution_id, artifact_id=artifact_id)
    return EventList(events=[EventOut.of(e) for e in found])


@router.post("/contexts", status_code=201)
def create_context(body: ContextCreate, store: StoreDep) -> ContextOut:
    ctx = store.lineage.create_context(type=body.type, name=body.name, properties=body.properties)
    return ContextOut.of(ctx)


@router.get("/contexts")
def list_contexts(store: StoreDep, type: Name | None = None) -> ContextList:
    return ContextList(contexts=[ContextOut.of(c) for c in store.lineage.list_contexts(type=type)])


@router.get("/contexts/find")
def find_context(type: Name, name: Name, store: StoreDep) -> ContextFound:
    found = store.lineage.find_context(type, name)
    return ContextFound(context=ContextOut.of(found) if found else None)


@router.get("/contexts/{context_id}")
def get_context(context_id: Id, store: StoreDep) -> ContextOut:
    return ContextOut.of(store.lineage.get_context(context_id))


@router.post("/contexts/{context_id}/attach", status_code=204)
def attach(context_id: Id, body: AttachRequest, store: StoreDep) -> Response:
    store.lineage.attach(context_id, execution_ids=body.execution_ids, artifact_ids=body.artifact_ids)
    return Response(status_code=204)


@router.get("/contexts/{context_id}/executions")
def list_context_executions(context_id: Id, store: StoreDep) -> ExecutionList:
    found = store.lineage.list_context_executions(context_id)
    return ExecutionList(executions=[ExecutionOut.of(e) for e in found])


@router.get("/contexts/{context_id}/artifacts")
def list_context_artifacts(context_id: Id, store: StoreDep) -> ArtifactPage:
    found = store.lineage.list_context_artifacts(context_id)
    return ArtifactPage(artifacts=[ArtifactOut.of(a) for a in found])


@router.get("/lineage/{node_id}")
def walk_lineage(
    node_id: Id,
    store: StoreDep,
    direction: Literal["upstream", "downstream", "both"] = "upstream",
    depth: Annotated[int, Query(ge=1, le=50)] = 3,
) -> LineageGraphOut:
    return LineageGraphOut.of(walk(store, node_id, direction=direction, depth=depth))
