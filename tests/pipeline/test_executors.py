"""Executors: in-process, a process pool for independent steps, Ray tasks (marked ``ray``)."""

from __future__ import annotations

import json
import os

import pytest

from loopml.artifacts import BlobStore
from loopml.errors import InvalidInput
from loopml.pipeline import (
    LocalExecutor,
    Pipeline,
    PipelineRunner,
    PipelineStatus,
    StepState,
    create_executor,
)
from loopml.store import Store

from ._components import boom, introspect, linear_pipeline, make_data, where_am_i


def _pids(runner: PipelineRunner, result_outputs: dict[str, str], store: Store) -> int:
    sha = store.artifacts.get(result_outputs["statistics"]).sha256 or ""
    return int(BlobStore(runner.blobs.root_url).read_bytes(sha).split(b'"pid":')[1].split(b",")[0])


def test_in_process_executor_runs_in_this_process(runner: PipelineRunner, store: Store) -> None:
    result = runner.run(Pipeline("p", steps=[where_am_i(tag="a")]))
    assert _pids(runner, dict(result.step("where_am_i").outputs), store) == os.getpid()


def test_process_pool_runs_independent_steps_in_workers(store: Store, blobs: BlobStore) -> None:
    executor = LocalExecutor(max_workers=2)
    try:
        runner = PipelineRunner(store, blobs, executor=executor)
        steps = [where_am_i.step(f"w{i}", tag=str(i), sleep_s=0.2) for i in range(3)]
        result = runner.run(Pipeline("fanout", steps=steps))
        assert result.status is PipelineStatus.COMPLETE
        pids = {_pids(runner, dict(s.outputs), store) for s in result.steps}
        assert os.getpid() not in pids
        chained = runner.run(linear_pipeline(epochs=3))  # dependent steps, files and folders
        assert chained.is_ok and len(chained.steps) == 4
        data = make_data()
        failed = runner.run(Pipeline("bad", steps=[boom(data=data.output)]))
        assert failed.step("boom").state is StepState.FAILED
        assert "boom on 5 rows" in (failed.step("boom").error or "")
    finally:
        executor.close()


def test_executor_names() -> None:
    assert create_executor("local", max_workers=2).name == "local"
    with pytest.raises(InvalidInput, match="Unknown executor 'dask'; choose one of: local, ray"):
        create_executor("dask")
    with pytest.raises(InvalidInput, match="max_workers"):
        LocalExecutor(max_workers=0)


@pytest.mark.ray
def test_ray_executor_runs_steps_as_tasks(ray_cluster: None, store: Store, blobs: BlobStore) -> None:
    executor = create_executor("ray")
    runner = PipelineRunner(store, blobs, executor=executor)
    result = runner.run(linear_pipeline(epochs=2))
    assert result.is_ok, [s.error for s in result.steps]
    fanout = runner.run(Pipeline("fanout", steps=[where_am_i.step(f"w{i}", tag=str(i)) for i in range(2)]))
    assert os.getpid() not in {_pids(runner, dict(s.outputs), store) for s in fanout.steps}
    data = make_data()
    failed = runner.run(Pipeline("bad", steps=[boom(data=data.output)]))
    assert failed.status is PipelineStatus.FAILED
    assert "boom on 5 rows" in (failed.step("boom").error or "")
    assert store.lineage.get_context(result.run_id).properties["executor"] == "ray"


@pytest.mark.parametrize("workers", [1, 2])
def test_components_see_their_step_and_the_store(store: Store, blobs: BlobStore, workers: int) -> None:
    executor = LocalExecutor(max_workers=workers)
    try:
        result = PipelineRunner(store, blobs, executor=executor).run(Pipeline("p", steps=[introspect()]))
    finally:
        executor.close()
    step = result.step("introspect")
    artifact = store.artifacts.get(step.outputs["statistics"])
    assert artifact.name == "facts" and artifact.version == 1
    facts = json.loads(blobs.read_bytes(artifact.sha256 or ""))
    assert facts["execution_id"] == step.execution_id and facts["attempt"] == 1
    assert facts["run"] == result.run_name
    assert (facts["pid"] == os.getpid()) is (workers == 1)
