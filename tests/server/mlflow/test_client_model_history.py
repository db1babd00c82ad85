"""``runs/log-model``: the MLmodel metadata a client records on its run, kept as MLflow keeps it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from loopml.server.mlflow.model_history import HISTORY_TAG
from tests.server.mlflow.conftest import run_mlflow_logged

pytestmark = pytest.mark.slow

# MLflow 3.1.4's `mlflow.<flavor>.log_model` records logged models instead; the flavors that still
# record the run's model history (Spark to a remote path, John Snow Labs) and 2.x clients call this,
# and swallow its failure with the warning below.
LOG = r"""
import json, logging, mlflow
from mlflow.models import Model
mlflow.set_experiment("model-history")
with mlflow.start_run() as run:
    for name in ("first", "second"):
        model = Model(artifact_path=name, run_id=run.info.run_id)
        model.add_flavor("sklearn", pickled_model="model.pkl", sklearn_version="1.5.0")
        model.add_flavor("python_function", loader_module="mlflow.sklearn")
        mlflow.tracking.fluent._record_logged_model(model)
print(json.dumps([run.info.run_id, mlflow.get_run(run.info.run_id).data.tags.get("HISTORY_TAG")]))
""".replace("HISTORY_TAG", HISTORY_TAG)


def test_the_run_s_model_history_is_recorded_as_mlflow_does(mlflow_python: Path, loopml_url: str) -> None:
    (run_id, history), stderr = run_mlflow_logged(mlflow_python, LOG, uri=loopml_url)
    assert "Traceback" not in stderr, stderr[-2000:]
    models = json.loads(history)
    assert [m["artifact_path"] for m in models] == ["first", "second"]
    assert all(m["run_id"] == run_id for m in models)
    assert all(set(m["flavors"]) == {"sklearn", "python_function"} for m in models)
    # loopml's own run view shows the same tag
    native = httpx.get(f"{loopml_url}/api/v1/runs/{run_id}").json()
    assert json.loads(native["tags"][HISTORY_TAG]) == models


def test_log_model_refuses_metadata_without_mlflow_s_mandatory_fields(loopml_url: str) -> None:
    run = httpx.post(f"{loopml_url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()
    run_id = run["run"]["info"]["run_id"]
    for model_json, words in (("{", "not JSON"), ('{"run_id": "x"}', "artifact_path, flavors")):
        got = httpx.post(
            f"{loopml_url}/api/2.0/mlflow/runs/log-model", json={"run_id": run_id, "model_json": model_json}
        )
        assert got.status_code == 400 and got.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert words in got.json()["message"]
    tags = httpx.get(f"{loopml_url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()
    assert HISTORY_TAG not in {t["key"] for t in tags["run"]["data"].get("tags", [])}
