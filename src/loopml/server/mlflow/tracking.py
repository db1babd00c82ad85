"""MLflow tracking routes: experiments, runs, logging, search and metric history.

Each handler parses MLflow's request, makes one call on the store and renders MLflow's response.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request

from loopml.errors import InvalidInput
from loopml.security.auth import ResourceKind
from loopml.server._deps import StoreDep
from loopml.server._visibility import visibility_of
from loopml.server.mlflow.errors import MlflowRoute
from loopml.server.mlflow.experiment_search import parse_experiment_filter, sort_experiments
from loopml.server.mlflow.paging import offset_of, token_of
from loopml.server.mlflow.wire import (
    DATASET_INPUTS,
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    Body,
    KeyValue,
    MetricIn,
    experiment_json,
    metric_json,
    run_info_json,
    run_json,
)
from loopml.store.entities import LifecycleStage, Metric, RunStatus
from loopml.store.repositories import Store

__all__ = [
    "MAX_METRICS_PER_BATCH",
    "MAX_PARAMS_PER_BATCH",
    "MAX_TAGS_PER_BATCH",
    "experiment_id_of",
    "router",
]

router = APIRouter(prefix="/api/2.0/mlflow", tags=["mlflow"], route_class=MlflowRoute)

#: MLflow's log-batch limits.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_RESULTS_PER_PAGE = 50_000
_VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
Empty = dict[str, Any]


def experiment_id_of(store: Store, experiment_id: str) -> str:
    """MLflow's default experiment "0" is loopml's "Default" experiment (created on first use)."""
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        return store.experiments.get_or_create(DEFAULT_EXPERIMENT_NAME).experiment_id
    return experiment_id


def _view(view_type: str | None) -> str:
    view = (view_type or "ACTIVE_ONLY").upper()
    if view not in _VIEW_TYPES:
        raise InvalidInput(f"Unknown view type {view_type!r}; use one of {', '.join(_VIEW_TYPES)}.")
    return view


# --- experiments ---


class CreateExperiment(Body):
    name: str
    artifact_location: str | None = None
    tags: list[KeyValue] = []


class ExperimentRef(Body):
    experiment_id: str


class SetExperimentTag(Body):
    experiment_id: str
    key: str
    value: str


class SearchExperiments(Body):
    max_results: int = 1000
    page_token: str | None = None
    filter: str | None = None
    order_by: list[str] = []
    view_type: str | None = None


@router.post("/experiments/create")
def create_experiment(body: CreateExperiment, store: StoreDep) -> Empty:
    tags = {t.key: t.value or "" for t in body.tags}
    return {"experiment_id": store.experiments.create(body.name, tags=tags).experiment_id}


@router.get("/experiments/get")
def get_experiment(experiment_id: Annotated[str, Query(max_length=64)], store: StoreDep) -> Empty:
    return {"experiment": experiment_json(store.experiments.get(experiment_id_of(store, experiment_id)))}


@router.get("/experiments/get-by-name")
def get_experiment_by_name(
    experiment_name: Annotated[str, Query(max_length=1_000)], store: StoreDep
) -> Empty:
    return {"experiment": experiment_json(store.experiments.get_by_name(experiment_name))}


@router.post("/experiments/search")
def search_experiments(body: SearchExperiments, request: Request, store: StoreDep) -> Empty:
    if not 1 <= body.max_results <= MAX_RESULTS_PER_PAGE:
        raise InvalidInput(f"max_results must be in 1..{MAX_RESULTS_PER_PAGE}; got {body.max_results}.")
    view, keep = _view(body.view_type), parse_experiment_filter(body.filter)
    visible = visibility_of(request)
    found = [
        e
        for e in store.experiments.list(include_deleted=view != "ACTIVE_ONLY")
        if keep(e)
        and (view != "DELETED_ONLY" or e.lifecycle_stage is LifecycleStage.DELETED)
        and visible.shows(ResourceKind.EXPERIMENT, e.experiment_id)
    ]
    ordered = sort_experiments(found, body.order_by)
    start = offset_of(body.page_token)
    page = ordered[start : start + body.max_results]
    out: Empty = {"experiments": [experiment_json(e) for e in page]}
    if start + body.max_results < len(ordered):
        out["next_page_token"] = token_of(start + body.max_results)
    return out


class UpdateExperiment(Body):
    experiment_id: str
    new_name: str | None = None


@router.post("/experiments/update")
def update_experiment(body: UpdateExperiment, store: StoreDep) -> Empty:
    if body.new_name:
        store.experiments.rename(experiment_id_of(store, body.experiment_id), body.new_name)
    return {}


@router.post("/experiments/delete")
def delete_experiment(body: ExperimentRef, store: StoreDep) -> Empty:
    store.experiments.delete(body.experiment_id)
    return {}


@router.post("/experiments/restore")
def restore_experiment(body: ExperimentRef, store: StoreDep) -> Empty:
    store.experiments.restore(body.experiment_id)
    return {}


@router.post("/experiments/set-experiment-tag")
def set_experiment_tag(body: SetExperimentTag, store: StoreDep) -> Empty:
    store.experiments.set_tag(experiment_id_of(store, body.experiment_id), body.key, body.value)
    return {}


# --- runs ---


class CreateRun(Body):
    experiment_id: str = DEFAULT_EXPERIMENT_ID
    user_id: str | None = None
    run_name: str | None = None
    start_time: int | None = None
    tags: list[KeyValue] = []


class RunRef(Body):
    run_id: str | None = None
    run_uuid: str | None = None

    @property
    def id(self) -> str:
        found = self.run_id or self.run_uuid
        if not found:
            raise InvalidInput("The request names no run: send run_id.")
        return found


class UpdateRun(RunRef):
    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class LogParam(RunRef):
    key: str
    value: str


class LogMetric(RunRef, MetricIn):
    pass


class SetTag(RunRef):
    key: str
    value: str


class LogBatch(RunRef):
    metrics: list[MetricIn] = []
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class LogInputs(RunRef):
    datasets: list[dict[str, Any]] = []


class SearchRuns(Body):
    experiment_ids: list[str] = []
    filter: str | None = None
    run_view_type: str | None = None
    max_results: int = 1000
    order_by: list[str] = []
    page_token: str | None = None


def _metric(m: MetricIn) -> Metric:
    try:
        value = float(m.value)
    except ValueError as err:
        raise InvalidInput(f"The value of metric {m.key!r} must be a number; got {m.value!r:.60}.") from err
    return Metric(key=m.key, value=value, step=m.step, timestamp=m.timestamp)


@router.post("/runs/create")
def create_run(body: CreateRun, store: StoreDep) -> Empty:
    tags = {t.key: t.value or "" for t in body.tags}
    if body.user_id:
        tags.setdefault("mlflow.user", body.user_id)
    name = body.run_name or tags.get("mlflow.runName") or None
    run = store.runs.create(
        experiment_id_of(store, body.experiment_id),
        name=name,
        parent_run_id=tags.get("mlflow.parentRunId") or None,
        start_time=body.start_time,
        tags=tags,
    )
    return {"run": run_json(run)}


@router.get("/runs/get")
def get_run(run_id: Annotated[str, Query(max_length=64)], store: StoreDep) -> Empty:
    return {"run": run_json(store.runs.get(run_id))}


@router.post("/runs/update")
def update_run(body: UpdateRun, store: StoreDep) -> Empty:
    run = store.runs.get(body.id)
    if body.run_name and body.run_name != run.name:
        store.runs.log_batch(run.run_id, tags={"mlflow.runName": body.run_name})
    if body.status and body.status != run.status.value:
        if body.status not in RunStatus.__members__:
            raise InvalidInput(f"Unknown run status {body.status!r}; use one of {', '.join(RunStatus)}.")
        run = store.runs.set_status(run.run_id, RunStatus(body.status), end_time=body.end_time)
    return {"run_info": run_info_json(run)}


@router.post("/runs/delete")
def delete_run(body: RunRef, store: StoreDep) -> Empty:
    store.runs.delete(body.id)
    return {}


@router.post("/runs/restore")
def restore_run(body: RunRef, store: StoreDep) -> Empty:
    store.runs.restore(body.id)
    return {}


@router.post("/runs/log-parameter")
def log_parameter(body: LogParam, store: StoreDep) -> Empty:
    store.runs.log_batch(body.id, params={body.key: body.value})
    return {}


@router.post("/runs/log-metric")
def log_metric(body: LogMetric, store: StoreDep) -> Empty:
    store.runs.log_batch(body.id, metrics=[_metric(body)])
    return {}


@router.post("/runs/set-tag")
def set_tag(body: SetTag, store: StoreDep) -> Empty:
    store.runs.log_batch(body.id, tags={body.key: body.value})
    return {}


class DeleteTag(RunRef):
    key: str


@router.post("/runs/delete-tag")
def delete_tag(body: DeleteTag, store: StoreDep) -> Empty:
    store.runs.delete_tag(body.id, body.key)
    return {}


@router.post("/runs/log-batch")
def log_batch(body: LogBatch, store: StoreDep) -> Empty:
    sizes = (
        ("metrics", len(body.metrics), MAX_METRICS_PER_BATCH),
        ("params", len(body.params), MAX_PARAMS_PER_BATCH),
    )
    for what, size, limit in (*sizes, ("tags", len(body.tags), MAX_TAGS_PER_BATCH)):
        if size > limit:
            raise InvalidInput(f"A batch may hold at most {limit} {what}; this one has {size}. Split it.")
    total = len(body.metrics) + len(body.params) + len(body.tags)
    if total > MAX_ENTITIES_PER_BATCH:
        raise InvalidInput(f"A batch may hold at most {MAX_ENTITIES_PER_BATCH} entries in all; got {total}.")
    store.runs.log_batch(
        body.id,
        metrics=[_metric(m) for m in body.metrics],
        params={p.key: p.value or "" for p in body.params},
        tags={t.key: t.value or "" for t in body.tags},
    )
    return {}


@router.post("/runs/log-inputs")
def log_inputs(body: LogInputs, store: StoreDep) -> Empty:
    run = store.runs.get(body.id)
    record = dict(run.reproducibility)
    record[DATASET_INPUTS] = [*record.get(DATASET_INPUTS, []), *body.datasets]
    store.runs.set_reproducibility(run.run_id, record)
    return {}


@router.post("/runs/search")
def search_runs(body: SearchRuns, store: StoreDep) -> Empty:
    if not 1 <= body.max_results <= MAX_RESULTS_PER_PAGE:
        raise InvalidInput(f"max_results must be in 1..{MAX_RESULTS_PER_PAGE}; got {body.max_results}.")
    view = _view(body.run_view_type)
    page = store.runs.search(
        [experiment_id_of(store, e) for e in body.experiment_ids],
        filter=body.filter or None,
        order_by=body.order_by,
        max_results=body.max_results,
        page_token=body.page_token or None,
        include_deleted=view != "ACTIVE_ONLY",
    )
    runs = [r for r in page.items if view != "DELETED_ONLY" or r.lifecycle_stage is LifecycleStage.DELETED]
    out: Empty = {"runs": [run_json(r) for r in runs]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


@router.get("/metrics/get-history")
def get_metric_history(
    store: StoreDep,
    metric_key: Annotated[str, Query(max_length=1_000)],
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    run_uuid: Annotated[str | None, Query(max_length=64)] = None,
    max_results: Annotated[int, Query(ge=1, le=1_000_000)] = 25_000,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> Empty:
    history = store.runs.get_metric_history(RunRef(run_id=run_id, run_uuid=run_uuid).id, metric_key)
    start = offset_of(page_token)
    out: Empty = {"metrics": [metric_json(m) for m in history[start : start + max_results]]}
    if start + max_results < len(history):
        out["next_page_token"] = token_of(start + max_results)
    return out
