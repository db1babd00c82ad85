"""The server gets its blob store from the composition root: the encryption key reaches REST uploads.

Models uploaded over REST are stored encrypted when ``artifacts_encryption_key`` is set, and
blobs the SDK (or CLI) wrote encrypted read back through the server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.artifacts import BlobStore, blob_uri
from loopml.artifacts._encryption import MAGIC
from loopml.config import Settings
from loopml.errors import InvalidInput
from loopml.registry import package_model
from loopml.server.background import serve_in_thread
from loopml.tracking import Client

KEY = "5a" * 32


def _stored_file(home: Path, sha256: str) -> Path:
    return home / "artifacts" / blob_uri(sha256)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keyed")


@pytest.fixture(scope="module")
def settings(home: Path) -> Settings:
    return Settings(home=home, artifacts_encryption_key=KEY)


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[httpx.Client]:
    with serve_in_thread(settings) as url, httpx.Client(base_url=url + "/api/v1", timeout=60) as client:
        yield client


def test_a_model_uploaded_over_rest_is_encrypted_at_rest(
    api: httpx.Client, home: Path, tmp_path: Path
) -> None:
    frame = pd.DataFrame(np.random.default_rng(1).normal(size=(60, 2)), columns=["a", "b"])
    model = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    package = package_model(model, tmp_path / "pkg", sample=frame).path
    files: dict[str, str] = {}
    plain: dict[str, bytes] = {}
    for path in sorted(p for p in package.rglob("*") if p.is_file()):
        data = path.read_bytes()
        answer = api.put("/blobs", content=data)
        assert answer.status_code == 201, answer.text
        files[path.relative_to(package).as_posix()] = answer.json()["sha256"]
        plain[answer.json()["sha256"]] = data
    created = api.post("/models/churn/versions", json={"files": files})
    assert created.status_code == 201, created.text
    manifest = created.json()["manifest_sha256"]
    for sha256 in [*plain, manifest]:
        raw = _stored_file(home, sha256).read_bytes()
        assert raw.startswith(MAGIC), f"blob {sha256} is stored in plaintext"
        assert sha256 not in plain or plain[sha256] not in raw
    with pytest.raises(InvalidInput, match="encrypted"):
        BlobStore(home / "artifacts").read_bytes(manifest)  # without the key it cannot be read
    for path, sha256 in files.items():
        down = api.get(f"/models/churn/versions/1/files/{path}")
        assert down.status_code == 200 and down.content == plain[sha256]


def test_a_blob_the_sdk_wrote_encrypted_reads_back_through_the_server(
    api: httpx.Client, settings: Settings, home: Path
) -> None:
    text = "written by the SDK with the key\n" * 20
    client = Client(settings)
    try:
        with client.start_run("sdk") as run:
            artifact = client.log_text(run.run_id, text, "notes.txt")
    finally:
        client.close()
    assert artifact.sha256 is not None
    assert _stored_file(home, artifact.sha256).read_bytes().startswith(MAGIC)
    down = api.get(f"/blobs/{artifact.sha256}")
    assert down.status_code == 200, down.text
    assert down.content == text.encode()
    assert hashlib.sha256(down.content).hexdigest() == artifact.sha256
