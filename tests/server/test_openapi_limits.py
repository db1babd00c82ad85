"""The OpenAPI document states the limits the server enforces, one rule per test; each request the
document allows is served (or answered with a documented state error), never refused as malformed."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from loopml.config import Settings
from loopml.errors import InvalidInput
from loopml.server._paths import check_request_path
from loopml.server.background import serve_in_thread
from loopml.server.schemas.common import ARTIFACT_PATH_PATTERN, INT64_MAX


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


def test_page_tokens_and_sizes_are_stated_and_every_stated_one_is_served(
    client: httpx.Client, document: dict[str, Any]
) -> None:
    [token] = [
        p for p in document["paths"]["/api/v1/artifacts"]["get"]["parameters"] if p["name"] == "page_token"
    ]
    pattern = next(s for s in token["schema"]["anyOf"] if "pattern" in s)["pattern"]
    assert pattern == _schema(document, "RunSearch")["properties"]["page_token"]["anyOf"][0]["pattern"]
    assert (
        client.get("/api/v1/artifacts", params={"page_token": "999999999999999999"}).json()["artifacts"] == []
    )
    search = client.post("/api/v1/runs/search", json={"experiment_ids": [], "page_token": "0"})
    assert search.status_code == 200, search.text
    for bad in (
        "0000000000000000000000000000000000000000",
        "abc",
        "",
    ):  # were a 400 the document did not state
        assert client.get("/api/v1/artifacts", params={"page_token": bad}).status_code == 422
    for size in (0, 50_001):
        assert client.get("/api/v1/artifacts", params={"max_results": size}).status_code == 422
        body = {"experiment_ids": [], "max_results": size}
        assert client.post("/api/v1/runs/search", json=body).status_code == 422


def test_pages_follow_their_tokens(client: httpx.Client) -> None:
    for i in range(3):
        client.post(
            "/api/v1/artifacts",
            json={"type": "page", "name": f"p{i}", "uri": "d/x", "sha256": None, "size": 1},
        )
    names: list[str] = []
    params: dict[str, Any] = {"type": "page", "max_results": 2}
    while True:
        page = client.get("/api/v1/artifacts", params=params).json()
        names += [a["name"] for a in page["artifacts"]]
        if page["next_page_token"] is None:
            break
        params["page_token"] = page["next_page_token"]
    assert names == ["p0", "p1", "p2"]


@pytest.mark.parametrize(
    "path",
    ["a%14b", "a%252e", "a%5Cb", "c:x", "a/", "a//b"],  # as sent on the URL; the first three were a 400
)
def test_artifact_paths_outside_the_stated_pattern_are_refused_as_such(
    client: httpx.Client, path: str
) -> None:
    """Refused with the rule they break, before the run is looked up; the document states each rule."""
    response = client.get(f"/api/v1/runs/r/artifacts/{path}")
    assert response.status_code == 400 and "is refused" in response.json()["error"]["message"]
    body = {"files": {unquote(path): "0" * 64}}
    refused = client.post("/api/v1/models/m/versions", json=body)
    assert refused.status_code == 400 and "is refused" in refused.json()["error"]["message"]


def test_the_stated_path_pattern_is_what_the_server_checks() -> None:
    alphabet = ["a", ".", "/", ":", "%", "2", "e", "\\", "\x01", "\x85", "é", "0", "5", "c"]
    rng = random.Random(1)
    for _ in range(20_000):
        path = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
        try:
            check_request_path(path)
        except InvalidInput:
            assert re.fullmatch(ARTIFACT_PATH_PATTERN, path) is None, path
        else:
            assert re.fullmatch(ARTIFACT_PATH_PATTERN, path) is not None, path


def test_a_stated_valid_artifact_path_is_looked_up(client: httpx.Client, document: dict[str, Any]) -> None:
    files = _schema(document, "VersionRegister")["properties"]["files"]
    assert "pattern" in files["propertyNames"]
    assert client.get("/api/v1/runs/r/artifacts/a/b:c/...x").status_code == 404


@pytest.mark.parametrize(("ref", "status"), [("ds@3", 404), ("ds", 404), ("ds@x", 422), ("ds@0", 422)])
def test_dataset_refs_are_stated(client: httpx.Client, ref: str, status: int) -> None:
    assert client.get(f"/api/v1/datasets/{ref}").status_code == status


@pytest.mark.parametrize(("since", "status"), [("1h", 200), ("2026-11-28T09:00:00Z", 200), ("0" * 40, 422)])
def test_audit_since_is_stated(client: httpx.Client, since: str, status: int) -> None:
    assert client.get("/api/v1/audit", params={"since": since}).status_code == status


def test_a_run_file_type_states_the_name_rules(client: httpx.Client) -> None:
    """A control character in ``?type=`` was a 400 the document did not state."""
    response = client.put("/api/v1/runs/r/artifacts/a.txt", params={"type": "H\x04"}, content=b"x")
    assert response.status_code == 422, response.text
    found = client.put("/api/v1/runs/r/artifacts/a.txt", params={"type": "Plot"}, content=b"x")
    assert found.status_code == 404
