"""Listings the MLflow UI and older tools call, and logged-model deletion, checked against MLflow's server.

The same client script logs the same data to ``mlflow server`` and to ``loopml server``; the
answers of both to the same requests (``metrics/get-history-bulk-interval``, ``artifacts/list``,
``logged-models/{id}/artifacts/directories``, ``DELETE logged-models/{id}``) must agree, ids aside.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.mlflow.conftest import mlflow_interpreter, mlflow_server_running, run_mlflow

pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow"

LOG = r"""
import json, os, tempfile, mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric
client = MlflowClient()
mlflow.set_experiment(os.environ["EXPERIMENT"])
src = tempfile.mkdtemp()
os.makedirs(os.path.join(src, "plots", "deep"))
for rel, data in {"a.txt": b"alpha", "plots/roc.svg": b"<svg/>" * 10, "plots/deep/x.bin": b"x" * 300}.items():
    with open(os.path.join(src, rel), "wb") as f:
        f.write(data)
model_dir = tempfile.mkdtemp()
os.makedirs(os.path.join(model_dir, "sub"))
for rel, data in {"MLmodel": b"flavors: {}\n", "sub/weights.bin": b"w" * 64}.items():
    with open(os.path.join(model_dir, rel), "wb") as f:
        f.write(data)
with mlflow.start_run() as a:
    client.log_batch(a.info.run_id, metrics=[Metric("loss", s * 0.5, 1000 + s, s) for s in range(50)])
    mlflow.log_artifacts(src)
    mid = mlflow.create_external_model(name="m").model_id
    client.log_model_artifacts(mid, model_dir)
    gone = mlflow.create_external_model(name="gone").model_id
with mlflow.start_run() as b:
    steps = [*range(10, 21), 100]
    client.log_batch(b.info.run_id, metrics=[Metric("loss", -s, 2000 + s, s) for s in steps])
listed = sorted((f.path, f.is_dir, f.file_size) for f in client.list_logged_model_artifacts(mid))
client.delete_logged_model(gone)
client.delete_logged_model(gone)  # again: MLflow accepts it
try:
    client.get_logged_model(gone)
    after = None
except mlflow.exceptions.MlflowException as err:
    after = err.error_code
searched = sorted(m.name for m in mlflow.search_logged_models(output_format="list"))
print(json.dumps({"a": a.info.run_id, "b": b.info.run_id, "model": mid, "gone": gone,
                  "listed": listed, "after_delete": after, "searched": searched}))
