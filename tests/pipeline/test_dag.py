"""Pipeline construction: order, cycles, wiring and parameter checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.errors import InvalidInput
from loopml.pipeline import Dataset, Parameter, Pipeline, component, output_of
from loopml.pipeline.dag import downstream_of, topological_order

from ._components import count_rows, inspect_model, linear_pipeline, make_data


def test_order_follows_dependencies_and_upstream_steps_are_added() -> None:
    p = linear_pipeline()
    assert [s.name for s in p.steps] == ["make_data", "count_rows", "fit", "inspect_model"]
    assert p.dependencies["fit"] == ("count_rows", "make_data")
    assert list(p.parameters) == ["epochs"]


def test_topological_order_is_stable_and_downstream_is_transitive() -> None:
    deps = {"c": ["a"], "a": [], "b": [], "d": ["c", "b"]}
    assert topological_order(deps) == ["a", "c", "b", "d"]  # ready steps in declaration order
    assert downstream_of(deps, "a") == {"c", "d"}


def test_topological_cycle_is_named_with_its_path() -> None:
    with pytest.raises(InvalidInput, match=r"Pipeline 'loop' has a cycle: a -> b -> a"):
        topological_order({"a": ["b"], "b": ["a"], "z": []}, pipeline="loop")


def test_cycle_message_from_pipeline() -> None:
    @component
    def relay(data: Dataset) -> Dataset:
        return data

    a = relay.step("a", data=output_of("b", "dataset"))
    b = relay.step("b", data=a.output)
    with pytest.raises(InvalidInput, match=r"Pipeline 'loop' has a cycle: (a -> b -> a|b -> a -> b)"):
        Pipeline("loop", steps=[a, b])


def test_missing_input_is_named() -> None:
    step = count_rows()
    with pytest.raises(InvalidInput, match=r"step 'count_rows' input 'data' \(Dataset\) is not wired"):
        Pipeline("p", steps=[step])


def test_reference_to_unknown_step_or_output_is_named() -> None:
    with pytest.raises(InvalidInput, match="no step 'ingset'"):
        Pipeline("p", steps=[make_data(), count_rows(data=output_of("ingset", "dataset"))])
    with pytest.raises(InvalidInput, match="has no output 'model'; its outputs: dataset"):
        Pipeline("p", steps=[make_data(), count_rows(data=output_of("make_data", "model"))])


def test_wrong_artifact_type_names_both_steps() -> None:
    data = make_data()
    stats = count_rows(data=data.output)
    bad = inspect_model(model=stats.output)  # Statistics into a Model input
    with pytest.raises(InvalidInput) as info:
        Pipeline("p", steps=[bad])
    message = str(info.value)
    assert "step 'inspect_model' input 'model' expects Model" in message
    assert "step 'count_rows' output 'statistics' is Statistics" in message


def test_parameter_of_wrong_type_is_refused_when_bound() -> None:
    with pytest.raises(InvalidInput, match=r"parameter 'rows': expected int, got str 'five'"):
        make_data(rows="five")
    with pytest.raises(InvalidInput, match="pipeline parameter 'rows'"):
        make_data(rows=Parameter(name="rows", type=str, default="x"))


def test_artifact_passed_as_parameter_and_literal_as_input_are_refused() -> None:
    data = make_data()
    with pytest.raises(InvalidInput, match="parameter 'rows'"):
        make_data.step("m2", rows=data.output)
    with pytest.raises(InvalidInput, match="input 'data'"):
        count_rows(data="rows.csv")


def test_duplicate_step_names_are_refused() -> None:
    with pytest.raises(InvalidInput, match="two steps named 'make_data'"):
        Pipeline("p", steps=[make_data(rows=1), make_data(rows=2)])


def test_resolve_params_checks_names_and_types() -> None:
    p = linear_pipeline()
    assert p.resolve_params({"epochs": 3}) == {"epochs": 3}
    with pytest.raises(InvalidInput, match="no parameter 'epoch'"):
        p.resolve_params({"epoch": 3})
    with pytest.raises(InvalidInput, match="expected int"):
        p.resolve_params({"epochs": "3"})


@given(st.lists(st.lists(st.integers(min_value=0, max_value=30), max_size=4), min_size=1, max_size=30))
def test_any_acyclic_graph_is_ordered_dependencies_first(raw: list[list[int]]) -> None:
    # node i may only depend on nodes < i, so the graph is acyclic; declare nodes in reverse
    deps = {f"n{i}": sorted({f"n{d % i}" for d in ds}) if i else [] for i, ds in enumerate(raw)}
    declared = dict(reversed(list(deps.items())))
    order = topological_order(declared)
    assert sorted(order) == sorted(deps)
    position = {n: k for k, n in enumerate(order)}
    assert all(position[d] < position[n] for n, ds in deps.items() for d in ds)
    assert order == topological_order(declared)  # deterministic
