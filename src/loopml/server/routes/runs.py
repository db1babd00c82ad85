"""Runs: create, get, status, batched logging, metric history, reproducibility, delete, search."""

from __future__ import annotations

from fastapi import APIRouter, Response

from loopml.server._deps import Config, StoreDep
from loopml.server._responses import json_data_response, json_response
from loopml.server.schemas.common import Id, RecordKey, from_wire_float
from loopml.server.schemas.tracking import (
    LogBatch,
    MetricHistory,
    MetricWire,
    ReproducibilitySet,
    RunCreate,
    RunOut,
    RunPage,
    RunSearch,
    RunStatusUpdate,
)
from loopml.store.entities import Metric, RunStatus
from loopml.web.errors import RequestRejected
from loopml.web.json_body import SafeRoute

__all__ = ["router"]

router = APIRouter(prefix="/runs", tags=["runs"], route_class=SafeRoute)


@router.post("", status_code=201)
def create_run(body: RunCreate, store: StoreDep) -> RunOut:
    run = store.runs.create(
        body.experiment_id,
        name=body.name,
        parent_run_id=body.parent_run_id,
        start_time=body.start_time,
        tags=body.tags,
    )
    return RunOut.of(run)


@router.post("/search", response_model=RunPage)
def search_runs(body: RunSearch, store: StoreDep) -> Response:
    page = store.runs.search(
        body.experiment_ids,
        filter=body.filter,
        order_by=body.order_by,
        max_results=body.max_results,
        page_token=body.page_token,
        include_deleted=body.include_deleted,
    )
    return json_data_response(RunPage.wire(page))


@router.get("/{run_id}")
def get_run(run_id: Id, store: StoreDep) -> RunOut:
    return RunOut.of(store.runs.get(run_id))


@router.post("/{run_id}/status")
def set_run_status(run_id: Id, body: RunStatusUpdate, store: StoreDep) -> RunOut:
    run = store.runs.set_status(run_id, RunStatus(body.status), end_time=body.end_time, error=body.error)
    return RunOut.of(run)


@router.post("/{run_id}/log-batch", status_code=204)
def log_batch(run_id: Id, body: LogBatch, store: StoreDep, config: Config) -> Response:
    sizes = {"metrics": len(body.metrics), "params": len(body.params or {}), "tags": len(body.tags or {})}
    for what, size in sizes.items():
        if size > config.max_batch_items:
            raise RequestRejected(
                400,
                "batch_too_large",
                f"The batch has {size} {what}; the limit is {config.max_batch_items} per request. Split it.",
            )
    metrics = [
        Metric(key=m.key, value=from_wire_float(m.value), step=m.step, timestamp=m.timestamp)
        for m in body.metrics
    ]
    store.runs.log_batch(run_id, metrics=metrics, params=body.params, tags=body.tags)
    return Response(status_code=204)


@router.get("/{run_id}/metric-history", response_model=MetricHistory)
def get_metric_history(run_id: Id, key: RecordKey, store: StoreDep) -> Response:
    history = store.runs.get_metric_history(run_id, key)
    return json_response(MetricHistory(metrics=[MetricWire.of(p) for p in history]))


@router.put("/{run_id}/reproducibility", status_code=204)
def set_reproducibility(run_id: Id, body: ReproducibilitySet, store: StoreDep) -> Response:
    store.runs.set_reproducibility(run_id, body.record)
    return Response(status_code=204)


@router.delete("/{run_id}/tags/{key:path}", status_code=204)
def delete_run_tag(run_id: Id, key: RecordKey, store: StoreDep) -> Response:
    """Remove a tag of a RUNNING run (404 when the run has no such tag)."""
    store.runs.delete_tag(run_id, key)
    return Response(status_code=204)


@router.delete("/{run_id}", status_code=204)
def delete_run(run_id: Id, store: StoreDep) -> Response:
    """Soft-delete: the run stays readable, with ``lifecycle_stage: deleted``, until restored."""
    store.runs.delete(run_id)
    return Response(status_code=204)


@router.post("/{run_id}/restore", status_code=204)
def restore_run(run_id: Id, store: StoreDep) -> Response:
    store.runs.restore(run_id)
    return Response(status_code=204)
