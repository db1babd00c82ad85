"""Lineage: executions, events, contexts and the lineage walk.

The execution-id routes are authorised through the execution's run by the security layer. What
the caller may not see (artifacts and executions of restricted resources it holds no grant on)
is left out of events, contexts and the walk, and cannot be linked: a hidden artifact or
execution answers 404 as a missing one (:mod:`loopml.server._visibility` decides).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from loopml.server._deps import StoreDep
from loopml.server._visibility import visibility_of
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
from loopml.store import missing_records
from loopml.store.entities import EventType, ExecutionState
from loopml.tracking.lineage import walk
from loopml.web.json_body import SafeRoute

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
def find_cached_execution(cache_key: Name, request: Request, store: StoreDep) -> ExecutionFound:
    found = store.lineage.find_cached_execution(cache_key)
    if found is not None and not visibility_of(request).shows_execution(found):
        found = None  # an execution of a hidden run does not exist for this caller
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
def add_events(execution_id: Id, body: EventsAdd, request: Request, store: StoreDep) -> EventList:
    """Link artifacts into an execution; an artifact the caller may not see answers 404, as a missing one."""
    unseen = visibility_of(request).unseen_artifacts([e.artifact_id for e in body.events], store=store)
    if unseen:
        store.lineage.get_execution(execution_id)  # an unknown execution is reported first, as the store does
        raise missing_records("artifact", unseen)
    triples = [(e.artifact_id, EventType(e.type), e.role) for e in body.events]
    return EventList(events=[EventOut.of(e) for e in store.lineage.add_events(execution_id, triples)])


@router.get("/events")
def list_events(
    request: Request, store: StoreDep, execution_id: Id | None = None, artifact_id: Id | None = None
) -> EventList:
    found = store.lineage.list_events(execution_id=execution_id, artifact_id=artifact_id)
    shown = visibility_of(request).visible_events(found, store=store)
    return EventList(events=[EventOut.of(e) for e in shown])


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
def attach(context_id: Id, body: AttachRequest, request: Request, store: StoreDep) -> Response:
    """Attach executions and artifacts; one the caller may not see answers 404, as a missing one."""
    visible = visibility_of(request)
    for what, unseen in (
        ("execution", visible.unseen_executions(body.execution_ids, store=store)),
        ("artifact", visible.unseen_artifacts(body.artifact_ids, store=store)),
    ):
        if unseen:
            store.lineage.get_context(context_id)  # an unknown context is reported first, as the store does
            raise missing_records(what, unseen)
    store.lineage.attach(context_id, execution_ids=body.execution_ids, artifact_ids=body.artifact_ids)
    return Response(status_code=204)


@router.get("/contexts/{context_id}/executions")
def list_context_executions(context_id: Id, request: Request, store: StoreDep) -> ExecutionList:
    visible = visibility_of(request)
    found = [e for e in store.lineage.list_context_executions(context_id) if visible.shows_execution(e)]
    return ExecutionList(executions=[ExecutionOut.of(e) for e in found])


@router.get("/contexts/{context_id}/artifacts")
def list_context_artifacts(context_id: Id, request: Request, store: StoreDep) -> ArtifactPage:
    visible = visibility_of(request)
    found = [a for a in store.lineage.list_context_artifacts(context_id) if visible.shows_artifact(a)]
    return ArtifactPage(artifacts=[ArtifactOut.of(a) for a in found])


@router.get("/lineage/{node_id}")
def walk_lineage(
    node_id: Id,
    request: Request,
    store: StoreDep,
    direction: Literal["upstream", "downstream", "both"] = "upstream",
    depth: Annotated[int, Query(ge=1, le=50)] = 3,
) -> LineageGraphOut:
    """The lineage reached from a node, through what the caller may see (a hidden start answers 404)."""
    graph = walk(store, node_id, direction=direction, depth=depth, visible=visibility_of(request))
    return LineageGraphOut.of(graph)
