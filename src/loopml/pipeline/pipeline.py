"""A :class:`Pipeline`: named steps wired into a checked, ordered one-way graph.

Example:
    >>> from loopml.pipeline import Dataset, Model, Parameter, Pipeline, component
    >>> @component
    ... def make() -> Dataset:
    ...     return Dataset.from_properties({"rows": 3})
    >>> @component
    ... def fit(data: Dataset, *, epochs: int = 1) -> Model:
    ...     return Model.from_properties({"epochs": epochs})
    >>> data = make()
    >>> model = fit(data=data.outputs["dataset"], epochs=Parameter(name="epochs", type=int, default=2))
    >>> p = Pipeline("demo", steps=[model])   # upstream steps are included automatically
    >>> [s.name for s in p.steps], dict(p.resolve_params({"epochs": 5}))
    (['make', 'fit'], {'epochs': 5})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopml.errors import InvalidInput
from loopml.pipeline._param_types import describe, matches
from loopml.pipeline.dag import topological_order
from loopml.pipeline.step import OutputRef, Parameter, Step

__all__ = ["Pipeline"]


class Pipeline:
    """Steps wired into a DAG, validated when built.

    Args:
        name: Pipeline name (letters, digits, ``_``, ``-``, ``.``).
        steps: The steps; steps they read from through output objects are added automatically.
        description: Free text shown by ``loopml pipeline show``.

    Raises:
        InvalidInput: for duplicate step names, an input that is not wired or names an unknown
            step/output, an output of the wrong artifact type (naming both steps), a missing
            required parameter, conflicting parameter definitions, or a cycle (named).
    """

    def __init__(self, name: str, *, steps: Sequence[Step], description: str = "") -> None:
        if not name or not name.replace("-", "_").replace(".", "_").isidentifier():
            raise InvalidInput(f"Pipeline name must be letters, digits, '_', '-' or '.'. Got {name!r}.")
        self.name = name
        self.description = description
        by_name = self._collect(steps)
        for step in by_name.values():
            self._check_step(step, by_name)
        deps = {n: sorted({ref.step_name for ref in s.inputs.values()}) for n, s in by_name.items()}
        order = topological_order(deps, pipeline=name)
        self.steps: tuple[Step, ...] = tuple(by_name[n] for n in order)
        self.dependencies: Mapping[str, tuple[str, ...]] = {n: tuple(deps[n]) for n in order}
        self.parameters: Mapping[str, Parameter] = self._collect_parameters()

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, steps={[s.name for s in self.steps]})"

    def step(self, name: str) -> Step:
        """The step called ``name``.

        Raises:
            InvalidInput: naming the known steps.
        """
        for s in self.steps:
            if s.name == name:
                return s
        raise InvalidInput(
            f"Pipeline {self.name!r} has no step {name!r}; steps: {', '.join(s.name for s in self.steps)}."
        )

    def _collect(self, steps: Sequence[Step]) -> dict[str, Step]:
        by_name: dict[str, Step] = {}
        pending = list(steps)
        while pending:
            step = pending.pop(0)
            if not isinstance(step, Step):
                raise InvalidInput(
                    f"Pipeline {self.name!r}: steps must be Steps (call a component to make one). "
                    f"Got {type(step).__name__} {step!r}."
                )
            known = by_name.get(step.name)
            if known is step:
                continue
            if known is not None:
                raise InvalidInput(
                    f"Pipeline {self.name!r} has two steps named {step.name!r}; name one explicitly, "
                    f"e.g. {step.component.name}.step('{step.name}_2', ...)."
                )
            by_name[step.name] = step
            pending.extend(ref.step for ref in step.inputs.values() if ref.step is not None)
        return by_name

    def _check_step(self, step: Step, by_name: Mapping[str, Step]) -> None:
        comp = step.component
        for input_name, spec in comp.inputs.items():
            ref = step.inputs.get(input_name)
            if ref is None:
                if spec.is_optional:
                    continue
                raise InvalidInput(
                    f"Pipeline {self.name!r}: step {step.name!r} input {input_name!r} "
                    f"({spec.type.type_name}) is not wired; pass {input_name}=<step>.outputs[...]."
                )
            self._check_ref(step, input_name, ref, by_name)
        for param_name, pspec in comp.params.items():
            if pspec.is_required and param_name not in step.params:
                raise InvalidInput(
                    f"Pipeline {self.name!r}: step {step.name!r} parameter {param_name!r} "
                    f"({describe(pspec.annotation)}) has no value and no default; pass {param_name}=..."
                )

    def _check_ref(self, step: Step, input_name: str, ref: OutputRef, by_name: Mapping[str, Step]) -> None:
        producer = by_name.get(ref.step_name)
        if producer is None:
            raise InvalidInput(
                f"Pipeline {self.name!r}: step {step.name!r} input {input_name!r} reads {ref}, but there "
                f"is no step {ref.step_name!r}; steps: {', '.join(by_name)}."
            )
        produced = producer.component.outputs.get(ref.output)
        if produced is None:
            outs = ", ".join(producer.component.outputs) or "none"
            raise InvalidInput(
                f"Pipeline {self.name!r}: step {step.name!r} input {input_name!r} reads {ref}, but step "
                f"{producer.name!r} has no output {ref.output!r}; its outputs: {outs}."
            )
        expected = step.component.inputs[input_name].type
        if not issubclass(produced, expected):
            raise InvalidInput(
                f"Pipeline {self.name!r}: step {step.name!r} input {input_name!r} expects "
                f"{expected.type_name}, but step {producer.name!r} output {ref.output!r} is "
                f"{produced.type_name}; wire an output of type {expected.type_name}."
            )

    def _collect_parameters(self) -> dict[str, Parameter]:
        found: dict[str, Parameter] = {}
        for step in self.steps:
            for value in step.params.values():
                if not isinstance(value, Parameter):
                    continue
                known = found.get(value.name)
                if known is not None and known != value:
                    raise InvalidInput(
                        f"Pipeline {self.name!r}: parameter {value.name!r} is defined twice with "
                        f"different types or defaults ({known} vs {value}); define it once and reuse it."
                    )
                found[value.name] = value
        return found

    def resolve_params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Values of all pipeline parameters: defaults, replaced by ``overrides``.

        Raises:
            InvalidInput: for an unknown parameter name or a value of the wrong type.
        """
        values = {name: p.default for name, p in self.parameters.items()}
        for key, value in (overrides or {}).items():
            param = self.parameters.get(key)
            if param is None:
                known = ", ".join(self.parameters) or "none"
                raise InvalidInput(
                    f"Pipeline {self.name!r} has no parameter {key!r}; its parameters: {known}."
                )
            if not matches(value, param.type):
                raise InvalidInput(
                    f"Pipeline {self.name!r} parameter {key!r}: expected {describe(param.type)}, "
                    f"got {type(value).__name__} {value!r}."
                )
            values[key] = value
        return values
