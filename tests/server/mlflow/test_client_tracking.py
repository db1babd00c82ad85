"""The official MLflow client logs to and searches ``loopml server`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.server.mlflow.conftest import MlflowRunner

pytestmark = __import__("pytest").mark.slow

FLUENT = r"""
import json, mlflow
from mlflow import MlflowClient
mlflow.set_experiment("fluent")
with mlflow.start_run(run_name="first") as run:
    mlflow.log_param("lr", 0.1)
    mlflow.log_params({"depth": 3, "model": "gbm"})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"acc": 0.9, "f1": 0.8, "train/loss": 0.5})
    mlflow.set_tag("team", "growth")
    with mlflow.start_run(run_name="child", nested=True) as child:
        mlflow.log_metric("x", 1.0)
client = MlflowClient()
got = client.get_run(run.info.run_id)
kid = client.get_run(child.info.run_id)
history = client.get_metric_history(run.info.run_id, "loss")
print(json.dumps({
    "name": got.info.run_name, "status": got.info.status, "end": got.info.end_time,
    "experiment": got.info.experiment_id, "artifact_uri": got.info.artifact_uri,
    "params": got.data.params, "metrics": got.data.metrics, "tags": got.data.tags,
    "history": [[m.step, m.value] for m in history], "parent": kid.data.tags.get("mlflow.parentRunId"),
    "run_id": run.info.run_id, "default": client.get_experiment("0").name,
}))
"""


def test_fluent_api_round_trips(mlflow: MlflowRunner) -> None:
    out = mlflow(FLUENT)
    assert out["name"] == "first" and out["status"] == "FINISHED" and out["end"] > 0
    assert out["params"] == {"lr": "0.1", "depth": "3", "model": "gbm"}
    assert out["metrics"] == {"loss": 0.2, "acc": 0.9, "f1": 0.8, "train/loss": 0.5}
    assert out["tags"]["team"] == "growth" and out["tags"]["mlflow.runName"] == "first"
    assert out["tags"]["mlflow.source.type"] == "LOCAL" and "mlflow.user" in out["tags"]
    assert out["history"] == [[i, 1.0 / (i + 1)] for i in range(5)]
    assert out["parent"] == out["run_id"]
    assert out["artifact_uri"] == f"mlflow-artifacts:/{out['experiment']}/{out['run_id']}/artifacts"
    assert out["default"] == "Default"


SEARCH = r"""
import json, mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
client = MlflowClient()
exp = client.create_experiment("search")
ids = []
for i in range(30):
    run = client.create_run(exp, run_name=f"r{i:02d}", tags={"team": "ab"[i % 2]})
    client.log_batch(run.info.run_id, metrics=[Metric("acc", i / 30, 0, 0)],
                     params=[Param("model", "gbm" if i % 3 == 0 else "lr")])
    client.set_terminated(run.info.run_id)
    ids.append(run.info.run_id)
client.delete_run(ids[0])
def names(filter_string="", order_by=None, view=ViewType.ACTIVE_ONLY, max_results=1000):
    order_by = order_by or ["attributes.run_name ASC"]
    runs = client.search_runs([exp], filter_string, view, max_results, order_by)
    return [r.info.run_name for r in runs]
pages, token = [], None
while True:
    page = client.search_runs([exp], "", ViewType.ALL, 7, ["metrics.acc DESC"], page_token=token)
    pages.append([r.info.run_name for r in page])
    token = page.token
    if not token:
        break
print(json.dumps({
    "gbm_good": names("metrics.acc > 0.5 and params.model = 'gbm'"),
    "like": names("attributes.run_name LIKE 'r1%'"),
    "in": len(names("tags.team IN ('a')")),
    "status": len(names("attributes.status = 'FINISHED'")),
    "top3": names(order_by=["metrics.acc DESC"], max_results=3),
    "deleted": names(view=ViewType.DELETED_ONLY),
    "all": len(names(view=ViewType.ALL)),
    "pages": pages,
    "fluent": len(mlflow.search_runs(experiment_ids=[exp], filter_string="params.model = 'lr'")),
}))
"""


def test_search_grammar_order_views_and_pages(mlflow: MlflowRunner) -> None:
    out = mlflow(SEARCH)
    assert out["gbm_good"] == ["r18", "r21", "r24", "r27"]
    assert out["like"] == [f"r1{i}" for i in range(10)]
    assert out["in"] == 14 and out["status"] == 29  # r00 (team a) is deleted
    assert out["top3"] == ["r29", "r28", "r27"]
    assert out["deleted"] == ["r00"] and out["all"] == 30
    assert [len(p) for p in out["pages"]] == [7, 7, 7, 7, 2]
    assert [n for p in out["pages"] for n in p] == [f"r{i:02d}" for i in range(29, -1, -1)]
    assert out["fluent"] == 20


EXPERIMENTS = r"""
import json
from mlflow import MlflowClient
from mlflow.entities import ViewType
client = MlflowClient()
made = [client.create_experiment(f"exp-{i}", tags={"team": "ab"[i % 2]}) for i in range(6)]
client.delete_experiment(made[1])
client.set_experiment_tag(made[2], "stage", "prod")
def names(filter_string=None, view=ViewType.ACTIVE_ONLY, order_by=None, max_results=1000):
    found = client.search_experiments(view, max_results, filter_string, order_by or ["name ASC"])
    return [e.name for e in found if e.name.startswith("exp-")]
