"""Run a pipeline: dependency order, caching, lineage records, progress, failure handling.

Every run is a ``pipeline_run`` Context holding one Execution per step (type ``component``,
INPUT/OUTPUT events named by input/output) and every artifact read or written, plus one
``pipeline_run`` Execution that carries the run's status and timings. A failed step stores its
traceback, its downstream steps are SKIPPED (not run, not recorded), the run is FAILED, and
nothing from the failed step is cached. A cached step is recorded once per run as a CACHED
Execution whose ``cached_from`` property names the execution that made its outputs; it adds no
events, so the lineage of an artifact shows the one execution that produced it however often a
run reused it.

Example:
    >>> import tempfile
    >>> from loopml.artifacts import BlobStore
    >>> from loopml.store.sql import open_store
    >>> from loopml.pipeline import Dataset, Pipeline, component
    >>> @component
    ... def make(*, rows: int = 3) -> Dataset:
    ...     return Dataset.from_properties({"rows": rows})
    >>> tmp = tempfile.mkdtemp()
    >>> runner = PipelineRunner(open_store(f"sqlite:///{tmp}/s.db"), BlobStore(f"{tmp}/blobs"))
    >>> [s.state.value for s in runner.run(Pipeline("p", steps=[make()])).steps]
    ['COMPLETE']
    >>> [s.state.value for s in runner.run(Pipeline("p", steps=[make()])).steps]
    ['CACHED']
"""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loopml.artifacts import BlobStore
from loopml.pipeline._execution import StepOutcome, StepTask
from loopml.pipeline._param_types import describe, matches
from loopml.pipeline._runtime import StepContext, share_store
from loopml.pipeline.artifact_types import LAYOUT_DIRECTORY, LAYOUT_PROPERTY, ArtifactType, artifact_type_for
from loopml.pipeline.cache import cache_key, find_cache_hit
from loopml.pipeline.executors.base import Executor
from loopml.pipeline.executors.local import LocalExecutor
from loopml.pipeline.pipeline import Pipeline
from loopml.pipeline.progress import NullProgress, ProgressReporter
from loopml.pipeline.step import Parameter, Step
from loopml.store import Artifact, Context, EventType, ExecutionState, Store

__all__ = [
    "COMPONENT_EXECUTION_TYPE",
    "PIPELINE_RUN_TYPE",
    "PipelineRunResult",
    "PipelineRunner",
    "PipelineStatus",
    "StepResult",
    "StepState",
    "run_pipeline",
]

PIPELINE_RUN_TYPE = "pipeline_run"
"""Type of the Context (and of the status Execution) of one pipeline run."""
COMPONENT_EXECUTION_TYPE = "component"
"""Type of the Execution of one step."""


class StepState(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    CACHED = "CACHED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class PipelineStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """How one step of a run ended."""

    name: str
    component: str
    state: StepState
    execution_id: str | None = None
    duration_s: float = 0.0
    outputs: Mapping[str, str] = field(default_factory=dict)
    cached_from: str | None = None
    attempts: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineRunResult:
    """How a pipeline run ended; ``run_id`` is its Context id."""

    run_id: str
    run_name: str
    pipeline: str
    status: PipelineStatus
    duration_s: float
    steps: tuple[StepResult, ...]

    @property
    def is_ok(self) -> bool:
        return self.status is PipelineStatus.COMPLETE

    def step(self, name: str) -> StepResult:
        """The result of step ``name`` (KeyError if absent)."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _handle(artifact: Artifact, declared: type[ArtifactType]) -> ArtifactType:
    """The typed handle a component receives for a stored artifact."""
    registered = artifact_type_for(artifact.type)
    cls = registered if issubclass(registered, declared) else declared
    return cls(
        artifact_id=artifact.artifact_id,
        uri=artifact.uri,
        sha256=artifact.sha256,
        size=artifact.size,
        is_reference=artifact.is_reference,
        is_directory=artifact.properties.get(LAYOUT_PROPERTY) == LAYOUT_DIRECTORY,
        properties=dict(artifact.properties),
    )


class PipelineRunner:
    """Runs pipelines against one metadata store and one blob store.

    Args:
        store: The metadata store (lineage, artifacts).
        blobs: The blob store outputs are uploaded to; workers must reach its root.
        executor: Where step bodies run (default: in this process, one at a time).
        progress: Progress display (default: none).
        store_url: URL components use to open the store in worker processes
            (:meth:`StepContext.open_store`); default ``store.url``, which hides a password, so pass
            the real URL for a password-protected database.
    """

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        *,
        executor: Executor | None = None,
        progress: ProgressReporter | None = None,
        store_url: str | None = None,
    ) -> None:
        self.store = store
        self.store_url = store_url or store.url
        self.blobs = blobs
        self.executor: Executor = executor or LocalExecutor()
        self.progress: ProgressReporter = progress or NullProgress()

    def run(
        self, pipeline: Pipeline, *, params: Mapping[str, Any] | None = None, no_cache: bool = False
    ) -> PipelineRunResult:
        """Run ``pipeline`` once.

        Args:
            pipeline: The pipeline.
            params: Pipeline parameter overrides (checked against their declared types).
            no_cache: Run every step even when a cached result exists.

        Returns:
            The run's result; ``status`` is FAILED when any step failed.

        Raises:
            InvalidInput: for an unknown parameter or a value of the wrong type (nothing recorded).
        """
        values = pipeline.resolve_params(params)
        run = _Run(self, pipeline, values, no_cache=no_cache)
        return run.execute()


