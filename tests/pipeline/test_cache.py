"""Step caching: unchanged reruns, a changed parameter, --no-cache, cache=False."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopml.artifacts import BlobStore
from loopml.pipeline import Dataset, Pipeline, PipelineRunner, StepState, component
from loopml.pipeline.cache import cache_key
from loopml.store import EventType, ExecutionState, Store
from loopml.tracking.lineage import walk

from ._components import linear_pipeline


def test_second_run_is_fully_cached_with_complete_lineage(runner: PipelineRunner, store: Store) -> None:
    first = runner.run(linear_pipeline())
    second = runner.run(linear_pipeline())
    assert [s.state for s in second.steps] == [StepState.CACHED] * 4
    for before, after in zip(first.steps, second.steps, strict=True):
        assert after.outputs == before.outputs
        assert after.cached_from == before.execution_id
        cached = store.lineage.get_execution(after.execution_id or "")
        assert cached.state is ExecutionState.CACHED
        assert cached.properties["cached_from"] == before.execution_id
        # recorded once as a cache hit: no events of its own, the original stays the one producer
        assert store.lineage.list_events(execution_id=cached.execution_id) == []
    attached = {a.artifact_id for a in store.lineage.list_context_artifacts(second.run_id)}
    assert set(second.step("fit").outputs.values()) <= attached


def test_reruns_do_not_grow_the_lineage(runner: PipelineRunner, store: Store) -> None:
    first = runner.run(linear_pipeline())
    model = first.step("fit").outputs["model"]
    graph = walk(store, model, direction="both", depth=10)
    for _ in range(3):
        runner.run(linear_pipeline())
    again = walk(store, model, direction="both", depth=10)
    assert sorted(n.id for n in again.nodes) == sorted(n.id for n in graph.nodes)
    assert len(again.edges) == len(graph.edges)
    producers = [e for e in store.lineage.list_events(artifact_id=model) if e.type is EventType.OUTPUT]
    assert [e.execution_id for e in producers] == [first.step("fit").execution_id]


def test_lineage_of_a_cache_hit_shows_the_original_flow(runner: PipelineRunner, store: Store) -> None:
    first = runner.run(linear_pipeline())
    second = runner.run(linear_pipeline())
    hit = second.step("fit").execution_id or ""
    graph = walk(store, hit, direction="both", depth=1)
    assert f"cache hit of {first.step('fit').execution_id[:8]}" in graph.node(hit).label
    assert {e.target for e in graph.children(hit)} == set(first.step("fit").outputs.values())


def test_changing_one_parameter_reruns_only_that_step_and_downstream(runner: PipelineRunner) -> None:
    runner.run(linear_pipeline())
    changed = runner.run(linear_pipeline(), params={"epochs": 2})
    states = {s.name: s.state for s in changed.steps}
    assert states == {
        "make_data": StepState.CACHED,
        "count_rows": StepState.CACHED,
        "fit": StepState.COMPLETE,
        "inspect_model": StepState.COMPLETE,
    }


def test_no_cache_forces_every_step(runner: PipelineRunner) -> None:
    runner.run(linear_pipeline())
    forced = runner.run(linear_pipeline(), no_cache=True)
    assert [s.state for s in forced.steps] == [StepState.COMPLETE] * 4


@component(cache=False)
def always_runs(*, x: int = 1) -> Dataset:
    return Dataset.from_properties({"x": x})


def test_component_can_opt_out_of_caching(runner: PipelineRunner) -> None:
    pipeline = Pipeline("p", steps=[always_runs()])
    runner.run(pipeline)
    assert runner.run(pipeline).step("always_runs").state is StepState.COMPLETE


def test_cache_key_depends_on_code_params_and_input_content() -> None:
    a = Dataset(artifact_id="1", sha256="a" * 64)
    same_content = Dataset(artifact_id="2", sha256="a" * 64)
    other = Dataset(artifact_id="3", sha256="b" * 64)
    base = cache_key(fingerprint="f", params={"x": 1}, inputs={"d": a})
    assert base == cache_key(fingerprint="f", params={"x": 1}, inputs={"d": same_content})
    assert base != cache_key(fingerprint="f", params={"x": 1}, inputs={"d": other})
    assert base != cache_key(fingerprint="g", params={"x": 1}, inputs={"d": a})
    assert base != cache_key(fingerprint="f", params={"x": 2}, inputs={"d": a})


def test_run_and_cache_on_each_store_backend(store_backend: Any, store_url: str, tmp_path: Path) -> None:
    opened = store_backend.open(store_url)
    try:
        runner = PipelineRunner(opened, BlobStore(str(tmp_path / "blobs")))
        assert runner.run(linear_pipeline()).is_ok
        rerun = runner.run(linear_pipeline(), params={"epochs": 4})
        assert [s.state for s in rerun.steps] == [
            StepState.CACHED,
            StepState.CACHED,
            StepState.COMPLETE,
            StepState.COMPLETE,
        ]
    finally:
        opened.close()