"""


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server_running(mlflow_interpreter(), tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


def _requests(ids: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    runs = [ids["a"], ids["b"]]
    bulk = f"{API}/metrics/get-history-bulk-interval"
    dirs = f"{API}/logged-models/{ids['model']}/artifacts/directories"
    return {
        "bulk_default": ("GET", bulk, {"run_ids": runs, "metric_key": "loss"}),
        "bulk_sampled": ("GET", bulk, {"run_ids": runs, "metric_key": "loss", "max_results": 5}),
        "bulk_range": (
            "GET",
            bulk,
            {"run_ids": runs, "metric_key": "loss", "start_step": 15, "end_step": 45, "max_results": 4},
        ),
        "bulk_unknown_run": ("GET", bulk, {"run_ids": ["f" * 32, ids["b"]], "metric_key": "loss"}),
        "bulk_half_range": ("GET", bulk, {"run_ids": runs, "metric_key": "loss", "start_step": 3}),
        "bulk_reversed": (
            "GET",
            bulk,
            {"run_ids": runs, "metric_key": "loss", "start_step": 9, "end_step": 3},
        ),
        "bulk_too_many": ("GET", bulk, {"run_ids": runs, "metric_key": "loss", "max_results": 2501}),
        "list_root": ("GET", f"{API}/artifacts/list", {"run_id": ids["a"]}),
        "list_plots": ("GET", f"{API}/artifacts/list", {"run_id": ids["a"], "path": "plots"}),
        "list_deep": ("GET", f"{API}/artifacts/list", {"run_id": ids["a"], "path": "plots/deep/"}),
        "list_escape": ("GET", f"{API}/artifacts/list", {"run_id": ids["a"], "path": "../x"}),
        "list_unknown_run": ("GET", f"{API}/artifacts/list", {"run_id": "f" * 32}),
        "model_root": ("GET", dirs, {}),
        "model_sub": ("GET", dirs, {"artifact_directory_path": "sub"}),
        "model_deleted": ("GET", f"{API}/logged-models/{ids['gone']}/artifacts/directories", {}),
        "model_unknown": ("GET", f"{API}/logged-models/m-{'0' * 32}/artifacts/directories", {}),
        "get_deleted": ("GET", f"{API}/logged-models/{ids['gone']}", {}),
    }


def _answer(base: str, ids: dict[str, Any], method: str, path: str, params: Any) -> dict[str, Any]:
    got = httpx.request(method, base + path, params=params, timeout=60)
    body = got.json()
    if got.status_code >= 400:
        return {"status": got.status_code, "error_code": body.get("error_code")}
    labels = {ids["a"]: "A", ids["b"]: "B"}
    for metric in body.get("metrics", []):
        metric["run_id"] = labels.get(metric["run_id"], metric["run_id"])
    body.pop("root_uri", None)  # compared on its own: logged models live elsewhere in loopml
    body.setdefault("files", [])  # MLflow leaves out an empty list
    return {"status": got.status_code, **body}


def _log(url: str) -> dict[str, Any]:
    # an experiment of its own: MLflow's server outlives one parametrisation of loopml's
    out: dict[str, Any] = run_mlflow(mlflow_interpreter(), LOG, uri=url, env={"EXPERIMENT": uuid.uuid4().hex})
    return out


def test_listings_and_deletion_answer_as_mlflow(mlflow_url: str, loopml_url: str) -> None:
    theirs, ours = _log(mlflow_url), _log(loopml_url)
    for key in ("listed", "after_delete", "searched"):
        assert ours[key] == theirs[key], key
    assert ours["listed"] == [["MLmodel", False, 12], ["sub", True, None]]
    assert ours["after_delete"] == "RESOURCE_DOES_NOT_EXIST" and ours["searched"] == ["m"]
    asked = {name: _answer(loopml_url, ours, *req) for name, req in _requests(ours).items()}
    expected = {name: _answer(mlflow_url, theirs, *req) for name, req in _requests(theirs).items()}
    # the one documented difference: a logged model's files are the run's, under the model's name
    models = [f for f in asked["list_root"]["files"] if f["path"] in ("m", "gone")]
    assert models == [{"path": "gone", "is_dir": True}, {"path": "m", "is_dir": True}]
    asked["list_root"]["files"] = [f for f in asked["list_root"]["files"] if f not in models]
    for name in expected:
        assert asked[name] == expected[name], name
    # and what both say, spelled out: the sampled steps, each run's first and last step kept
    sampled = [(m["run_id"], m["step"]) for m in asked["bulk_sampled"]["metrics"]]
    assert sampled == [("A", s) for s in (0, 10, 20, 30, 40, 49)] + [("B", 10), ("B", 20), ("B", 100)]
    assert len(asked["bulk_default"]["metrics"]) == 50 + 12
    assert {m["run_id"] for m in asked["bulk_unknown_run"]["metrics"]} == {"B"}
    assert asked["bulk_reversed"] == {"status": 400, "error_code": "INVALID_PARAMETER_VALUE"}
    assert asked["list_plots"]["files"] == [
        {"path": "plots/deep", "is_dir": True},
        {"path": "plots/roc.svg", "is_dir": False, "file_size": 60},
    ]
    assert asked["model_sub"]["files"] == [{"path": "sub/weights.bin", "is_dir": False, "file_size": 64}]
    assert asked["get_deleted"] == {"status": 404, "error_code": "RESOURCE_DOES_NOT_EXIST"}
    root = httpx.get(f"{loopml_url}{API}/artifacts/list", params={"run_id": ours["a"]}).json()["root_uri"]
    assert root.endswith(f"/{ours['a']}/artifacts")


def test_empty_listings_and_limits(loopml_url: str) -> None:
    api = httpx.Client(base_url=loopml_url + API, timeout=30)
    experiment = api.post("/experiments/create", json={"name": "listing-empty"}).json()["experiment_id"]
    run = api.post("/runs/create", json={"experiment_id": experiment}).json()["run"]["info"]["run_id"]
    empty = api.get("/artifacts/list", params={"run_id": run}).json()
    assert empty["files"] == [] and empty["root_uri"] == f"mlflow-artifacts:/{experiment}/{run}/artifacts"
    none = api.get("/metrics/get-history-bulk-interval", params={"run_ids": [run], "metric_key": "loss"})
    assert none.status_code == 200 and none.json() == {"metrics": []}
    many = api.get(
        "/metrics/get-history-bulk-interval", params={"run_ids": [run] * 101, "metric_key": "loss"}
    )
    assert many.status_code == 400 and "at most 100 run_ids" in many.json()["message"]
