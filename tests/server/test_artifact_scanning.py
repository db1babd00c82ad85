"""Artifact uploads through the server are scanned: unsafe ones refused by default, or recorded with
their verdict and then served only to callers who opt in (``?allow_unsafe=true``)."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.config import Settings, UnsafeArtifacts
from loopml.errors import UnsafeArtifact
from loopml.security.uploads import SCAN_PROPERTY
from loopml.server.background import serve_in_thread
from loopml.tracking import Client


class RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


EVIL = pickle.dumps(RunsCode())
HARMLESS = pickle.dumps({"weights": [1.0, 2.0]})


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_in_thread(Settings(home=tmp_path_factory.mktemp("refusing"))) as url:
        yield url


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("recording")
    with serve_in_thread(Settings(home=home, unsafe_artifacts=UnsafeArtifacts.RECORD)) as url:
        yield url


def _run(api: httpx.Client) -> str:
    experiment = api.post("/experiments/get-or-create", json={"name": "scanning"}).json()
    return str(api.post("/runs", json={"experiment_id": experiment["experiment_id"]}).json()["run_id"])


def _api(url: str) -> httpx.Client:
    return httpx.Client(base_url=url + "/api/v1", timeout=30)


def test_unsafe_run_file_is_refused_and_nothing_is_recorded(refusing: str) -> None:
    with _api(refusing) as api:
        run = _run(api)
        refused = api.put(f"/runs/{run}/artifacts/model.pkl", content=EVIL)
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "unsafe_artifact" and "posix.system" in error["message"]
        assert api.get("/artifacts", params={"run_id": run}).json()["artifacts"] == []


def test_unsafe_blob_cannot_be_recorded_as_an_artifact(refusing: str) -> None:
    with _api(refusing) as api:
        run = _run(api)
        blob = api.put("/blobs", content=EVIL).json()
        record = {"type": "Model", "name": "m.pkl", "uri": blob["uri"], "sha256": blob["sha256"]}
        refused = api.post("/artifacts", json={**record, "size": blob["size"], "run_id": run})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "unsafe_artifact"


def test_safe_run_file_records_the_verdict(refusing: str) -> None:
    with _api(refusing) as api:
        run = _run(api)
        art = api.put(f"/runs/{run}/artifacts/weights.pkl", content=HARMLESS).json()
        assert art["properties"][SCAN_PROPERTY]["verdict"] == "safe"
        assert api.get(f"/runs/{run}/artifacts/weights.pkl").content == HARMLESS


def test_recorded_unsafe_artifact_is_served_only_with_the_opt_in(recording: str) -> None:
    with _api(recording) as api:
        run = _run(api)
        created = api.put(f"/runs/{run}/artifacts/model.pkl", content=EVIL)
        assert created.status_code == 201
        art = api.get(f"/artifacts/{created.json()['artifact_id']}").json()
        assert art["properties"][SCAN_PROPERTY]["verdict"] == "unsafe"
        for path in (f"/runs/{run}/artifacts/model.pkl", f"/blobs/{art['sha256']}"):
            refused = api.get(path)
            assert refused.status_code == 422, path
            assert "allow_unsafe=true" in refused.json()["error"]["message"]
            allowed = api.get(path, params={"allow_unsafe": "true"})
            assert allowed.status_code == 200 and allowed.content == EVIL


def test_a_verdict_sent_by_the_client_is_replaced_by_the_servers(recording: str) -> None:
    with _api(recording) as api:
        blob = api.put("/blobs", content=EVIL).json()
        forged = {SCAN_PROPERTY: {"verdict": "safe"}, "note": "kept"}
        record = {"type": "Model", "name": "forged.pkl", "uri": blob["uri"], "sha256": blob["sha256"]}
        art = api.post("/artifacts", json={**record, "size": blob["size"], "properties": forged}).json()
        assert art["properties"][SCAN_PROPERTY]["verdict"] == "unsafe" and art["properties"]["note"] == "kept"


def test_remote_sdk_logs_and_downloads_through_the_gate(recording: str, tmp_path: Path) -> None:
    evil = tmp_path / "model.pkl"
    evil.write_bytes(EVIL)
    refusing_client = Client(Settings(home=tmp_path / "a", tracking_uri=recording))
    client = Client(Settings(home=tmp_path / "b", tracking_uri=recording, unsafe_artifacts="record"))
    try:
        with client.start_run("remote-scan") as run:
            with pytest.raises(UnsafeArtifact):  # the client's own policy refuses before uploading
                refusing_client.log_artifact(run.run_id, evil)
            (art,) = client.log_artifact(run.run_id, evil)
        assert client.get_artifact(art.artifact_id).properties[SCAN_PROPERTY]["verdict"] == "unsafe"
        with pytest.raises(UnsafeArtifact, match="--allow-unsafe"):
            client.download_artifact(art.artifact_id, tmp_path / "out.pkl")
        got = client.download_artifact(art.artifact_id, tmp_path / "out.pkl", allow_unsafe=True)
        assert got.read_bytes() == EVIL
        assert client.verify_artifact(art.artifact_id).artifact_id == art.artifact_id
    finally:
        client.close()
        refusing_client.close()
