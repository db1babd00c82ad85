"""``import_mlflow`` copies a real MLflow server's experiments, runs and artifacts, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.artifacts import BlobStore
from loopml.errors import InvalidInput
from loopml.store.entities import RunStatus, every_item
from loopml.store.sql import open_store
from loopml.tracking.mlflow_import import DONE_TAG, SOURCE_RUN_TAG, MlflowSource, import_mlflow
from tests.server.mlflow.conftest import mlflow_interpreter, mlflow_server_running, run_mlflow

pytestmark = pytest.mark.slow

LOG = r"""
import json, os, tempfile, mlflow
from mlflow.entities import Metric
mlflow.set_experiment("imported")
client = mlflow.MlflowClient()
out = {}
with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_params({"lr": 0.1, "depth": 4})
    points = [Metric("loss", 1 / (i + 1), 1000 + i, i) for i in range(3000)]
    client.log_batch(parent.info.run_id, metrics=points)
    mlflow.set_tag("team", "growth")
    d = tempfile.mkdtemp()
    os.makedirs(os.path.join(d, "plots"))
    open(os.path.join(d, "plots", "roc.svg"), "w").write("<svg/>" * 100)
    open(os.path.join(d, "model.bin"), "wb").write(bytes(range(256)) * 100)
    mlflow.log_artifacts(d)
    with mlflow.start_run(run_name="child", nested=True) as child:
        mlflow.log_metric("acc", 0.75)
mlflow.set_experiment("second")
with mlflow.start_run(run_name="failed") as other:
    mlflow.log_param("x", "1")
client.set_terminated(other.info.run_id, "FAILED")
print(json.dumps([parent.info.run_id, child.info.run_id, other.info.run_id]))
"""


@pytest.fixture(scope="module")
def mlflow_python() -> Path:
    return mlflow_interpreter()


@pytest.fixture(scope="module")
def mlflow_server(mlflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server_running(mlflow_python, tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


def test_import_copies_everything_once_and_resumes(
    mlflow_python: Path, mlflow_server: str, tmp_path: Path
) -> None:
    parent_id, child_id, failed_id = run_mlflow(mlflow_python, LOG, uri=mlflow_server)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    blobs = BlobStore(tmp_path / "blobs")
    source = MlflowSource(mlflow_server)
    try:
        stop_after_first = []

        def interrupt(experiment: str, run_id: str, copied: bool) -> None:
            stop_after_first.append(run_id)
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            import_mlflow(source, store, blobs, on_run=interrupt)
        first = import_mlflow(source, store, blobs)
        again = import_mlflow(source, store, blobs)

        assert (first.runs, first.skipped_runs) == (2, 1)  # the run copied before the interruption
        assert (again.runs, again.skipped_runs, again.artifacts) == (0, 3, 0)
        experiment = store.experiments.get_by_name("imported")
        runs = {
            r.tags[SOURCE_RUN_TAG]: r
            for r in every_item(lambda t: store.runs.search([experiment.experiment_id], page_token=t))
        }
        parent, child = runs[parent_id], runs[child_id]
        assert parent.params == {"lr": "0.1", "depth": "4"} and parent.tags["team"] == "growth"
        assert parent.status is RunStatus.FINISHED and parent.tags[DONE_TAG] == "true"
        history = store.runs.get_metric_history(parent.run_id, "loss")
        assert [(p.step, p.value, p.timestamp) for p in history] == [
            (i, 1 / (i + 1), 1000 + i) for i in range(3000)
        ]
        assert child.parent_run_id == parent.run_id and child.metrics == {"acc": 0.75}
        files = {a.name: a for a in store.artifacts.list(run_id=parent.run_id).items}
        assert sorted(files) == ["model.bin", "plots/roc.svg"]
        assert blobs.read_bytes(files["model.bin"].sha256 or "") == bytes(range(256)) * 100
        second = store.experiments.get_by_name("second")
        [failed] = store.runs.search([second.experiment_id]).items
        assert failed.tags[SOURCE_RUN_TAG] == failed_id and failed.status is RunStatus.FAILED
    finally:
        source.close()
        store.close()


def test_a_store_path_is_refused_with_the_way_to_import_it() -> None:
    with pytest.raises(InvalidInput, match="mlflow server --backend-store-uri"):
        MlflowSource("sqlite:///mlflow.db")
