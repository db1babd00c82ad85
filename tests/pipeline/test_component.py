"""The @component decorator: introspection, fingerprints, bad declarations."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from loopml.errors import InvalidInput
from loopml.pipeline import Dataset, InfraBlessing, Model, Statistics, component
from loopml.pipeline.component import Component, output_name_for

from ._components import FitOutputs, fit, make_data


def test_introspects_inputs_params_and_named_outputs() -> None:
    assert isinstance(fit, Component)
    assert {n: s.type for n, s in fit.inputs.items()} == {"data": Dataset, "stats": Statistics}
    assert list(fit.params) == ["epochs"]
    assert fit.params["epochs"].annotation is int and fit.params["epochs"].default == 1
    assert fit.outputs == {"model": Model, "stats": Statistics}
    assert fit.returns_tuple is True
    assert fit.fn.__name__ == "fit" and fit.__doc__ is not None


def test_single_output_is_named_after_its_type() -> None:
    assert make_data.outputs == {"dataset": Dataset}
    assert output_name_for(InfraBlessing) == "infra_blessing"


def test_options_and_fingerprint() -> None:
    def f(*, x: int = 1) -> Model:
        return Model.from_properties({"x": x})

    a = component(retries=2, backoff_s=0.1, cache=False, name="renamed")(f)
    b = component(version="2")(f)
    assert (a.name, a.retries, a.backoff_s, a.cache) == ("renamed", 2, 0.1, False)
    assert len(a.fingerprint) == 64
    assert a.fingerprint != b.fingerprint  # version is part of the fingerprint
    assert component(f).fingerprint == a.fingerprint  # options other than version are not


def test_optional_artifact_input() -> None:
    @component
    def g(data: Dataset | None = None) -> None:
        return None

    assert g.inputs["data"].is_optional


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("def f(x): pass", ["'x'", "no type annotation"]),
        ("def f(x: object) -> None: pass", ["'x'", "object"]),
        ("def f(*args: int) -> None: pass", ["*args"]),
        ("def f() -> int: return 1", ["return type", "int"]),
    ],
)
def test_bad_declarations_are_refused(source: str, words: list[str]) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    with pytest.raises(InvalidInput) as info:
        component(namespace["f"])
    for word in words:
        assert word in str(info.value)


class BadOutputs(NamedTuple):
    model: Model
    score: float


def test_named_tuple_fields_must_be_artifacts() -> None:
    def f() -> BadOutputs:
        raise NotImplementedError

    with pytest.raises(InvalidInput, match="output 'score'"):
        component(f)


def test_calling_a_component_binds_a_step() -> None:
    step = make_data(rows=3)
    assert step.name == "make_data" and step.params == {"rows": 3}
    named = fit.step("fit_b", data=step.output, stats=step.output)
    assert named.name == "fit_b"
    assert set(named.outputs) == set(FitOutputs._fields)


def test_unknown_argument_names_the_component() -> None:
    with pytest.raises(InvalidInput, match="'make_data'"):
        make_data(colour="red")
