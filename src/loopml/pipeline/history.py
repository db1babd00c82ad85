"""Past pipeline runs read back from the store: summaries for listings, step details for one run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopml.pipeline.runner import COMPONENT_EXECUTION_TYPE, PIPELINE_RUN_TYPE, StepState
from loopml.store import Context, EventType, Execution, ExecutionState, Store
from loopml.store.ids import is_id_prefix, pick_unique

__all__ = ["PipelineRunDetail", "PipelineRunSummary", "StepRecord", "get_pipeline_run", "list_pipeline_runs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineRunSummary:
    """One pipeline run: identity, status, timing and how many steps ended in each state."""

    run_id: str
    name: str
    pipeline: str
    status: str
    executor: str
    started_at: int
    ended_at: int | None = None
    duration_s: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    """One step of a past run, as recorded (SKIPPED steps have no execution)."""

    name: str
    state: str
    upstream: tuple[str, ...] = ()
    component: str | None = None
    execution_id: str | None = None
    duration_s: float | None = None
    cached_from: str | None = None
    attempts: int = 0
    inputs: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineRunDetail:
    """A pipeline run with its steps in execution order."""

    summary: PipelineRunSummary
    steps: tuple[StepRecord, ...]


def _step_state(execution: Execution) -> str:
    return StepState.CACHED.value if execution.state is ExecutionState.CACHED else execution.state.value


def _summary(ctx: Context, executions: list[Execution]) -> PipelineRunSummary:
    props = ctx.properties
    status_exec = next((e for e in executions if e.type == PIPELINE_RUN_TYPE), None)
    steps = [e for e in executions if e.type == COMPONENT_EXECUTION_TYPE]
    counts = Counter(_step_state(e) for e in steps)
    declared = list(props.get("steps", []))
    skipped = len(declared) - len({e.name for e in steps})
    if skipped > 0 and status_exec is not None and status_exec.state is not ExecutionState.RUNNING:
        counts[StepState.SKIPPED.value] += skipped
    status = "RUNNING"
    if status_exec is not None:
        status = str(status_exec.properties.get("status", status_exec.state.value))
    return PipelineRunSummary(
        run_id=ctx.context_id,
        name=ctx.name,
        pipeline=str(props.get("pipeline", "")),
        status=status,
        executor=str(props.get("executor", "")),
        started_at=int(props.get("started_at", ctx.created_at)),
        ended_at=status_exec.ended_at if status_exec else None,
        duration_s=status_exec.properties.get("duration_s") if status_exec else None,
        params=dict(props.get("params", {})),
        counts=dict(counts),
        error=status_exec.error if status_exec else None,
    )


def list_pipeline_runs(store: Store, *, pipeline: str | None = None) -> list[PipelineRunSummary]:
    """Every pipeline run (optionally of one pipeline), newest first."""
    runs = []
    for ctx in store.lineage.list_contexts(type=PIPELINE_RUN_TYPE):
        if pipeline is not None and ctx.properties.get("pipeline") != pipeline:
            continue
        runs.append(_summary(ctx, store.lineage.list_context_executions(ctx.context_id)))
    return sorted(runs, key=lambda r: r.started_at, reverse=True)


def _find_context(store: Store, run: str) -> Context:
    ctx = store.lineage.find_context(PIPELINE_RUN_TYPE, run)
    if ctx is not None:
        return ctx
    contexts = {c.context_id: c for c in store.lineage.list_contexts(type=PIPELINE_RUN_TYPE)}
    if run in contexts:
        return contexts[run]
    prefix = run.lower()
    candidates = [i for i in contexts if is_id_prefix(prefix) and i.startswith(prefix)]
    return contexts[pick_unique("pipeline run", run, candidates, hint="`loopml pipeline runs`")]


def _record(store: Store, execution: Execution, upstream: tuple[str, ...]) -> StepRecord:
    inputs: dict[str, str] = {}
    outputs: dict[str, str] = {}
    props = execution.properties
    # A cache hit records no events of its own: its inputs and outputs are the original's.
    source = str(props.get("cached_from") or execution.execution_id)
    for event in store.lineage.list_events(execution_id=source):
        (inputs if event.type is EventType.INPUT else outputs)[event.role] = event.artifact_id
    return StepRecord(
        name=execution.name,
        state=_step_state(execution),
        upstream=upstream,
        component=props.get("component"),
        execution_id=execution.execution_id,
        duration_s=props.get("duration_s"),
        cached_from=props.get("cached_from"),
        attempts=len(props.get("attempts", [])),
        inputs=inputs,
        outputs=outputs,
        error=props.get("error_summary") or execution.error,
    )


def get_pipeline_run(store: Store, run: str) -> PipelineRunDetail:
    """One run by name, context id or unique id prefix (4+ characters), with its steps.

    Raises:
        NotFound: when no run matches.
        InvalidInput: when an id prefix matches several runs.
    """
    ctx = _find_context(store, run)
    executions = store.lineage.list_context_executions(ctx.context_id)
    deps: Mapping[str, list[str]] = ctx.properties.get("dependencies", {})
    by_step = {e.name: e for e in executions if e.type == COMPONENT_EXECUTION_TYPE}
    summary = _summary(ctx, executions)
    steps = []
    for name in ctx.properties.get("steps", list(by_step)):
        upstream = tuple(deps.get(name, ()))
        execution = by_step.get(name)
        if execution is None:
            state = StepState.SKIPPED.value if summary.status != "RUNNING" else StepState.PENDING.value
            steps.append(StepRecord(name=name, state=state, upstream=upstream))
        else:
            steps.append(_record(store, execution, upstream))
    return PipelineRunDetail(summary=summary, steps=tuple(steps))
