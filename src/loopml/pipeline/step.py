"""Wiring values: a :class:`Step` (a component bound to inputs and parameters), the
:class:`OutputRef` one step's output is passed around as, and pipeline :class:`Parameter` s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput
from loopml.pipeline._param_types import check_annotation, describe, matches
from loopml.pipeline.artifact_types import ArtifactType

if TYPE_CHECKING:
    from loopml.pipeline.component import Component

__all__ = ["OutputRef", "Parameter", "Step", "output_of"]

_NO_DEFAULT: Any = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    """A pipeline parameter: a named value the run can override (``--param epochs=5``).

    Pass it to a component instead of a literal; the runner substitutes the run's value.

    Example:
        >>> epochs = Parameter(name="epochs", type=int, default=3)
        >>> epochs.default
        3
    """

    name: str
    type: Any
    default: Any
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise InvalidInput(f"Parameter name must be an identifier. Got {self.name!r}.")
        if not check_annotation(self.type):
            raise InvalidInput(
                f"Parameter {self.name!r}: type {describe(self.type)} is not a plain JSON-ready type."
            )
        if not matches(self.default, self.type):
            raise InvalidInput(
                f"Parameter {self.name!r}: default {self.default!r} is not a {describe(self.type)}."
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputRef:
    """One output of one step, as passed to another step's input.

    ``type`` is None for references made by name with :func:`output_of`; the pipeline resolves
    them when it is built.
    """

    step_name: str
    output: str
    type: type[ArtifactType] | None = None
    step: Step | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.step_name}.{self.output}"


def output_of(step_name: str, output: str) -> OutputRef:
    """Refer to an output by step name (for steps defined later, or built elsewhere).

    Example:
        >>> str(output_of("train", "model"))
        'train.model'
    """
    return OutputRef(step_name=step_name, output=output)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """A component bound to its inputs (output references) and parameters (values or Parameters)."""

    name: str
    component: Component
    inputs: Mapping[str, OutputRef]
    params: Mapping[str, Any]

    @classmethod
    def create(cls, name: str, *, component: Component, arguments: Mapping[str, Any]) -> Step:
        """Split bound arguments into inputs and parameters, checking parameter values.

        Raises:
            InvalidInput: for a parameter value of the wrong type, or an input that is not an
                output reference, each naming the step and the argument.
        """
        if not name.replace("-", "_").isidentifier():
            raise InvalidInput(f"Step name must be an identifier (letters, digits, _ or -). Got {name!r}.")
        inputs: dict[str, OutputRef] = {}
        params: dict[str, Any] = {}
        for key, value in arguments.items():
            if key in component.inputs:
                inputs[key] = _as_ref(value, step=name, input_name=key)
            else:
                params[key] = value
                _check_param(name, component, key, value)
        return cls(name=name, component=component, inputs=inputs, params=params)

    @property
    def outputs(self) -> Mapping[str, OutputRef]:
        """This step's outputs by name, to pass to other steps' inputs."""
        return {
            out: OutputRef(step_name=self.name, output=out, type=art, step=self)
            for out, art in self.component.outputs.items()
        }

    @property
    def output(self) -> OutputRef:
        """The only output of a single-output step.

        Raises:
            InvalidInput: when the step has several outputs or none.
        """
        outs = self.outputs
        if len(outs) != 1:
            raise InvalidInput(
                f"Step {self.name!r} has {len(outs)} outputs ({', '.join(outs) or 'none'}); "
                f"pick one with .outputs[NAME]."
            )
        return next(iter(outs.values()))


def _as_ref(value: Any, *, step: str, input_name: str) -> OutputRef:
    if isinstance(value, OutputRef):
        return value
    if isinstance(value, Step):
        return value.output
    raise InvalidInput(
        f"Step {step!r} input {input_name!r}: expected another step's output "
        f"(e.g. ingest.outputs['dataset']), got {type(value).__name__} {value!r}."
    )


def _check_param(step: str, component: Component, key: str, value: Any) -> None:
    spec = component.params[key]
    if isinstance(value, OutputRef | Step):
        raise InvalidInput(
            f"Step {step!r} (component {component.name!r}) parameter {key!r} is a plain "
            f"{describe(spec.annotation)}, not an artifact input; it cannot take the output {value}."
        )
    candidate = value.default if isinstance(value, Parameter) else value
    if not matches(candidate, spec.annotation):
        what = (
            f"pipeline parameter {value.name!r} (default {candidate!r})"
            if isinstance(value, Parameter)
            else f"{type(value).__name__} {value!r}"
        )
        raise InvalidInput(
            f"Step {step!r} (component {component.name!r}) parameter {key!r}: expected "
            f"{describe(spec.annotation)}, got {what}."
        )
