"""No server path reaches a client; every response carries a request id that the log shares.

Errors that used to name server paths (the upload's temporary folder, the artifact store, the
reference roots) answer with the path replaced, and the request id that finds the full message
in the server's log.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.config import Settings
from loopml.server.background import serve_in_thread

_PATHY = re.compile(r"(/tmp/|/home/|/root/|/var/|loopml-upload-|file:/|artifacts')")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("request-ids")


@pytest.fixture(scope="module")
def api(home: Path) -> Iterator[httpx.Client]:
    with serve_in_thread(Settings(home=home)) as url, httpx.Client(base_url=url + "/api/v1", timeout=60) as c:
        yield c


def _run(api: httpx.Client) -> str:
    experiment = api.post("/experiments/get-or-create", json={"name": "paths"}).json()
    return str(api.post("/runs", json={"experiment_id": experiment["experiment_id"]}).json()["run_id"])


def _assert_no_path_and_an_id(response: httpx.Response, home: Path) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    text = response.text
    assert str(home) not in text and tempfile.gettempdir() + "/" not in text, text
    assert not _PATHY.search(text), text
    assert "<server path>" in error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    return error


def test_a_missing_blob_does_not_name_the_artifact_store(
    api: httpx.Client, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="loopml.server"):
        response = api.get(f"/blobs/{'0' * 64}")
    assert response.status_code == 404
    error = _assert_no_path_and_an_id(response, home)
    logged = [r.getMessage() for r in caplog.records if error["request_id"] in r.getMessage()]
    assert logged and str(home) in logged[0]  # the operator finds the full text by the id


def test_a_reference_outside_the_roots_does_not_list_them(api: httpx.Client, home: Path) -> None:
    body = {
        "type": "File",
        "name": "outside",
        "uri": "/etc/hosts",
        "is_reference": True,
        "run_id": _run(api),
        "sha256": "0" * 64,
        "size": 1,
    }
    response = api.post("/artifacts", json=body)
    assert response.status_code == 400
    error = _assert_no_path_and_an_id(response, home)
    assert "outside the artifact root" in error["message"]


def test_a_refused_model_upload_does_not_name_its_temporary_folder(api: httpx.Client, home: Path) -> None:
    blob = api.put("/blobs", content=b"not a model").json()["sha256"]
    response = api.post("/models/m/versions", json={"files": {"model.bin": blob}})
    assert response.status_code == 422
    error = _assert_no_path_and_an_id(response, home)
    assert "checksums.json" in error["message"]


def test_a_well_formed_caller_id_is_kept_and_others_replaced(api: httpx.Client) -> None:
    kept = api.get("/experiments", headers={"X-Request-ID": "ci-build.42_a"})
    assert kept.headers["X-Request-ID"] == "ci-build.42_a"
    for bad in ("x" * 65, "a b", "<script>", "-leading"):
        replaced = api.get("/experiments", headers={"X-Request-ID": bad})
        assert replaced.headers["X-Request-ID"] != bad
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])
    missing = api.get("/experiments/" + "f" * 32, headers={"X-Request-ID": "trace-7"})
    assert missing.status_code == 404 and missing.json()["error"]["request_id"] == "trace-7"
