"""The MLflow REST surface over plain HTTP: envelope, limits, paging, default experiment, auth cache."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import Response

from loopml.config import Settings
from loopml.errors import Unauthorized
from loopml.security.auth import Principal, Role
from loopml.server.background import serve_in_thread
from loopml.server.mlflow.basic_auth import BasicAuthenticator
from loopml.server.mlflow.errors import MlflowRoute

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    home = tmp_path_factory.mktemp("mlflow-api")
    with serve_in_thread(Settings(home=home)) as url, httpx.Client(base_url=url + API, timeout=30) as client:
        yield client


@pytest.fixture
def run_id(api: httpx.Client, request: pytest.FixtureRequest) -> str:
    experiment = api.post("/experiments/create", json={"name": request.node.name}).json()["experiment_id"]
    return str(api.post("/runs/create", json={"experiment_id": experiment}).json()["run"]["info"]["run_id"])


def test_errors_carry_mlflow_code_and_status(api: httpx.Client) -> None:
    missing = api.get("/runs/get", params={"run_id": "f" * 32})
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "f" * 32 in missing.json()["message"]
    unknown = api.post("/runs/frobnicate", json={})
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    malformed = api.post("/runs/log-metric", json={"run_id": 5, "key": ["x"]})
    assert malformed.status_code == 400 and malformed.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_log_batch_limits_are_mlflows(api: httpx.Client, run_id: str) -> None:
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    too_many = api.post("/runs/log-batch", json={"run_id": run_id, "params": params})
    assert too_many.status_code == 400 and "at most 100 params" in too_many.json()["message"]
    metrics = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(1000)]
    tags = [{"key": "t", "value": "v"}]
    over = api.post("/runs/log-batch", json={"run_id": run_id, "metrics": metrics, "tags": tags})
    assert over.status_code == 400 and "1000 entries in all" in over.json()["message"]
    assert api.post("/runs/log-batch", json={"run_id": run_id, "metrics": metrics}).status_code == 200


def test_metric_history_pages_and_nan(api: httpx.Client, run_id: str) -> None:
    metrics = [{"key": "loss", "value": float(i), "timestamp": 1, "step": i} for i in range(10)]
    metrics.append({"key": "loss", "value": "NaN", "timestamp": 1, "step": 10})
    assert api.post("/runs/log-batch", json={"run_id": run_id, "metrics": metrics}).status_code == 200
    seen, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": "loss", "max_results": 4} | (
            {"page_token": token} if token else {}
        )
        page = api.get("/metrics/get-history", params=params).json()
        seen += [m["value"] for m in page["metrics"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == [float(i) for i in range(10)] + ["NaN"]
    bad = api.get(
        "/metrics/get-history", params={"run_id": run_id, "metric_key": "loss", "page_token": "zzz"}
    )
    assert bad.status_code == 400 and "page_token" in bad.json()["message"]


def test_default_experiment_zero_is_created_on_use(api: httpx.Client) -> None:
    run = api.post("/runs/create", json={"experiment_id": "0", "run_name": "r"}).json()["run"]
    experiment = api.get("/experiments/get", params={"experiment_id": "0"}).json()["experiment"]
    assert experiment["name"] == "Default" and run["info"]["experiment_id"] == experiment["experiment_id"]


def test_update_run_name_status_and_inputs(api: httpx.Client, run_id: str) -> None:
    dataset = {
        "dataset": {"name": "train", "digest": "abc", "source_type": "local", "source": "{}"},
        "tags": [],
    }
    assert api.post("/runs/log-inputs", json={"run_id": run_id, "datasets": [dataset]}).status_code == 200
    info = api.post("/runs/update", json={"run_id": run_id, "run_name": "renamed", "status": "KILLED"}).json()
    assert info["run_info"]["status"] == "KILLED" and info["run_info"]["run_name"] == "renamed"
    run = api.get("/runs/get", params={"run_id": run_id}).json()["run"]
    assert run["inputs"]["dataset_inputs"] == [dataset] and run["info"]["end_time"] > 0
    bad = api.post("/runs/update", json={"run_id": run_id, "status": "SCHEDULED"})
    assert bad.status_code == 400 and "RUNNING" in bad.json()["message"]


class _CountingAuth:
    def __init__(self) -> None:
        self.calls = 0

    def authenticate(self, token: str) -> Principal:
        self.calls += 1
        if token != "good":
            raise Unauthorized("bad token")
        return Principal(name="ed", role=Role.EDITOR, user_id="u1", token_id="t1")


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_credentials_are_verified_once_per_ttl() -> None:
    now = [0.0]
    fake = _CountingAuth()
    basic = BasicAuthenticator(fake, ttl_s=30, clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(5):
        assert basic.authenticate(_basic("ed", "good")).name == "ed"
    assert fake.calls == 1
    now[0] = 31.0
    basic.authenticate(_basic("ed", "good"))
    assert fake.calls == 2
    with pytest.raises(Unauthorized, match="belongs to user 'ed'"):
        basic.authenticate(_basic("mallory", "good"))
    with pytest.raises(Unauthorized, match="bad token"):
        basic.authenticate(_basic("ed", "bad"))
    with pytest.raises(Unauthorized, match="not base64"):
        basic.authenticate("%%%")


def test_mlflow_routes_need_no_path_outside_the_table(tmp_path: Path) -> None:
    from loopml.server._security import rule_for
    from loopml.server.app import create_app
    from loopml.server.mlflow.access import MLFLOW_ACCESS
    from loopml.web.routes import RouteIndex

    app = create_app(Settings(home=tmp_path))
    routes = {
        (m, t.path)
        for t in RouteIndex(app.routes).templates
        if t.path.startswith((API, "/api/3.0/mlflow"))
        for m in t.methods or ()
    }
    assert routes == set(MLFLOW_ACCESS)
    assert rule_for("POST", f"{API}/runs/log-batch").target is not None


def test_plain_handlers_render_their_json_in_their_own_thread() -> None:
    def answer(run_id: str) -> dict[str, Any]:
        return {"run": {"run_id": run_id, "values": (1, 2.5)}}

    async def coroutine() -> dict[str, Any]:
        return {}

    def response() -> Response:
        return Response(b"raw")

    route = MlflowRoute("/x", answer, methods=["POST"])
    rendered = route.endpoint("r1")  # what FastAPI calls in the worker thread
    assert isinstance(rendered, Response) and rendered.status_code == 200
    assert rendered.media_type == "application/json"
    assert rendered.body == b'{"run":{"run_id":"r1","values":[1,2.5]}}'
    assert [p.name for p in route.dependant.query_params] == ["run_id"]  # its parameters are the handler's
    assert MlflowRoute("/y", coroutine).endpoint is coroutine  # FastAPI's to render
    assert MlflowRoute("/z", response).endpoint is response
