"""REST API round trips over a live loopback server, and the SDK in remote mode."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import httpx
import pytest

from loopml.config import Settings
from loopml.errors import Conflict, InvalidState, NotFound
from loopml.tracking import Client

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def test_health_readiness_and_openapi(server_url: str) -> None:
    assert httpx.get(server_url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server_url + "/readyz").json() == {"status": "ready"}
    doc = httpx.get(server_url + "/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/runs/{run_id}/log-batch" in doc["paths"]


def test_every_response_has_security_headers(api: httpx.Client) -> None:
    for response in (api.get("/experiments"), api.get("/runs/" + "0" * 32)):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert "default-src 'none'" in response.headers["content-security-policy"]


def test_experiment_and_run_round_trip(api: httpx.Client) -> None:
    exp = api.post("/experiments", json={"name": "round-trip", "tags": {"team": "ml"}})
    assert exp.status_code == 201 and exp.json()["tags"] == {"team": "ml"}
    exp_id = exp.json()["experiment_id"]
    assert api.get("/experiments/by-name/round-trip").json()["experiment_id"] == exp_id
    run = api.post("/runs", json={"experiment_id": exp_id, "name": "r1"}).json()
    batch = {
        "metrics": [
            {"key": "loss", "value": 0.5, "step": 0, "timestamp": 1},
            {"key": "loss", "value": "NaN", "step": 1, "timestamp": 2},
            {"key": "auc", "value": "Infinity", "step": 0, "timestamp": 3},
        ],
        "params": {"lr": "0.1"},
        "tags": {"k": "v"},
    }
    assert api.post(f"/runs/{run['run_id']}/log-batch", json=batch).status_code == 204
    got = api.get(f"/runs/{run['run_id']}").json()
    assert got["params"] == {"lr": "0.1"} and got["metrics"] == {"loss": "NaN", "auc": "Infinity"}
    history = api.get(f"/runs/{run['run_id']}/metric-history", params={"key": "loss"}).json()["metrics"]
    assert [p["value"] for p in history] == [0.5, "NaN"]
    found = api.post("/runs/search", json={"experiment_ids": [exp_id], "filter": "params.lr = '0.1'"}).json()
    assert [r["name"] for r in found["runs"]] == ["r1"]
    done = api.post(f"/runs/{run['run_id']}/status", json={"status": "FINISHED"}).json()
    assert done["status"] == "FINISHED" and done["end_time"] is not None


def test_domain_errors_map_to_statuses(api: httpx.Client, run_id: str) -> None:
    missing = api.get("/runs/" + "0" * 32)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert "loopml runs list" in missing.json()["error"]["message"]
    api.post(f"/runs/{run_id}/log-batch", json={"params": {"p": "1"}})
    clash = api.post(f"/runs/{run_id}/log-batch", json={"params": {"p": "2"}})
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "conflict"
    api.post(f"/runs/{run_id}/status", json={"status": "KILLED"})
    ended = api.post(f"/runs/{run_id}/log-batch", json={"params": {"q": "1"}})
    assert ended.status_code == 409 and ended.json()["error"]["code"] == "invalid_state"


def test_artifact_upload_download_streamed_and_verified(api: httpx.Client, run_id: str) -> None:
    data = bytes(range(256)) * 700  # 179,200 bytes: several chunks, under the test limit
    up = api.put(f"/runs/{run_id}/artifacts/model/weights.bin", content=data)
    assert up.status_code == 201
    art = up.json()
    assert art["sha256"] == hashlib.sha256(data).hexdigest() and art["size"] == len(data)
    assert art["name"] == "model/weights.bin"
    down = api.get(f"/runs/{run_id}/artifacts/model/./weights.bin")
    assert down.status_code == 200 and down.content == data
    assert down.headers["x-content-sha256"] == art["sha256"]
    blob = api.get(f"/blobs/{art['sha256']}")
    assert blob.content == data
    listed = api.get("/artifacts", params={"run_id": run_id}).json()["artifacts"]
    assert [a["artifact_id"] for a in listed] == [art["artifact_id"]]


def test_blob_upload_refuses_a_wrong_hash(api: httpx.Client) -> None:
    response = api.put("/blobs", content=b"abc", headers={"X-Content-SHA256": "0" * 64})
    assert response.status_code == 422 and response.json()["error"]["code"] == "integrity_error"


def test_lineage_walk(api: httpx.Client, run_id: str) -> None:
    art = api.put(f"/runs/{run_id}/artifacts/out.txt", content=b"x").json()
    exe = api.post("/executions", json={"type": "component", "name": "train"}).json()
    events = api.post(
        f"/executions/{exe['execution_id']}/events",
        json={"events": [{"artifact_id": art["artifact_id"], "type": "OUTPUT", "role": "model"}]},
    )
    assert events.status_code == 201
    graph = api.get(f"/lineage/{art['artifact_id']}", params={"direction": "upstream"}).json()
    assert graph["root"] == art["artifact_id"]
    assert {n["kind"] for n in graph["nodes"]} == {"artifact", "execution"}
    assert graph["edges"][0]["event_type"] == "OUTPUT"


def test_datasets_listing(api: httpx.Client) -> None:
    assert api.get("/datasets").json() == {"artifacts": [], "next_page_token": None}
    missing = api.get("/datasets/nope@1")
    assert missing.status_code == 404


def test_sdk_in_remote_mode(server_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "client", tracking_uri=server_url, metric_flush_size=50)
    client = Client(settings)
    try:
        with client.start_run("remote-sdk") as run:
            for step in range(120):  # buffered: flushed in batches of 50 and at run end
                client.log_metric(run.run_id, "loss", 1.0 / (step + 1), step=step)
            client.log_param(run.run_id, "lr", "0.1")
            source = tmp_path / "notes.txt"
            source.write_text("hello over http")
            (artifact,) = client.log_artifact(run.run_id, source)
        assert client.store.url == server_url
        stored = client.get_run(run.run_id)
        assert stored.status.value == "FINISHED" and stored.params == {"lr": "0.1"}
        assert len(client.get_metric_history(run.run_id, "loss")) == 120
        target = client.download_artifact(artifact.artifact_id, tmp_path / "back.txt")
        assert target.read_text() == "hello over http"
        assert client.verify_artifact(artifact.artifact_id).sha256 == artifact.sha256
        with pytest.raises(InvalidState):
            client.log_param(run.run_id, "late", "1")
        with pytest.raises(NotFound):
            client.get_run("f" * 32)
        with pytest.raises(Conflict):
            client.create_experiment("remote-sdk")
    finally:
        client.close()
    assert not math.isnan(stored.metrics["loss"])


def test_models_read_only_routes(api: httpx.Client) -> None:
    assert api.get("/models").json() == {"models": []}
    missing = api.get("/models/churn")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api.get("/models/churn/versions").status_code == 404


def test_buffered_metrics_reach_the_server_at_exit(server_url: str, tmp_path: Path) -> None:
    """A script that never ends its run: the client flushes the buffer and ends the run at exit."""
    import os
    import subprocess
    import sys

    script = (
        "import loopml\n"
        "run = loopml.start_run(experiment='at-exit')\n"
        "for i in range(80):\n"
        "    loopml.log_metric('x', float(i), step=i)\n"
        "print(run.run_id)\n"
    )
    env = {**os.environ, "LOOPML_TRACKING_URI": server_url, "LOOPML_HOME": str(tmp_path / "h")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=server_url + "/api/v1") as api:
        run = api.get(f"/runs/{run_id}").json()
        history = api.get(f"/runs/{run_id}/metric-history", params={"key": "x"}).json()["metrics"]
    assert run["status"] == "FINISHED" and len(history) == 80, done.stderr
    assert not (tmp_path / "h" / "store.db").exists()  # nothing went to a local store


def test_cli_in_remote_mode(server_url: str, tmp_path: Path) -> None:
    """The same CLI against the server: LOOPML_TRACKING_URI switches the store."""
    import json
    import os
    import subprocess
    import sys

    with httpx.Client(base_url=server_url + "/api/v1") as api:
        api.post("/experiments", json={"name": "seen-by-cli"})
    env = {**os.environ, "LOOPML_TRACKING_URI": server_url, "LOOPML_HOME": str(tmp_path / "h")}
    cmd = [sys.executable, "-c", "from loopml.cli.app import main; main()", "experiments", "list", "--json"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "seen-by-cli" in [e["name"] for e in json.loads(done.stdout)["items"]]
