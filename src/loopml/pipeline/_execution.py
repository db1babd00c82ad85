"""The worker side of a step: call the component with retries, check its outputs, upload them.

:func:`execute_task` runs wherever the executor puts it (this process, a pool process, a Ray
task). It never raises: failures come back in the :class:`StepOutcome` with their traceback,
so every executor marshals results and errors the same way.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.pipeline._runtime import StepContext, StepRuntime, StoredOutput, activate, upload_output
from loopml.pipeline.artifact_types import LAYOUT_PROPERTY, ArtifactType
from loopml.pipeline.component import Component

__all__ = ["Attempt", "OutputContractError", "StepOutcome", "StepTask", "execute_task"]


class OutputContractError(Exception):
    """A component returned something other than its declared outputs (not retried)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepTask:
    """Everything a worker needs to run one step; picklable."""

    step: StepContext
    component: Component
    inputs: Mapping[str, ArtifactType]
    params: Mapping[str, Any]

    @property
    def step_name(self) -> str:
        return self.step.step_name


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One try of a step: when it started (ms), how long it took, and its error if it failed."""

    number: int
    started_at: int
    duration_s: float
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepOutcome:
    """What came back from a worker: uploaded outputs, or the failure and its traceback."""

    step_name: str
    outputs: Mapping[str, StoredOutput] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    attempts: tuple[Attempt, ...] = ()

    @property
    def is_ok(self) -> bool:
        return self.error is None


def _check_one(component: Component, name: str, expected: type[ArtifactType], value: Any) -> ArtifactType:
    if value is None:
        raise OutputContractError(
            f"Component {component.name!r} did not return output {name!r} ({expected.type_name})."
        )
    if not isinstance(value, expected):
        got = value.type_name if isinstance(value, ArtifactType) else type(value).__name__
        raise OutputContractError(
            f"Component {component.name!r} output {name!r}: expected {expected.type_name}, got {got}; "
            f"return {expected.type_name}.from_path(...) or {expected.type_name}.from_properties(...)."
        )
    return value


def collect_outputs(component: Component, result: Any) -> dict[str, ArtifactType]:
    """Match a component's return value to its declared outputs.

    Raises:
        OutputContractError: naming the component and the missing or mistyped output.
    """
    declared = component.outputs
    if not declared:
        if result is not None:
            raise OutputContractError(
                f"Component {component.name!r} declares no outputs but returned {type(result).__name__}; "
                "annotate the return type (-> Model) or return None."
            )
        return {}
    if not component.returns_tuple:
        ((name, expected),) = declared.items()
        return {name: _check_one(component, name, expected, result)}
    if isinstance(result, Mapping):
        values: Mapping[str, Any] = result
    elif isinstance(result, tuple) and hasattr(result, "_asdict"):
        values = result._asdict()
    else:
        raise OutputContractError(
            f"Component {component.name!r} must return its outputs {', '.join(declared)} as its "
            f"NamedTuple (or a dict); got {type(result).__name__}."
        )
    return {name: _check_one(component, name, exp, values.get(name)) for name, exp in declared.items()}


def _passthrough(artifact: ArtifactType) -> StoredOutput:
    props = dict(artifact.properties)
    props.setdefault(LAYOUT_PROPERTY, "directory" if artifact.is_directory else "file")
    return StoredOutput(
        type_name=artifact.type_name,
        uri=artifact.uri or "",
        sha256=artifact.sha256 or "",
        size=artifact.size or 0,
        is_reference=artifact.is_reference,
        properties=props,
        artifact_id=artifact.artifact_id,
    )


def _call_and_store(task: StepTask) -> dict[str, StoredOutput]:
    result = task.component.fn(**task.inputs, **task.params)
    outputs = collect_outputs(task.component, result)
    stored: dict[str, StoredOutput] = {}
    for name, artifact in outputs.items():
        label = f"step {task.step_name!r} output {name!r}"
        stored[name] = (
            _passthrough(artifact)
            if artifact.is_stored
            else upload_output(task.step.blobs, artifact, label=label)
        )
    return stored


def execute_task(task: StepTask) -> StepOutcome:
    """Run a step with the component's retries and exponential backoff; never raises."""
    comp = task.component
    attempts: list[Attempt] = []
    workdir = Path(tempfile.mkdtemp(prefix=f"loopml-{task.step_name}-"))
    try:
        for number in range(1, comp.retries + 2):
            started, t0 = int(time.time() * 1000), time.perf_counter()
            try:
                step = dataclasses.replace(task.step, attempt=number)
                with activate(StepRuntime(step=step, workdir=workdir)):
                    stored = _call_and_store(task)
            except Exception as err:
                message = str(err) if isinstance(err, OutputContractError) else f"{type(err).__name__}: {err}"
                attempts.append(
                    Attempt(
                        number=number, started_at=started, duration_s=time.perf_counter() - t0, error=message
                    )
                )
                if isinstance(err, OutputContractError) or number > comp.retries:
                    return StepOutcome(
                        step_name=task.step_name,
                        error=message,
                        traceback=traceback.format_exc(),
                        attempts=tuple(attempts),
                    )
                time.sleep(comp.backoff_s * 2 ** (number - 1))
                continue
            attempts.append(Attempt(number=number, started_at=started, duration_s=time.perf_counter() - t0))
            return StepOutcome(step_name=task.step_name, outputs=stored, attempts=tuple(attempts))
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