first = client.search_experiments(max_results=2, filter_string="name LIKE 'exp-%'", order_by=["name DESC"])
second = client.search_experiments(max_results=2, filter_string="name LIKE 'exp-%'", order_by=["name DESC"],
                                   page_token=first.token)
deleted = names(view=ViewType.DELETED_ONLY)
client.restore_experiment(made[1])
print(json.dumps({
    "team_a": names("tags.team = 'a'"), "like": names("name LIKE 'exp-%' AND tags.stage = 'prod'"),
    "deleted": deleted, "restored": names(), "pages": [[e.name for e in first], [e.name for e in second]],
    "by_name": client.get_experiment_by_name("exp-3").experiment_id == made[3],
    "missing": client.get_experiment_by_name("nope") is None,
}))
"""


def test_experiments_search_pages_views_and_restore(mlflow: MlflowRunner) -> None:
    out = mlflow(EXPERIMENTS)
    assert out["team_a"] == ["exp-0", "exp-2", "exp-4"]
    assert out["like"] == ["exp-2"]
    assert out["deleted"] == ["exp-1"]
    assert out["restored"] == [f"exp-{i}" for i in range(6)]
    assert out["pages"] == [["exp-5", "exp-4"], ["exp-3", "exp-2"]]
    assert out["by_name"] and out["missing"]


ERRORS = r"""
import json
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient()
exp = client.create_experiment("errors")
run = client.create_run(exp)
codes = {}
def code(name, call):
    try:
        call()
        codes[name] = None
    except MlflowException as err:
        codes[name] = [err.error_code, err.get_http_status_code(), err.message[:300]]
code("missing_run", lambda: client.get_run("0" * 32))
code("duplicate", lambda: client.create_experiment("errors"))
rid = run.info.run_id
code("param_changed", lambda: [client.log_param(rid, "p", "1"), client.log_param(rid, "p", "2")])
code("bad_filter", lambda: client.search_runs([exp], "metrics.acc >> 1"))
code("bad_experiment_filter", lambda: client.search_experiments(filter_string="owner = 'x'"))
print(json.dumps(codes))
"""


def test_errors_use_mlflow_codes(mlflow: MlflowRunner) -> None:
    out = mlflow(ERRORS)
    assert out["missing_run"][:2] == ["RESOURCE_DOES_NOT_EXIST", 404]
    assert out["duplicate"][:2] == ["RESOURCE_ALREADY_EXISTS", 400]
    assert out["param_changed"][0] in ("INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS")
    assert out["bad_filter"][:2] == ["INVALID_PARAMETER_VALUE", 400]
    assert (
        out["bad_experiment_filter"][0] == "INVALID_PARAMETER_VALUE"
        and "owner" in out["bad_experiment_filter"][2]
    )


HISTORY = r"""
import json, time
from mlflow import MlflowClient
from mlflow.entities import Metric
client = MlflowClient()
run = client.create_run(client.create_experiment("history"))
now = int(time.time() * 1000)
for start in range(0, 30_000, 1000):
    points = [Metric("loss", i * 0.5, now + i, i) for i in range(start, start + 1000)]
    client.log_batch(run.info.run_id, metrics=points)
history = client.get_metric_history(run.info.run_id, "loss")
print(json.dumps({"n": len(history), "steps_in_order": [m.step for m in history] == list(range(30_000)),
                  "last": history[-1].value, "latest": client.get_run(run.info.run_id).data.metrics["loss"]}))