def run_pipeline(
    pipeline: Pipeline,
    *,
    store: Store,
    blobs: BlobStore,
    params: Mapping[str, Any] | None = None,
    no_cache: bool = False,
    executor: Executor | None = None,
    progress: ProgressReporter | None = None,
) -> PipelineRunResult:
    """Run ``pipeline`` once (see :class:`PipelineRunner`)."""
    runner = PipelineRunner(store, blobs, executor=executor, progress=progress)
    return runner.run(pipeline, params=params, no_cache=no_cache)


class _Run:
    """The state of one run while it executes."""

    def __init__(self, runner: PipelineRunner, pipeline: Pipeline, params: dict[str, Any], *, no_cache: bool):
        self.store, self.blobs, self.store_url = runner.store, runner.blobs, runner.store_url
        self.executor, self.progress = runner.executor, runner.progress
        self.pipeline, self.params, self.no_cache = pipeline, params, no_cache
        self.outputs: dict[str, dict[str, Artifact]] = {}
        self.results: dict[str, StepResult] = {}
        self.running: dict[Future[StepOutcome], tuple[Step, str, float, dict[str, Any]]] = {}
        self.context: Context | None = None

    # ------------------------------------------------------------------------ lifecycle
    def execute(self) -> PipelineRunResult:
        t0, started = time.perf_counter(), _now_ms()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        run_name = f"{self.pipeline.name}-{stamp}-{secrets.token_hex(3)}"
        self.context = self.store.lineage.create_context(
            type=PIPELINE_RUN_TYPE,
            name=run_name,
            properties={
                "pipeline": self.pipeline.name,
                "params": self.params,
                "executor": self.executor.name,
                "no_cache": self.no_cache,
                "started_at": started,
                "steps": [s.name for s in self.pipeline.steps],
                "dependencies": {k: list(v) for k, v in self.pipeline.dependencies.items()},
            },
        )
        run_exec = self.store.lineage.create_execution(
            type=PIPELINE_RUN_TYPE,
            name=run_name,
            params=self.params,
            properties={
                "pipeline": self.pipeline.name,
                "context_id": self.context.context_id,
                "executor": self.executor.name,
            },
        )
        self.store.lineage.attach(self.context.context_id, execution_ids=[run_exec.execution_id])
        self.progress.start(run_name=run_name, steps=[s.name for s in self.pipeline.steps])
        status = PipelineStatus.FAILED
        share_store(self.store_url, self.store)
        try:
            self._schedule()
            failed = any(r.state is StepState.FAILED for r in self.results.values())
            status = PipelineStatus.FAILED if failed else PipelineStatus.COMPLETE
        finally:
            share_store(self.store_url, None)
            self._abandon_running()
            duration = time.perf_counter() - t0
            self.store.lineage.finish_execution(
                run_exec.execution_id,
                ExecutionState.COMPLETE if status is PipelineStatus.COMPLETE else ExecutionState.FAILED,
                error=self._failure_summary() if status is PipelineStatus.FAILED else None,
                properties={
                    "status": status.value,
                    "ended_at": _now_ms(),
                    "duration_s": duration,
                    "step_states": {n: r.state.value for n, r in self.results.items()},
                },
            )
            self.progress.finish(status=status.value)
        return PipelineRunResult(
            run_id=self.context.context_id,
            run_name=run_name,
            pipeline=self.pipeline.name,
            status=status,
            duration_s=duration,
            steps=tuple(self.results[s.name] for s in self.pipeline.steps),
        )

    def _abandon_running(self) -> None:
        """Mark steps still running when the run stops early (Ctrl-C, a store error) as FAILED."""
        for future, (step, execution_id, t0, _params) in list(self.running.items()):
            future.cancel()
            message = "interrupted: the pipeline run stopped before this step finished"
            self.store.lineage.finish_execution(execution_id, ExecutionState.FAILED, error=message)
            self._set_failed(step, execution_id, message, time.perf_counter() - t0, attempts=0)
        self.running.clear()

    def _failure_summary(self) -> str:
        failed = [f"{r.name}: {r.error}" for r in self.results.values() if r.state is StepState.FAILED]
        return "; ".join(failed) or "interrupted"

    def _schedule(self) -> None:
        steps = list(self.pipeline.steps)
        while len(self.results) < len(steps):
            progressed = False
            for step in steps:
                if step.name in self.results or any(s.name == step.name for s, *_ in self.running.values()):
                    continue
                deps = self.pipeline.dependencies[step.name]
                if any(self.results.get(d) and self.results[d].state in _BROKEN for d in deps):
                    self._skip(step)
                    progressed = True
                elif all(d in self.results for d in deps):
                    self._start(step)
                    progressed = True
            if not self.running and not progressed:
                break  # nothing can start: cannot happen for a validated (acyclic) pipeline
            if self.running and not progressed:
                done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
                for future in done:
                    self._record(future)

    # ----------------------------------------------------------------------------- steps
    def _skip(self, step: Step) -> None:
        failed = [d for d in self.pipeline.dependencies[step.name] if self.results[d].state in _BROKEN]
        self.results[step.name] = StepResult(
            name=step.name,
            component=step.component.name,
            state=StepState.SKIPPED,
            error=f"not run: upstream step {', '.join(failed)} did not complete",
        )
        self.progress.update(step.name, StepState.SKIPPED, detail=f"after {', '.join(failed)}")

    def _resolve_params(self, step: Step) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in step.component.params.items():
            if name in step.params:
                raw = step.params[name]
                value = self.params[raw.name] if isinstance(raw, Parameter) else raw
            elif not spec.is_required:
                value = spec.default
            else:  # Pipeline() checked this; kept for pipelines built by hand
                raise _StepInputError(f"parameter {name!r} has no value")
            if not matches(value, spec.annotation):
                raise _StepInputError(
                    f"Component {step.component.name!r} parameter {name!r}: expected "
                    f"{describe(spec.annotation)}, got {type(value).__name__} {value!r}."
                )
            values[name] = value
        return values

    def _inputs(self, step: Step) -> dict[str, Artifact]:
        return {name: self.outputs[ref.step_name][ref.output] for name, ref in step.inputs.items()}

    def _start(self, step: Step) -> None:
        t0 = time.perf_counter()
        comp = step.component
        inputs = self._inputs(step)
        handles = {n: _handle(a, comp.inputs[n].type) for n, a in inputs.items()}
        try:
            params = self._resolve_params(step)
        except _StepInputError as err:
            self._fail_before_start(step, inputs, str(err), t0)
            return
        key = cache_key(fingerprint=comp.fingerprint, params=params, inputs=handles)
        if comp.cache and not self.no_cache and self._try_cache(step, inputs, params, key, t0):
            return
        execution = self.store.lineage.create_execution(
            type=COMPONENT_EXECUTION_TYPE,
            name=step.name,
            params=params,
            code_version=comp.fingerprint,
            cache_key=key,
            properties=self._exec_props(step),
        )
        self._input_events(execution.execution_id, inputs)
        self.progress.update(step.name, StepState.RUNNING)
        assert self.context is not None
        info = StepContext(
            step_name=step.name,
            component=comp.name,
            pipeline=self.pipeline.name,
            pipeline_run=self.context.name,
            context_id=self.context.context_id,
            execution_id=execution.execution_id,
            blobs=self.blobs,
            store_url=self.store_url,
        )
        task = StepTask(step=info, component=comp, inputs=handles, params=params)
        future = self.executor.submit(task)
        self.running[future] = (step, execution.execution_id, t0, params)

    def _exec_props(self, step: Step) -> dict[str, Any]:
        assert self.context is not None
        return {
            "pipeline": self.pipeline.name,
            "pipeline_run": self.context.name,
            "context_id": self.context.context_id,
            "step": step.name,
            "component": step.component.name,
            "executor": self.executor.name,
        }

    def _input_events(self, execution_id: str, inputs: Mapping[str, Artifact]) -> None:
        assert self.context is not None
        if inputs:
            self.store.lineage.add_events(
                execution_id, [(a.artifact_id, EventType.INPUT, n) for n, a in inputs.items()]
            )
        self.store.lineage.attach(self.context.context_id, execution_ids=[execution_id])

    def _try_cache(
        self, step: Step, inputs: Mapping[str, Artifact], params: dict[str, Any], key: str, t0: float
    ) -> bool:
        assert self.context is not None
        hit = find_cache_hit(self.store, self.blobs, key=key, outputs=step.component.outputs)
        if hit is None:
            return False
        props = {
            **self._exec_props(step),
            "cached_from": hit.execution.execution_id,
            "duration_s": time.perf_counter() - t0,
        }
        execution = self.store.lineage.create_execution(
            type=COMPONENT_EXECUTION_TYPE,
            name=step.name,
            params=params,
            code_version=step.component.fingerprint,
            cache_key=key,
            properties=props,
            state=ExecutionState.CACHED,
        )
        # No events: the original execution already links these inputs to these outputs, and a
        # cache hit recorded as a second producer would grow the lineage with every re-run.
        self.store.lineage.attach(
            self.context.context_id,
            execution_ids=[execution.execution_id],
            artifact_ids=[a.artifact_id for a in hit.outputs.values()],
        )
        self.outputs[step.name] = hit.outputs
        self.results[step.name] = StepResult(
            name=step.name,
            component=step.component.name,
            state=StepState.CACHED,
            execution_id=execution.execution_id,
            duration_s=time.perf_counter() - t0,
            outputs={n: a.artifact_id for n, a in hit.outputs.items()},
            cached_from=hit.execution.execution_id,
        )
        self.progress.update(
            step.name,
            StepState.CACHED,
            detail=f"from {hit.execution.execution_id[:8]}",
            duration_s=self.results[step.name].duration_s,
        )
        return True

    def _fail_before_start(self, step: Step, inputs: Mapping[str, Artifact], message: str, t0: float) -> None:
        execution = self.store.lineage.create_execution(
            type=COMPONENT_EXECUTION_TYPE,
            name=step.name,
            code_version=step.component.fingerprint,
            properties=self._exec_props(step),
        )
        self._input_events(execution.execution_id, inputs)
        self.store.lineage.finish_execution(execution.execution_id, ExecutionState.FAILED, error=message)
        self._set_failed(step, execution.execution_id, message, time.perf_counter() - t0, attempts=0)

    def _set_failed(
        self, step: Step, execution_id: str, message: str, duration: float, *, attempts: int
    ) -> None:
        self.results[step.name] = StepResult(
            name=step.name,
            component=step.component.name,
            state=StepState.FAILED,
            execution_id=execution_id,
            duration_s=duration,
            error=message,
            attempts=attempts,
        )
        self.progress.update(
            step.name, StepState.FAILED, detail=message.splitlines()[0][:120], duration_s=duration
        )

    def _record(self, future: Future[StepOutcome]) -> None:
        step, execution_id, t0, _params = self.running.pop(future)
        try:
            outcome = future.result()
        except Exception as err:  # the executor itself failed (worker died, unpicklable task ...)
            outcome = StepOutcome(
                step_name=step.name,
                error=f"{type(err).__name__}: {err}",
                traceback=f"{type(err).__name__}: {err}",
            )
        attempts = [
            {"number": a.number, "started_at": a.started_at, "duration_s": a.duration_s, "error": a.error}
            for a in outcome.attempts
        ]
        duration = time.perf_counter() - t0
        if not outcome.is_ok:
            self.store.lineage.finish_execution(
                execution_id,
                ExecutionState.FAILED,
                error=outcome.traceback or outcome.error,
                properties={"attempts": attempts, "duration_s": duration, "error_summary": outcome.error},
            )
            self._set_failed(step, execution_id, outcome.error or "failed", duration, attempts=len(attempts))
            return
        self._record_outputs(step, execution_id, outcome)
        self.store.lineage.finish_execution(
            execution_id, ExecutionState.COMPLETE, properties={"attempts": attempts, "duration_s": duration}
        )
        self.results[step.name] = StepResult(
            name=step.name,
            component=step.component.name,
            state=StepState.COMPLETE,
            execution_id=execution_id,
            duration_s=duration,
            attempts=len(attempts),
            outputs={n: a.artifact_id for n, a in self.outputs[step.name].items()},
        )
        self.progress.update(step.name, StepState.COMPLETE, duration_s=duration)

    def _record_outputs(self, step: Step, execution_id: str, outcome: StepOutcome) -> None:
        assert self.context is not None
        recorded: dict[str, Artifact] = {}
        for name, out in outcome.outputs.items():
            if out.artifact_id is not None:  # an input passed through: same artifact, new event
                recorded[name] = self.store.artifacts.get(out.artifact_id)
                continue
            recorded[name] = self.store.artifacts.create(
                type=out.type_name,
                name=out.name or f"{self.pipeline.name}.{step.name}.{name}",
                uri=out.uri,
                sha256=out.sha256,
                size=out.size,
                is_reference=out.is_reference,
                properties=out.properties,
                versioned=True,
            )
        if recorded:
            self.store.lineage.add_events(
                execution_id, [(a.artifact_id, EventType.OUTPUT, n) for n, a in recorded.items()]
            )
            self.store.lineage.attach(
                self.context.context_id, artifact_ids=[a.artifact_id for a in recorded.values()]
            )
        self.outputs[step.name] = recorded


_BROKEN = (StepState.FAILED, StepState.SKIPPED)


class _StepInputError(Exception):
    """A step's parameters are wrong at run time (recorded as the step's failure)."""
