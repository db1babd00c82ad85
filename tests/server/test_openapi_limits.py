"""The OpenAPI document states the limits the server enforces, one rule per test; each request the
document allows is served (or answered with a documented state error), never refused as malformed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loopml.config import Settings
from loopml.server.background import serve_in_thread
from loopml.server.schemas.common import INT64_MAX


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(Settings(home=tmp_path_factory.mktemp("home"))) as url,
        httpx.Client(base_url=url, timeout=30) as served,
    ):
        yield served


@pytest.fixture(scope="module")
def document(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get("/api/v1/openapi.json").json())


def _schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(document["components"]["schemas"][name])


def test_integer_bounds_are_written_as_integers(document: dict[str, Any]) -> None:
    [start] = [
        s for s in _schema(document, "RunCreate")["properties"]["start_time"]["anyOf"] if "maximum" in s
    ]
    assert start["maximum"] == INT64_MAX and isinstance(start["maximum"], int)
    [size] = [s for s in _schema(document, "ArtifactCreate")["properties"]["size"]["anyOf"] if "maximum" in s]
    assert size["maximum"] == INT64_MAX  # was 2**63 - 1, which a double rounds up to 2**63


def test_the_integer_bound_is_the_enforced_one(client: httpx.Client) -> None:
    exp = client.post("/api/v1/experiments", json={"name": "bounds"}).json()["experiment_id"]
    at_bound = client.post("/api/v1/runs", json={"experiment_id": exp, "start_time": INT64_MAX})
    assert at_bound.status_code == 201
    above = client.post("/api/v1/runs", json={"experiment_id": exp, "start_time": INT64_MAX + 1})
    assert above.status_code == 422


def test_whole_number_floats_reach_optional_integer_fields(client: httpx.Client) -> None:
    """``expected_version: 2.0`` is an integer to JSON Schema; it was refused as 'not an integer'."""
    response = client.put(
        "/api/v1/models/nobody/aliases/champion", json={"version": 1.0, "expected_version": 2.0}
    )
    assert response.status_code == 404, response.text  # the model is missing; the body was accepted
    art = client.post(
        "/api/v1/artifacts",
        json={"type": "file", "name": "f", "uri": "data/x.csv", "sha256": None, "size": 118.0},
    )
    assert art.status_code == 201, art.text
    assert art.json()["size"] == 118


def test_finishing_an_execution_takes_final_states_only(
    client: httpx.Client, document: dict[str, Any]
) -> None:
    assert _schema(document, "ExecutionFinish")["properties"]["state"]["enum"] == [
        "COMPLETE",
        "FAILED",
        "CACHED",
    ]
    exe = client.post("/api/v1/executions", json={"type": "t", "name": "n"}).json()["execution_id"]
    response = client.post(f"/api/v1/executions/{exe}/finish", json={"state": "RUNNING"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"
    assert client.post(f"/api/v1/executions/{exe}/finish", json={"state": "COMPLETE"}).status_code == 200
