"""Malformed input matrix: bad JSON, bad UTF-8, wrong types, unknown fields, huge numbers -> 4xx JSON."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{", "malformed_json"),
        (b'{"name": "a",}', "malformed_json"),
        (b"\xff\xfe\x00", "bad_encoding"),
        (b'{"name": "\xc3\x28"}', "bad_encoding"),
        (b'{"name": NaN}', "malformed_json"),
        (b'{"name": Infinity}', "malformed_json"),
        (b'{"name": "a", "tags": {"k": 1e999}}', "malformed_json"),
        (b"[]", "invalid_request"),
        (b'"just a string"', "invalid_request"),
        (b"null", "invalid_request"),
    ],
)
def test_malformed_bodies(api: httpx.Client, raw: bytes, code: str) -> None:
    response = api.post("/experiments", content=raw, headers=JSON)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == code
    assert api.get("/experiments").json()["experiments"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": 1},
        {"name": None},
        {"name": ["a"]},
        {"name": True},
        {"name": "a", "tags": {"k": 1}},
        {"name": "a", "tags": ["k"]},
        {"name": "a", "unknown": 1},
        {},
    ],
)
def test_wrong_types_in_experiment_fields(api: httpx.Client, body: dict[str, Any]) -> None:
    response = api.post("/experiments", json=body)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"
    assert api.get("/experiments").json()["experiments"] == []


@pytest.mark.parametrize(
    "metric",
    [
        {"key": "m", "value": "1.0", "timestamp": 1},
        {"key": "m", "value": True, "timestamp": 1},
        {"key": "m", "value": None, "timestamp": 1},
        {"key": "m", "value": 1.0, "step": 1.5, "timestamp": 1},
        {"key": "m", "value": 1.0, "step": "1", "timestamp": 1},
        {"key": "m", "value": 1.0, "step": 10**30, "timestamp": 1},
        {"key": "m", "value": 1.0, "timestamp": -1},
        {"key": "m", "value": 1.0, "timestamp": 10**400},
        {"key": 5, "value": 1.0, "timestamp": 1},
        {"key": "m", "value": 1.0, "timestamp": 1, "extra": 0},
        {"value": 1.0, "timestamp": 1},
    ],
)
def test_wrong_types_in_metric_fields(api: httpx.Client, run_id: str, metric: dict[str, Any]) -> None:
    response = api.post(f"/runs/{run_id}/log-batch", json={"metrics": [metric]})
    assert 400 <= response.status_code < 500 and "error" in response.json()
    assert api.get(f"/runs/{run_id}").json()["metrics"] == {}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/runs", {"experiment_id": 7}),
        ("/runs", {"experiment_id": "x" * 65}),
        ("/runs", {"experiment_id": "0" * 32, "start_time": "yesterday"}),
        ("/runs/search", {"experiment_ids": "abc"}),
        ("/runs/search", {"experiment_ids": [], "max_results": 10**100}),
        ("/runs/search", {"experiment_ids": [], "order_by": [1]}),
        ("/executions", {"type": "c", "name": "n", "state": "DONE"}),
        ("/contexts", {"type": "c", "name": "n", "properties": []}),
        ("/artifacts", {"type": "t", "name": "n", "uri": "u", "sha256": None, "size": "1"}),
    ],
)
def test_wrong_types_elsewhere(api: httpx.Client, path: str, body: dict[str, Any]) -> None:
    response = api.post(path, json=body)
    assert 400 <= response.status_code < 500
    assert set(response.json()["error"]) == {"code", "message", "request_id"}


def test_unknown_routes_and_methods_are_json(api: httpx.Client) -> None:
    missing = api.get("/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = api.patch("/experiments")
    assert wrong.status_code == 405 and "error" in wrong.json()
