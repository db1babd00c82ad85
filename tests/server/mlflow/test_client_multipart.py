"""MLflow's multipart upload: parts staged, assembled whole and scanned; abort leaves nothing."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml.config import Settings
from loopml.security.auth import AuthService, Role
from loopml.security.uploads import SCAN_PROPERTY
from loopml.server.background import serve_in_thread
from loopml.store.sql import open_store
from tests.server.mlflow.conftest import MlflowRunner

pytestmark = pytest.mark.slow

MPU = "/api/2.0/mlflow-artifacts/mpu"
#: The client splits files of at least 1 MiB into 256 KiB parts (defaults: 500 MiB and 10 MiB).
MULTIPART = {
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
    "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(1024 * 1024),
    "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(256 * 1024),
}

LOG = r"""
import hashlib, json, os, pickle, tempfile, mlflow
import mlflow.store.artifact.http_artifact_repo as repo
calls = []
for name in ("create_multipart_upload", "complete_multipart_upload", "abort_multipart_upload"):
    original = getattr(repo.HttpArtifactRepository, name)
    def spy(self, *args, _name=name, _original=original, **kwargs):
        calls.append(_name)
        return _original(self, *args, **kwargs)
    setattr(repo.HttpArtifactRepository, name, spy)
folder = tempfile.mkdtemp()
big = os.path.join(folder, "weights.bin")
with open(big, "wb") as f:
    f.write(os.urandom(1024 * 1024 + 12345))
model = os.path.join(folder, "model.pkl")
with open(model, "wb") as f:
    pickle.dump({"weights": b"w" * (1024 * 1024 + 7)}, f)
mlflow.set_experiment("multipart")
with mlflow.start_run() as run:
    mlflow.log_artifact(big, artifact_path="nested/dir")
    mlflow.log_artifact(model)
    os.environ["MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"] = "false"
    mlflow.log_artifact(model, artifact_path="single")  # the same bytes, sent whole
back = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="nested/dir/weights.bin",
                                           dst_path=tempfile.mkdtemp())
print(json.dumps({"run_id": run.info.run_id, "calls": calls,
                  "sent": hashlib.sha256(open(big, "rb").read()).hexdigest(),
                  "back": hashlib.sha256(open(back, "rb").read()).hexdigest(),
                  "model": hashlib.sha256(open(model, "rb").read()).hexdigest()}))
