"""Experiments and runs: the paged run table, a run's page, metric data for charts, and compare."""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from loopml.errors import InvalidInput, NotFound
from loopml.security.auth import ResourceKind
from loopml.server._deps import StoreDep
from loopml.server._visibility import visibility_of
from loopml.server.ui._render import chart_data, page, url_with
from loopml.server.ui._session import UI_PREFIX
from loopml.store.entities import Run
from loopml.ui import (
    available_columns,
    cell,
    default_columns,
    differing_params,
    downsample,
    nest_runs,
    parallel_coordinates,
    parse_columns,
)

__all__ = ["MAX_COMPARED", "router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

MAX_COMPARED = 200
CHART_POINTS = 500
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what a run id may be; anything else is dropped
Text = Annotated[str | None, Query(max_length=2_000)]


@router.get("/experiments")
def experiments(request: Request, store: StoreDep) -> HTMLResponse:
    visible = visibility_of(request)
    shown = [e for e in store.experiments.list() if visible.shows(ResourceKind.EXPERIMENT, e.experiment_id)]
    return page(request, "experiments.html", experiments=shown)


@router.get("/experiments/{experiment_id}")
def runs_table(
    request: Request,
    experiment_id: str,
    store: StoreDep,
    filter: Text = None,
    order: Text = None,
    cols: Text = None,
    col: Annotated[list[str], Query(max_length=200)] = [],  # noqa: B006
    page_token: Text = None,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> HTMLResponse:
    experiment = store.experiments.get(experiment_id)
    error = None
    try:
        found = store.runs.search(
            [experiment_id],
            filter=filter or None,
            order_by=[order] if order else [],
            max_results=size,
            page_token=page_token or None,
        )
        runs, next_token = found.items, found.next_page_token
    except InvalidInput as err:
        runs, next_token, error = [], None, str(err)
    columns = parse_columns(",".join(col) if col else cols) or default_columns(runs)
    query = {k: v for k, v in request.query_params.items() if k != "col"} | {"cols": ",".join(columns)}
    return page(
        request,
        "runs.html",
        experiment=experiment,
        rows=nest_runs(runs),
        columns=columns,
        available=available_columns(runs),
        cell=cell,
        error=error,
        filter=filter or "",
        order=order or "",
        cols=",".join(columns),
        size=size,
        query=query,
        path_of=request.url.path,
        url_with=url_with,
        next_url=url_with(request.url.path, query, page_token=next_token) if next_token else None,
    )


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str, store: StoreDep) -> HTMLResponse:
    run = store.runs.get(run_id)
    visible = visibility_of(request)
    artifacts = [
        a for a in store.artifacts.list(run_id=run_id, max_results=500).items if visible.shows_artifact(a)
    ]
    experiment = store.experiments.get(run.experiment_id)
    return page(request, "run.html", run=run, experiment=experiment, artifacts=artifacts)


@router.get("/runs/{run_id}/metric.{fmt}")
def run_metric(
    run_id: str,
    fmt: str,
    store: StoreDep,
    key: Annotated[str, Query(min_length=1, max_length=250)],
    points: Annotated[int, Query(ge=2, le=100_000)] = CHART_POINTS,
) -> Response:
    """One metric's history, min/max downsampled to about ``points`` points, as JSON or CSV."""
    history = store.runs.get_metric_history(run_id, key)
    series = downsample([(m.step, m.value) for m in history], max_points=points)
    if fmt == "csv":
        return _csv(["step", "value"], zip(series.steps, series.values, strict=True))
    if fmt != "json":
        raise NotFound(f"No format {fmt!r}; ask for metric.json or metric.csv.")
    return chart_data(
        {
            "key": key,
            "runs": [
                {
                    "run_id": run_id,
                    "steps": series.steps,
                    "values": series.values,
                    "total": series.total,
                    "downsampled": series.downsampled,
                }
            ],
        }
    )


def _visible_runs(request: Request, store: Any, run_ids: list[str]) -> list[Run]:
    """The runs named, those the caller may see, in the order given (unknown ones left out).

    One search fetches them all (``attributes.run_id IN (...)`` over the experiments the caller
    sees), so a compare of 100 runs costs one query, not 100.
    """
    visible = visibility_of(request)
    wanted = [r for r in dict.fromkeys(run_ids[:MAX_COMPARED]) if _RUN_ID.fullmatch(r)]
    if not wanted:
        return []
    experiments = [
        e.experiment_id
        for e in store.experiments.list()
        if visible.shows(ResourceKind.EXPERIMENT, e.experiment_id)
    ]
    quoted = ", ".join(f"'{r}'" for r in wanted)
    found = store.runs.search(experiments, filter=f"attributes.run_id IN ({quoted})", max_results=len(wanted))
    by_id = {r.run_id: r for r in found.items}
    return [by_id[r] for r in wanted if r in by_id]


@router.get("/compare")
def compare(
    request: Request,
    store: StoreDep,
    run: Annotated[list[str], Query(max_length=MAX_COMPARED)] = [],  # noqa: B006
) -> HTMLResponse:
    """The runs side by side: differing params, latest metrics, parallel coordinates, one chart per metric.

    The page names the runs once, in a form of hidden inputs that every chart's data request and
    download button adds (not in each of their links: 60 copies of 100 ids were two thirds of the
    page); the charts are fetched after the first paint, each when it nears the viewport.
    """
    runs = _visible_runs(request, store, run)
    metric_keys = sorted({k for r in runs for k in r.metrics})
    diff = differing_params(runs)
    columns, rows = _parallel_rows(runs, [k for k, _ in diff], metric_keys)
    return page(
        request,
        "compare.html",
        runs=runs,
        diff=diff,
        metric_keys=metric_keys,
        parallel=parallel_coordinates(rows, columns) if len(runs) > 1 and columns else None,
    )


def _parallel_rows(
    runs: list[Run], params: list[str], metrics: list[str]
) -> tuple[list[str], list[tuple[str, str, dict[str, object]]]]:
    """Axes (differing parameters, then latest metrics) and each run's values on them."""
    columns = [f"params.{k}" for k in params] + [f"metrics.{k}" for k in metrics]
    rows = [(r.run_id, r.name, {c: cell(r, c) for c in columns}) for r in runs]
    return columns, rows


@router.get("/compare/parallel.csv")
def compare_parallel(
    request: Request,
    store: StoreDep,
    run: Annotated[list[str], Query(max_length=MAX_COMPARED)] = [],  # noqa: B006
) -> Response:
    """The parallel-coordinates chart's data: one row per run, one column per axis."""
    runs = _visible_runs(request, store, run)
    params = [k for k, _ in differing_params(runs)]
    columns, rows = _parallel_rows(runs, params, sorted({k for r in runs for k in r.metrics}))
    return _csv(["run_id", "run_name", *columns], ([i, n, *(v.get(c) for c in columns)] for i, n, v in rows))


@router.get("/compare/metric.{fmt}")
def compare_metric(
    request: Request,
    fmt: str,
    store: StoreDep,
    key: Annotated[str, Query(min_length=1, max_length=250)],
    run: Annotated[list[str], Query(max_length=MAX_COMPARED)] = [],  # noqa: B006
    points: Annotated[int, Query(ge=2, le=10_000)] = CHART_POINTS,
) -> Response:
    """One metric of several runs (each downsampled), as JSON or long-format CSV; one history query.

    The points are read as columns (:meth:`~loopml.store.repositories.RunRepository.get_metric_series`)
    and written by orjson: a compare of 100 runs x 100 steps answers 10,000 points.
    """
    runs = _visible_runs(request, store, run)
    found = store.runs.get_metric_series([r.run_id for r in runs], key)
    out: list[dict[str, Any]] = []
    for r in runs:
        series = found.get(r.run_id)
        pairs = list(zip(series.steps, series.values, strict=True)) if series else []
        s = downsample(pairs, max_points=points)
        out.append(
            {
                "run_id": r.run_id,
                "name": r.name,
                "steps": s.steps,
                "values": s.values,
                "total": s.total,
                "downsampled": s.downsampled,
            }
        )
    if fmt == "csv":
        rows = ((o["run_id"], st, v) for o in out for st, v in zip(o["steps"], o["values"], strict=True))
        return _csv(["run_id", "step", "value"], rows)
    if fmt != "json":
        raise NotFound(f"No format {fmt!r}; ask for metric.json or metric.csv.")
    return chart_data({"key": key, "runs": out})


def _csv(header: list[str], rows: Any) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")
