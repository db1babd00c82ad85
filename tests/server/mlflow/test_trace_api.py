"""The MLflow tracing routes over plain HTTP: span data checks, the server's location tag, refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def api(loopml_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=loopml_url, timeout=30) as client:
        yield client


def _start(api: httpx.Client, name: str) -> dict[str, object]:
    experiment = api.post(f"{API}/experiments/create", json={"name": name}).json()["experiment_id"]
    started = api.post(f"{API}/traces", json={"experiment_id": experiment, "timestamp_ms": "1000"})
    assert started.status_code == 200, started.text
    info: dict[str, object] = started.json()["trace_info"]
    return info


def _location(info: dict[str, object]) -> str:
    tags = info["tags"]
    assert isinstance(tags, list)
    return str(next(t["value"] for t in tags if t["key"] == "mlflow.artifactLocation"))


def test_span_data_is_one_json_object_in_its_trace_s_own_folder(api: httpx.Client) -> None:
    info = _start(api, "span-data")
    trace_id, experiment_id = info["request_id"], info["experiment_id"]
    assert info["status"] == "IN_PROGRESS" and "execution_time_ms" not in info
    folder = f"{ARTIFACTS}/{experiment_id}/traces/{trace_id}/artifacts"
    assert _location(info) == f"mlflow-artifacts:/{experiment_id}/traces/{trace_id}/artifacts"
    early = api.get(f"{folder}/traces.json")
    assert early.status_code == 404 and "no span data yet" in early.json()["message"]
    for body, words in (
        (b"not json", "not JSON"),
        (b"[1, 2]", "'spans' list"),
        (b'{"spans": 3}', "'spans' list"),
    ):
        refused = api.put(f"{folder}/traces.json", content=body)
        assert refused.status_code == 400 and words in refused.json()["message"], refused.text
    other_name = api.put(f"{folder}/model.pkl", content=b'{"spans": []}')
    assert other_name.status_code == 400 and "'traces.json' only" in other_name.json()["message"]
    elsewhere = api.put(f"{ARTIFACTS}/{'e' * 32}/traces/{trace_id}/artifacts/traces.json", content=b"{}")
    assert elsewhere.status_code == 404 and elsewhere.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    spans = json.dumps({"spans": [{"name": "root"}]}).encode()
    assert api.put(f"{folder}/traces.json", content=spans).status_code == 200
    back = api.get(f"{folder}/traces.json")
    assert back.status_code == 200 and back.content == spans
    assert back.headers["content-type"].startswith("application/json")


def test_the_location_tag_is_the_server_s(api: httpx.Client) -> None:
    info = _start(api, "location-tag")
    trace_id = info["request_id"]
    moved = [
        {"key": "mlflow.artifactLocation", "value": "mlflow-artifacts:/elsewhere"},
        {"key": "k", "value": "v"},
    ]
    ended = api.patch(
        f"{API}/traces/{trace_id}", json={"timestamp_ms": "1500", "status": "OK", "tags": moved}
    )
    assert ended.status_code == 200, ended.text
    assert _location(ended.json()["trace_info"]) == _location(info)
    assert ended.json()["trace_info"]["execution_time_ms"] == 500
    deleting = api.request("DELETE", f"{API}/traces/{trace_id}/tags", json={"key": "mlflow.artifactLocation"})
    assert deleting.status_code == 400 and "the server's" in deleting.json()["message"]
    missing = api.request("DELETE", f"{API}/traces/{trace_id}/tags", json={"key": "absent"})
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    bad_status = api.patch(f"{API}/traces/{trace_id}", json={"timestamp_ms": 1, "status": "DONE"})
    assert bad_status.status_code == 400 and "TRACE_STATUS_UNSPECIFIED" in bad_status.json()["message"]


def test_search_and_delete_refuse_what_they_cannot_do(api: httpx.Client) -> None:
    info = _start(api, "refusals")
    experiment_id = info["experiment_id"]
    nothing = api.get(f"{API}/traces")
    assert nothing.status_code == 400 and "experiment_ids" in nothing.json()["message"]
    token = api.get(f"{API}/traces", params={"experiment_ids": experiment_id, "page_token": "%%"})
    assert token.status_code == 400 and "page_token" in token.json()["message"]
    both = {"experiment_id": experiment_id, "max_timestamp_millis": 5, "request_ids": [info["request_id"]]}
    for body in (both, {"experiment_id": experiment_id}):
        refused = api.post(f"{API}/traces/delete-traces", json=body)
        assert refused.status_code == 400 and "not both or neither" in refused.json()["message"]
    too_many = api.post(
        f"{API}/traces/delete-traces",
        json={"experiment_id": experiment_id, "request_ids": [info["request_id"]], "max_traces": 1},
    )
    assert too_many.status_code == 400 and "max_traces" in too_many.json()["message"]
    old = api.post(
        f"{API}/traces/delete-traces", json={"experiment_id": experiment_id, "max_timestamp_millis": 999}
    )
    assert old.json() == {"traces_deleted": 0}  # the trace started at 1000
    found = api.get(f"{API}/traces", params={"experiment_ids": experiment_id}).json()["traces"]
    assert [t["request_id"] for t in found] == [info["request_id"]]
