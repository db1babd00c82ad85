"""Lineage (upstream and downstream of any artifact, execution or run) and pipeline runs with their DAG."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from loopml.pipeline import get_pipeline_run, list_pipeline_runs
from loopml.server._deps import StoreDep
from loopml.server._visibility import visibility_of
from loopml.server.ui._render import page
from loopml.server.ui._session import UI_PREFIX
from loopml.tracking.lineage import walk
from loopml.ui import layout_graph

__all__ = ["router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)


@router.get("/lineage/{node_id}")
def lineage(
    request: Request,
    node_id: str,
    store: StoreDep,
    direction: Literal["upstream", "downstream", "both"] = "both",
    depth: Annotated[int, Query(ge=1, le=20)] = 3,
) -> HTMLResponse:
    """The lineage graph through what the caller may see (a hidden start is a 404, as in the API)."""
    graph = walk(store, node_id, direction=direction, depth=depth, visible=visibility_of(request))
    layout = layout_graph(
        [
            (
                n.id,
                n.label,
                n.kind.value + (" focus" if n.id == graph.root else ""),
                f"{UI_PREFIX}/lineage/{n.id}",
                n.type,
            )
            for n in graph.nodes
        ],
        [(e.source, e.target, e.role) for e in graph.edges],
    )
    return page(
        request, "lineage.html", graph=graph, layout=layout, direction=direction, depth=depth, node_id=node_id
    )


@router.get("/pipelines")
def pipelines(request: Request, store: StoreDep) -> HTMLResponse:
    return page(request, "pipelines.html", runs=list_pipeline_runs(store)[:500])


@router.get("/pipelines/{pipeline_run}")
def pipeline_run(request: Request, pipeline_run: str, store: StoreDep) -> HTMLResponse:
    """One run's steps as a DAG: state, cache hit and duration per step (steps of hidden runs left out)."""
    detail = get_pipeline_run(store, pipeline_run)
    ids = [s.execution_id for s in detail.steps if s.execution_id]
    unseen = set(visibility_of(request).unseen_executions(ids, store=store))
    steps = [s for s in detail.steps if s.execution_id not in unseen]
    layout = layout_graph(
        [
            (
                s.name,
                s.name,
                s.state.lower(),
                f"{UI_PREFIX}/lineage/{s.execution_id}" if s.execution_id else None,
                f"{s.state}" + (f" · {s.duration_s:.1f} s" if s.duration_s is not None else ""),
            )
            for s in steps
        ],
        [(up, s.name, "") for s in steps for up in s.upstream],
    )
    return page(request, "pipeline_run.html", detail=detail, steps=steps, layout=layout)