"""

_HTTP = httpx.Client(timeout=60)  # a busy machine can take more than httpx's 5 s default


def _staged(settings: Settings) -> list[Path]:
    root = settings.home / "uploads" / "mlflow"
    return sorted(root.iterdir()) if root.exists() else []


def test_large_files_go_in_parts_and_arrive_whole_and_scanned(
    mlflow: MlflowRunner, loopml_server: tuple[str, Settings]
) -> None:
    url, settings = loopml_server
    out = mlflow(LOG, env=MULTIPART)
    # both large files went through create + complete; none was aborted
    assert out["calls"] == ["create_multipart_upload", "complete_multipart_upload"] * 2
    assert out["back"] == out["sent"]
    listed = _HTTP.get(f"{url}/api/v1/artifacts", params={"run_id": out["run_id"]}).json()["artifacts"]
    by_name = {a["name"]: a for a in listed}
    assert by_name["nested/dir/weights.bin"]["sha256"] == out["sent"]
    assert by_name["nested/dir/weights.bin"]["size"] == 1024 * 1024 + 12345
    assert by_name["model.pkl"]["sha256"] == out["model"] == by_name["single/model.pkl"]["sha256"]
    # scanned like a file sent whole: the same report as a single PUT of the same bytes
    scan = by_name["model.pkl"]["properties"][SCAN_PROPERTY]
    assert scan["verdict"] and scan == by_name["single/model.pkl"]["properties"][SCAN_PROPERTY]
    assert _staged(settings) == []  # completing removed the parts


def _create(url: str, experiment_id: str, run_id: str, parts: int, headers: dict[str, str]) -> dict[str, Any]:
    got = _HTTP.post(
        f"{url}{MPU}/create/{experiment_id}/{run_id}/artifacts/raw",
        json={"path": "/somewhere/local/data.bin", "num_parts": parts},
        headers=headers,
    )
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def _run(url: str, headers: dict[str, str]) -> tuple[str, str]:
    api = f"{url}/api/2.0/mlflow"
    experiment = _HTTP.post(f"{api}/experiments/create", json={"name": uuid.uuid4().hex}, headers=headers)
    experiment_id = experiment.json()["experiment_id"]
    run = _HTTP.post(f"{api}/runs/create", json={"experiment_id": experiment_id}, headers=headers)
    return experiment_id, run.json()["run"]["info"]["run_id"]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Settings]]:
    home = tmp_path_factory.mktemp("mlflow-mpu-auth")
    settings = Settings(home=home)
    store = open_store(settings.resolved_store_url())
    auth = AuthService(store)
    tokens = {}
    for name, role in (("ed", Role.EDITOR), ("vi", Role.VIEWER)):
        auth.create_user(name, role=role)
        tokens[name] = auth.create_token(name)[1]
    store.close()
    with serve_in_thread(settings, auth_enabled=True) as url:
        yield url, tokens, settings


def test_abort_and_bad_completions_leave_nothing(secured: tuple[str, dict[str, str], Settings]) -> None:
    url, tokens, settings = secured
    editor = {"Authorization": f"Bearer {tokens['ed']}"}
    experiment_id, run_id = _run(url, editor)
    made = _create(url, experiment_id, run_id, 2, editor)
    credentials = made["credentials"]
    assert isinstance(credentials, list) and len(credentials) == 2
    # the part URL carries the caller's credentials: the client sends a part with nothing else
    assert credentials[0]["headers"] == editor and credentials[0]["url"].endswith("/1")
    refused = _HTTP.put(credentials[0]["url"], content=b"a" * 10)
    assert refused.status_code == 401  # no credentials, no part
    viewer = _HTTP.put(
        credentials[0]["url"], content=b"a" * 10, headers={"Authorization": f"Bearer {tokens['vi']}"}
    )
    assert viewer.status_code == 403
    etags = []
    for credential, data in zip(credentials, (b"a" * 10, b"b" * 5), strict=True):
        sent = _HTTP.put(credential["url"], content=data, headers=credential["headers"])
        assert sent.status_code == 200
        etags.append(sent.headers["ETag"])
    assert etags[0] == f'"{hashlib.sha256(b"a" * 10).hexdigest()}"'
    complete = f"{url}{MPU}/complete/{experiment_id}/{run_id}/artifacts/raw"
    upload_id = made["upload_id"]
    wrong = [{"part_number": 1, "etag": etags[1]}, {"part_number": 2, "etag": etags[1]}]
    bad = _HTTP.post(complete, json={"upload_id": upload_id, "parts": wrong}, headers=editor)
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Part 1 was stored with ETag" in bad.json()["message"]
    missing = [{"part_number": 1, "etag": etags[0]}, {"part_number": 3, "etag": etags[1]}]
    assert (
        _HTTP.post(complete, json={"upload_id": upload_id, "parts": missing}, headers=editor).status_code
        == 400
    )
    listed = _HTTP.get(f"{url}/api/v1/artifacts", params={"run_id": run_id}, headers=editor).json()
    assert listed["artifacts"] == []  # nothing recorded by a refused completion
    assert len(_staged(settings)) == 1
    abort = f"{url}{MPU}/abort/{experiment_id}/{run_id}/artifacts/raw"
    assert _HTTP.post(abort, json={"upload_id": upload_id}, headers=editor).status_code == 200
    assert _staged(settings) == []  # aborting removed every part
    parts = [{"part_number": n, "etag": e} for n, e in enumerate(etags, start=1)]
    gone = _HTTP.post(complete, json={"upload_id": upload_id, "parts": parts}, headers=editor)
    assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # a completed upload is one artifact of the parts in order
    again = _create(url, experiment_id, run_id, 2, editor)
    for credential, data in zip(again["credentials"], (b"a" * 10, b"b" * 5), strict=True):
        _HTTP.put(credential["url"], content=data, headers=credential["headers"])
    done = _HTTP.post(complete, json={"upload_id": again["upload_id"], "parts": parts}, headers=editor)
    assert done.status_code == 200, done.text
    stored = _HTTP.get(f"{url}/api/v1/artifacts", params={"run_id": run_id}, headers=editor).json()[
        "artifacts"
    ]
    assert [(a["name"], a["sha256"]) for a in stored] == [
        ("raw/data.bin", hashlib.sha256(b"a" * 10 + b"b" * 5).hexdigest())
    ]
    assert _staged(settings) == []


def test_part_numbers_and_foreign_runs_are_refused(secured: tuple[str, dict[str, str], Settings]) -> None:
    url, tokens, _ = secured
    editor = {"Authorization": f"Bearer {tokens['ed']}"}
    experiment_id, run_id = _run(url, editor)
    made = _create(url, experiment_id, run_id, 1, editor)
    base = str(made["credentials"][0]["url"]).rsplit("/", 1)[0]
    outside = _HTTP.put(f"{base}/2", content=b"x", headers=editor)
    assert outside.status_code == 400 and "Part number must be in 1..1" in outside.json()["message"]
    _, other_run = _run(url, editor)
    foreign = base.replace(f"/{run_id}/", f"/{other_run}/") + "/1"
    assert _HTTP.put(foreign, content=b"x", headers=editor).status_code == 404