"""


def test_large_metric_history_comes_back_whole_over_pages(mlflow: MlflowRunner) -> None:
    out = mlflow(HISTORY)
    assert out == {"n": 30_000, "steps_in_order": True, "last": 29_999 * 0.5, "latest": 29_999 * 0.5}


RENAME = r"""
import json, mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient()
eid = client.create_experiment("before-rename")
client.create_experiment("taken")
client.rename_experiment(eid, "after-rename")
try:
    client.rename_experiment(eid, "taken")
    taken = None
except MlflowException as err:
    taken = err.error_code
run = client.create_run(eid)
client.set_tag(run.info.run_id, "keep", "1")
client.set_tag(run.info.run_id, "drop/me", "2")
client.delete_tag(run.info.run_id, "drop/me")
try:
    client.delete_tag(run.info.run_id, "never-set")
    missing = None
except MlflowException as err:
    missing = err.error_code
tags = {k: v for k, v in client.get_run(run.info.run_id).data.tags.items() if not k.startswith("mlflow.")}
print(json.dumps({"name": client.get_experiment(eid).name, "taken": taken, "tags": tags, "missing": missing}))
"""


def test_experiment_rename_and_run_tag_deletion(mlflow: MlflowRunner) -> None:
    out = mlflow(RENAME)
    assert out == {
        "name": "after-rename",
        "taken": "RESOURCE_ALREADY_EXISTS",
        "tags": {"keep": "1"},
        "missing": "RESOURCE_DOES_NOT_EXIST",
    }


DATASETS = r"""
import json, mlflow
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.exceptions import MlflowException
client = MlflowClient()
exp = client.create_experiment("datasets")
def inp(name, digest, context=None):
    tags = [InputTag("mlflow.data.context", context)] if context else []
    return DatasetInput(Dataset(name, digest, "local", "file:///tmp/" + name), tags)
logged = {"a": [inp("train", "d1", "training"), inp("eval", "d2", "evaluation")],
          "b": [inp("train", "d3", "training")], "c": [inp("other", "d4")], "d": []}
for name, inputs in logged.items():
    run = client.create_run(exp, run_name=name)
    if inputs:
        client.log_inputs(run.info.run_id, inputs)
def names(filter_string):
    return sorted(r.info.run_name for r in client.search_runs([exp], filter_string))
def error(filter_string):
    try:
        client.search_runs([exp], filter_string)
    except MlflowException as err:
        return [err.error_code, err.get_http_status_code(), err.message[:300]]
fluent = mlflow.search_runs(experiment_ids=[exp], filter_string="datasets.name = 'train'")
print(json.dumps({
    "name": names("datasets.name = 'train'"),
    "digest_in": names("datasets.digest IN ('d2', 'd4')"),
    "context": names("datasets.context = 'evaluation'"),
    "context_ne": names("datasets.context != 'training'"),
    "name_ne": names("datasets.name != 'train'"),
    "not_in": names("datasets.name NOT IN ('train', 'eval')"),
    "ilike": names("dataset.name ILIKE 'TR%'"),
    "and": names("datasets.name LIKE 'tr%' and datasets.context = 'evaluation'"),
    "or": names("datasets.digest = 'd3' or datasets.name = 'other'"),
    "fluent": sorted(fluent["tags.mlflow.runName"]),
    "bad_op": error("datasets.name > 'x'"),
    "bad_null": error("datasets.name IS NULL"),
    "bad_key": error("datasets.schema = 'x'"),
}))
"""


def test_search_by_dataset_inputs(mlflow: MlflowRunner) -> None:
    # The expected runs are those MLflow's own server (3.1.4) returns for the same script, but for
    # "or", which MLflow refuses and loopml's grammar accepts.
    out = mlflow(DATASETS)
    assert out["name"] == ["a", "b"] and out["fluent"] == ["a", "b"] and out["ilike"] == ["a", "b"]
    assert out["digest_in"] == ["a", "c"] and out["name_ne"] == ["a", "c"]
    assert out["context"] == ["a"] and out["context_ne"] == ["a"]  # "c" has no context at all
    assert out["not_in"] == ["c"] and out["and"] == ["a"] and out["or"] == ["b", "c"]
    for bad, word in (("bad_op", "'>'"), ("bad_null", "IS NULL"), ("bad_key", "datasets.name")):
        assert out[bad][:2] == ["INVALID_PARAMETER_VALUE", 400], out[bad]
        assert word in out[bad][2], out[bad]
