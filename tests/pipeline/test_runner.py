"""Running pipelines: outputs, lineage records, failures, output contracts, retries."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.artifacts import BlobStore
from loopml.errors import InvalidInput
from loopml.pipeline import (
    Parameter,
    Pipeline,
    PipelineRunner,
    PipelineStatus,
    StepState,
    component,
    get_pipeline_run,
)
from loopml.pipeline.runner import COMPONENT_EXECUTION_TYPE, PIPELINE_RUN_TYPE
from loopml.store import EventType, ExecutionState, Store

from ._components import (
    boom,
    count_rows,
    flaky,
    inspect_model,
    linear_pipeline,
    make_data,
    missing_output,
    wrong_type,
)


def test_linear_pipeline_runs_and_moves_files_and_folders(runner: PipelineRunner, store: Store) -> None:
    result = runner.run(linear_pipeline(), params={"epochs": 7})
    assert result.status is PipelineStatus.COMPLETE and result.is_ok
    assert [s.state for s in result.steps] == [StepState.COMPLETE] * 4
    check = store.artifacts.get(result.step("inspect_model").outputs["statistics"])
    assert check.type == "Statistics"
    facts = BlobStore(runner.blobs.root_url).read_bytes(check.sha256 or "")
    assert b'"files":["sub/meta.json","weights.txt"]' in facts
    assert b'"weights":"epochs=7"' in facts
    model = store.artifacts.get(result.step("fit").outputs["model"])
    assert model.properties["epochs"] == 7 and model.properties["loopml.layout"] == "directory"
    # the statistics passed through fit are the very artifact count_rows made
    assert result.step("fit").outputs["stats"] == result.step("count_rows").outputs["statistics"]


def test_lineage_events_and_context_are_recorded(runner: PipelineRunner, store: Store) -> None:
    result = runner.run(linear_pipeline())
    fit_exec = store.lineage.get_execution(result.step("fit").execution_id or "")
    assert fit_exec.type == COMPONENT_EXECUTION_TYPE and fit_exec.name == "fit"
    assert fit_exec.state is ExecutionState.COMPLETE and fit_exec.params == {"epochs": 1}
    assert fit_exec.code_version and fit_exec.cache_key
    listed = store.lineage.list_events(execution_id=fit_exec.execution_id)
    events = {(e.type, e.role): e.artifact_id for e in listed}
    assert events[(EventType.INPUT, "data")] == result.step("make_data").outputs["dataset"]
    assert events[(EventType.INPUT, "stats")] == result.step("count_rows").outputs["statistics"]
    assert events[(EventType.OUTPUT, "model")] == result.step("fit").outputs["model"]
    context = store.lineage.get_context(result.run_id)
    assert context.type == PIPELINE_RUN_TYPE and context.name == result.run_name
    assert context.properties["params"] == {"epochs": 1}
    names = {e.name for e in store.lineage.list_context_executions(result.run_id)}
    assert {"make_data", "count_rows", "fit", "inspect_model", result.run_name} <= names
    attached = {a.artifact_id for a in store.lineage.list_context_artifacts(result.run_id)}
    assert set(result.step("fit").outputs.values()) <= attached


def test_failing_component_stores_traceback_skips_downstream_and_is_not_cached(
    runner: PipelineRunner, store: Store
) -> None:
    data = make_data(rows=2)
    bad = boom(data=data.output)
    after = inspect_model(model=bad.output)
    side = count_rows(data=data.output)  # independent branch still runs
    pipeline = Pipeline("failing", steps=[after, side])
    result = runner.run(pipeline)
    assert result.status is PipelineStatus.FAILED
    assert result.step("boom").state is StepState.FAILED
    assert "RuntimeError: boom on 2 rows" in (result.step("boom").error or "")
    assert result.step("inspect_model").state is StepState.SKIPPED
    assert result.step("count_rows").state is StepState.COMPLETE
    failed = store.lineage.get_execution(result.step("boom").execution_id or "")
    assert failed.state is ExecutionState.FAILED
    assert "Traceback" in (failed.error or "") and "boom on 2 rows" in (failed.error or "")
    assert store.lineage.find_cached_execution(failed.cache_key or "") is None
    assert not [
        e for e in store.lineage.list_events(execution_id=failed.execution_id) if e.type is EventType.OUTPUT
    ]
    detail = get_pipeline_run(store, result.run_name)
    assert detail.summary.status == "FAILED"
    assert {s.name: s.state for s in detail.steps}["inspect_model"] == "SKIPPED"
    again = runner.run(pipeline)  # the failed step runs again: nothing was cached
    assert again.step("boom").state is StepState.FAILED
    assert again.step("make_data").state is StepState.CACHED


def test_wrong_output_type_fails_the_step_naming_component_and_output(runner: PipelineRunner) -> None:
    data = make_data()
    result = runner.run(Pipeline("p", steps=[wrong_type(data=data.output)]))
    step = result.step("wrong_type")
    assert step.state is StepState.FAILED and result.status is PipelineStatus.FAILED
    assert "Component 'wrong_type' output 'model': expected Model, got Dataset" in (step.error or "")
    assert step.attempts == 1


def test_missing_output_fails_the_step(runner: PipelineRunner) -> None:
    data = make_data()
    result = runner.run(Pipeline("p", steps=[missing_output(data=data.output)]))
    assert "Component 'missing_output' did not return output 'stats' (Statistics)" in (
        result.step("missing_output").error or ""
    )


def test_flaky_component_succeeds_on_third_attempt(
    runner: PipelineRunner, store: Store, tmp_path: Path
) -> None:
    result = runner.run(Pipeline("p", steps=[flaky(counter=str(tmp_path / "calls"))]))
    step = result.step("flaky")
    assert step.state is StepState.COMPLETE and step.attempts == 3
    attempts = store.lineage.get_execution(step.execution_id or "").properties["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert "transient failure 1" in attempts[0]["error"] and attempts[2]["error"] is None


def test_retries_exhausted_fail_the_step(runner: PipelineRunner, tmp_path: Path) -> None:
    result = runner.run(Pipeline("p", steps=[flaky(counter=str(tmp_path / "calls"), succeed_on=9)]))
    assert result.step("flaky").state is StepState.FAILED and result.step("flaky").attempts == 4


def test_run_time_parameter_type_error_names_component_and_parameter(runner: PipelineRunner) -> None:
    rows = Parameter(name="rows", type=int | str, default=3)
    result = runner.run(Pipeline("p", steps=[make_data(rows=rows)]), params={"rows": "many"})
    assert result.status is PipelineStatus.FAILED
    assert "Component 'make_data' parameter 'rows': expected int, got str 'many'" in (
        result.step("make_data").error or ""
    )


def test_unknown_override_is_refused_before_anything_is_recorded(
    runner: PipelineRunner, store: Store
) -> None:
    with pytest.raises(InvalidInput, match="no parameter 'epoch'"):
        runner.run(linear_pipeline(), params={"epoch": 2})
    assert store.lineage.list_contexts(type=PIPELINE_RUN_TYPE) == []


@component
def produces_nothing() -> None:
    return None


def test_component_without_outputs(runner: PipelineRunner) -> None:
    result = runner.run(Pipeline("p", steps=[produces_nothing()]))
    assert result.step("produces_nothing").state is StepState.COMPLETE
    assert result.step("produces_nothing").outputs == {}
