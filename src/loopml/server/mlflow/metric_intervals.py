"""``GET /metrics/get-history-bulk-interval``: one metric of several runs, sampled over a step range.

The MLflow UI draws its charts from it. The steps are chosen as MLflow's server chooses them: over
the steps any of the runs logged in ``[start_step, end_step]`` (default ``0`` to the last one),
``max_results`` evenly spaced steps plus the last, together with each run's first and last step;
every point of every run at those steps is returned, each with its ``run_id``. Runs that do not
exist, or that the caller may not see, have no points, as MLflow answers for unknown runs.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request

from loopml.errors import InvalidInput
from loopml.server._deps import StoreDep
from loopml.server._visibility import visibility_of
from loopml.server.mlflow.errors import MlflowRoute
from loopml.server.mlflow.wire import metric_json

__all__ = ["MAX_RESULTS_PER_RUN", "MAX_RUNS", "router", "sampled_steps"]

router = APIRouter(prefix="/api/2.0/mlflow", tags=["mlflow"], route_class=MlflowRoute)

#: MLflow's limits: run ids per request, and ``max_results`` (its default too).
MAX_RUNS = 100
MAX_RESULTS_PER_RUN = 2500
#: Points of one run MLflow returns at most.
MAX_POINTS_PER_RUN = 25_000


def _even_steps(start: int, end: int, max_results: int, steps: Sequence[int]) -> set[int]:
    """MLflow's sampling of the sorted ``steps`` in ``[start, end]``: evenly spaced, and the last one."""
    first, stop = bisect.bisect_left(steps, start), bisect.bisect_right(steps, end)
    count = stop - first
    if count <= max_results:
        return set(steps[first:stop])
    interval = count / max_results
    # MLflow compares the absolute index with the count, so a range that does not start at the
    # first step keeps fewer samples; kept as is so both servers answer the same points.
    picked = {
        steps[first + int(i * interval)] for i in range(max_results) if first + int(i * interval) < count
    }
    return picked | {steps[stop - 1]}


def sampled_steps(
    histories: Sequence[Sequence[int]], *, start: int | None, end: int | None, max_results: int
) -> list[int]:
    """The steps MLflow returns for runs that logged the given steps (each run's steps, any order).

    Example:
        >>> sampled_steps([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]], start=None, end=None, max_results=3)
        [0, 3, 6, 9]

    Raises:
        InvalidInput: only one of ``start`` and ``end`` is given, or ``start`` is after ``end``.
    """
    if (start is None) != (end is None):
        raise InvalidInput("If either start step or end step are specified, both must be specified.")
    if start is not None and end is not None and start > end:
        raise InvalidInput(
            f"end_step must be greater than start_step. Found start_step={start} and end_step={end}."
        )
    every = sorted({s for steps in histories for s in steps})
    low = 0 if start is None else start
    high = (every[-1] if every else 0) if end is None else end
    edges = {s for steps in histories if steps for s in (min(steps), max(steps)) if low <= s <= high}
    return sorted(_even_steps(low, high, max_results, every) | edges)


@router.get("/metrics/get-history-bulk-interval")
def get_metric_history_bulk_interval(
    request: Request,
    store: StoreDep,
    run_ids: Annotated[list[str], Query()],
    metric_key: Annotated[str, Query(max_length=1_000)],
    start_step: int | None = None,
    end_step: int | None = None,
    max_results: Annotated[int, Query(ge=1, le=MAX_RESULTS_PER_RUN)] = MAX_RESULTS_PER_RUN,
) -> dict[str, Any]:
    if len(run_ids) > MAX_RUNS:
        raise InvalidInput(
            f"Ask for at most {MAX_RUNS} run_ids at a time; got {len(run_ids)}. Split the request."
        )
    visible = visibility_of(request)
    wanted = [r for r in dict.fromkeys(run_ids) if visible.shows_run(r)]
    histories = store.runs.get_metric_histories(wanted, metric_key)
    steps = set(
        sampled_steps(
            [[m.step for m in h] for h in histories.values()],
            start=start_step,
            end=end_step,
            max_results=max_results,
        )
    )
    points: list[dict[str, Any]] = []
    for run_id in wanted:
        kept = sorted(
            (m for m in histories.get(run_id, []) if m.step in steps),
            key=lambda m: (m.step, m.timestamp, m.value),
        )
        points.extend({**metric_json(m), "run_id": run_id} for m in kept[:MAX_POINTS_PER_RUN])
    return {"metrics": points}
