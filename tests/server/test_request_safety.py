"""Request safety: each attack of the issue gets the right 4xx, a JSON error, and writes nothing."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from loopml.errors import InvalidInput
from loopml.server._listen import check_bind


def _error(response: httpx.Response, status: int, code: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    if code is not None:
        assert body["code"] == code
    return str(body["message"])


def _no_artifacts(api: httpx.Client, run_id: str) -> None:
    assert api.get("/artifacts", params={"run_id": run_id}).json()["artifacts"] == []


def _raw_put(server_url: str, path: str, body: bytes = b"x") -> tuple[int, dict[str, Any]]:
    """PUT with the path sent byte for byte (httpx would resolve '..' before sending)."""
    parts = urlsplit(server_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("PUT", path, body=body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


# --- artifact paths --------------------------------------------------------------------------------


def test_literal_dot_dot_traversal(server_url: str, api: httpx.Client, run_id: str) -> None:
    status, body = _raw_put(server_url, f"/api/v1/runs/{run_id}/artifacts/a/../../../etc/passwd")
    assert status in (400, 404)
    assert "error" in body
    _no_artifacts(api, run_id)


def test_percent_encoded_dots(api: httpx.Client, run_id: str) -> None:
    message = _error(api.put(f"/runs/{run_id}/artifacts/a/%2e%2e/%2E%2E/etc/passwd", content=b"x"), 400)
    assert "'..'" in message and "traversal" in message
    _no_artifacts(api, run_id)


def test_double_encoded_dots(api: httpx.Client, run_id: str) -> None:
    message = _error(api.put(f"/runs/{run_id}/artifacts/%252e%252e/secret", content=b"x"), 400)
    assert "percent-encoded" in message
    _no_artifacts(api, run_id)


def test_absolute_path(api: httpx.Client, run_id: str) -> None:
    message = _error(api.put(f"/runs/{run_id}/artifacts//etc/passwd", content=b"x"), 400)
    assert "absolute" in message
    _no_artifacts(api, run_id)


def test_windows_drive_path(api: httpx.Client, run_id: str) -> None:
    message = _error(api.put(f"/runs/{run_id}/artifacts/C:/Windows/win.ini", content=b"x"), 400)
    assert "absolute" in message
    _no_artifacts(api, run_id)


def test_nul_byte(api: httpx.Client, run_id: str) -> None:
    message = _error(api.put(f"/runs/{run_id}/artifacts/model%00.txt", content=b"x"), 400)
    assert "NUL" in message
    _no_artifacts(api, run_id)


def test_backslashes(api: httpx.Client, run_id: str) -> None:
    message = _error(api.put(f"/runs/{run_id}/artifacts/a%5c..%5c..%5cwin.ini", content=b"x"), 400)
    assert "backslash" in message
    _no_artifacts(api, run_id)


def test_download_path_is_confined_too(api: httpx.Client, run_id: str) -> None:
    _error(api.get(f"/runs/{run_id}/artifacts/%2e%2e/%2e%2e/store.db"), 400)


# --- artifact URIs -----------------------------------------------------------------------------------


def _record(api: httpx.Client, uri: str, *, is_reference: bool) -> httpx.Response:
    body = {
        "type": "Dataset",
        "name": "d",
        "uri": uri,
        "sha256": None,
        "size": None,
        "is_reference": is_reference,
    }
    return api.post("/artifacts", json=body)


def test_file_url_outside_root(api: httpx.Client) -> None:
    message = _error(_record(api, "file:///etc/passwd", is_reference=True), 400, "invalid_input")
    assert "outside the artifact root" in message
    assert api.get("/artifacts", params={"name": "d"}).json()["artifacts"] == []


def test_web_url_reference(api: httpx.Client) -> None:
    message = _error(_record(api, "http://169.254.169.254/latest/meta-data", is_reference=True), 400)
    assert "never fetches" in message


def test_reference_escaping_root_with_dots(api: httpx.Client, server_home: Any) -> None:
    uri = f"file://{server_home}/artifacts/../store.db"
    message = _error(_record(api, uri, is_reference=True), 400)
    assert "'..'" in message


def test_stored_uri_must_be_relative(api: httpx.Client) -> None:
    message = _error(_record(api, "/etc/shadow", is_reference=False), 400)
    assert "relative to the artifact root" in message
    _error(_record(api, "s3://bucket/key", is_reference=False), 400)


def test_reference_inside_root_is_accepted(api: httpx.Client, server_home: Any) -> None:
    response = _record(api, f"file://{server_home}/artifacts/shared/train.parquet", is_reference=True)
    assert response.status_code == 201


# --- artifact names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("\uff0e\uff0e/\uff0e\uff0e/etc/passwd", "'..' segment"),  # full-width dots, NFKC '..'
        ("%c0%ae%c0%ae/etc", "not valid UTF-8"),  # overlong UTF-8 for '.'
        ("..;/admin", "'..' segment"),  # a path parameter after '..'
        ("a/%2e%2e/b", "'..' segment"),
    ],
)
def test_artifact_names_that_traverse_are_refused(api: httpx.Client, name: str, rule: str) -> None:
    body = {"type": "File", "name": name, "uri": "notes/x", "sha256": None, "size": None}
    response = api.post("/artifacts", json=body)
    message = _error(response, 400, "invalid_input")
    assert "artifact name" in message and rule in message


# --- bodies --------------------------------------------------------------------------------------------


def test_body_too_large(api: httpx.Client) -> None:
    huge = {"name": "x", "tags": {f"k{i}": "v" * 100 for i in range(1000)}}
    _error(api.post("/experiments", json=huge), 413, "payload_too_large")
    assert api.get("/experiments/by-name/x").status_code == 404


def test_streamed_body_too_large_without_content_length(api: httpx.Client, run_id: str) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b"z" * 8192  # 800 KiB, over the 256 KiB artifact limit of the test server

    _error(api.put(f"/runs/{run_id}/artifacts/big.bin", content=chunks()), 413, "payload_too_large")
    _no_artifacts(api, run_id)


def test_upload_too_large_by_content_length(api: httpx.Client, run_id: str) -> None:
    _error(api.put(f"/runs/{run_id}/artifacts/big.bin", content=b"z" * 300_000), 413, "payload_too_large")
    _no_artifacts(api, run_id)


def test_json_too_deep(api: httpx.Client) -> None:
    deep = '{"name": "deep", "tags": ' + "[" * 40 + "]" * 40 + "}"
    message = _error(
        api.post("/experiments", content=deep, headers={"content-type": "application/json"}), 400
    )
    assert "deeper than 16" in message


def test_json_recursion_bomb(api: httpx.Client) -> None:
    bomb = "[" * 50_000
    response = api.post("/experiments", content=bomb, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] in ("too_deep", "malformed_json")


def test_batch_too_large(api: httpx.Client, run_id: str) -> None:
    metrics = [{"key": "m", "value": 1.0, "step": i, "timestamp": 1} for i in range(101)]
    message = _error(api.post(f"/runs/{run_id}/log-batch", json={"metrics": metrics}), 400, "batch_too_large")
    assert "101 metrics" in message and "100" in message
    assert api.get(f"/runs/{run_id}").json()["metrics"] == {}


def test_search_filter_injection_is_a_value(api: httpx.Client, run_id: str) -> None:
    exp_id = api.get(f"/runs/{run_id}").json()["experiment_id"]
    body = {"experiment_ids": [exp_id], "filter": "params.x = '' OR 1=1; DROP TABLE runs; --'"}
    response = api.post("/runs/search", json=body)
    assert response.status_code in (200, 400)
    assert api.get(f"/runs/{run_id}").status_code == 200  # the table is still there


def test_search_filter_bad_grammar(api: httpx.Client, run_id: str) -> None:
    exp_id = api.get(f"/runs/{run_id}").json()["experiment_id"]
    _error(api.post("/runs/search", json={"experiment_ids": [exp_id], "filter": "1=1 UNION SELECT *"}), 400)


# --- binding ---------------------------------------------------------------------------------------


def test_non_loopback_bind_needs_auth() -> None:
    with pytest.raises(InvalidInput, match="without authentication"):
        check_bind("0.0.0.0", auth_enabled=False)
    check_bind("0.0.0.0", auth_enabled=True)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_bind(host, auth_enabled=False)
