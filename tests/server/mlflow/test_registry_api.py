"""The MLflow registry and logged-model routes over plain HTTP: registration, scan, policy, integrity."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import httpx
import pytest

from loopml.config import Settings
from loopml.server.background import serve_in_thread

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("true",))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    home = tmp_path_factory.mktemp("mlflow-registry")
    with serve_in_thread(Settings(home=home)) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def _logged_model(server: httpx.Client, name: str, files: dict[str, bytes]) -> tuple[str, str, str]:
    """A run with a logged model whose files are uploaded; (run id, experiment id, model id)."""
    experiment = server.post(f"{API}/experiments/create", json={"name": name}).json()["experiment_id"]
    run = server.post(f"{API}/runs/create", json={"experiment_id": experiment}).json()["run"]["info"][
        "run_id"
    ]
    body = {"experiment_id": experiment, "name": "model", "source_run_id": run}
    created = server.post(f"{API}/logged-models", json=body)
    assert created.status_code == 200, created.text
    model = created.json()["model"]["info"]
    assert model["status"] == "LOGGED_MODEL_PENDING"
    assert model["artifact_uri"] == f"mlflow-artifacts:/{experiment}/{run}/artifacts/model"
    for rel, data in files.items():
        put = server.put(f"{ARTIFACTS}/{experiment}/{run}/artifacts/model/{rel}", content=data)
        assert put.status_code == 200, put.text
    return run, experiment, model["model_id"]


MLMODEL = b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"


def test_logged_model_registers_with_its_scan_verdict(server: httpx.Client) -> None:
    run, experiment, model_id = _logged_model(
        server, "reg-safe", {"MLmodel": MLMODEL, "model.pkl": pickle.dumps({"coef": [1.0, 2.0]})}
    )
    got = server.get(f"{API}/logged-models/{model_id}").json()["model"]["info"]
    assert got["status"] == "LOGGED_MODEL_READY" and got["source_run_id"] == run
    assert (
        server.post(
            f"{API}/logged-models", json={"experiment_id": experiment, "name": "model", "source_run_id": run}
        ).json()["error_code"]
        == "RESOURCE_ALREADY_EXISTS"
    )
    found = server.post(
        f"{API}/logged-models/search", json={"experiment_ids": [experiment], "filter": "name = 'model'"}
    ).json()["models"]
    assert [m["info"]["model_id"] for m in found] == [model_id]

    missing_model = server.post(
        f"{API}/model-versions/create", json={"name": "safe", "source": f"models:/{model_id}"}
    )
    assert missing_model.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert server.post(f"{API}/registered-models/create", json={"name": "safe"}).status_code == 200
    created = server.post(
        f"{API}/model-versions/create", json={"name": "safe", "source": f"models:/{model_id}"}
    )
    assert created.status_code == 200, created.text
    version = created.json()["model_version"]
    assert version["version"] == "1" and version["run_id"] == run
    native = server.get("/api/v1/models/safe/versions/1").json()
    assert native["flavor"] == "mlflow" and native["scan_verdict"] == "safe" and native["is_signed"] is False

    assert (
        server.post(
            f"{API}/registered-models/alias", json={"name": "safe", "alias": "staging", "version": "1"}
        ).status_code
        == 200
    )
    by_alias = server.get(f"{API}/registered-models/alias", params={"name": "safe", "alias": "staging"})
    assert by_alias.json()["model_version"]["aliases"] == ["staging"]
    uri = server.get(f"{API}/model-versions/get-download-uri", params={"name": "safe", "version": "1"}).json()
    assert uri == {"artifact_uri": "mlflow-artifacts:/registered-models/safe/versions/1"}
    listed = server.get(ARTIFACTS, params={"path": "registered-models/safe/versions/1"}).json()["files"]
    assert [f["path"] for f in listed] == ["MLmodel", "model.pkl"]
    # production aliases need a trusted signature and a blessing: an MLflow model has neither
    refused = server.post(
        f"{API}/registered-models/alias", json={"name": "safe", "alias": "champion", "version": "1"}
    )
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert "signature" in refused.json()["message"]

    # the version serves the files it registered, whatever the run uploads later
    server.put(f"{ARTIFACTS}/{experiment}/{run}/artifacts/model/model.pkl", content=pickle.dumps([3]))
    served = server.get(f"{ARTIFACTS}/registered-models/safe/versions/1/model.pkl")
    assert served.status_code == 200 and pickle.loads(served.content) == {"coef": [1.0, 2.0]}
    missing = server.get(f"{ARTIFACTS}/registered-models/safe/versions/9/model.pkl")
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_unsafe_pickle_is_registered_marked_and_refused_an_alias(server: httpx.Client) -> None:
    _, _, model_id = _logged_model(
        server, "reg-unsafe", {"MLmodel": MLMODEL, "model.pkl": pickle.dumps(Evil())}
    )
    server.post(f"{API}/registered-models/create", json={"name": "unsafe"})
    created = server.post(
        f"{API}/model-versions/create", json={"name": "unsafe", "source": f"models:/{model_id}"}
    )
    assert created.status_code == 200, created.text
    assert server.get("/api/v1/models/unsafe/versions/1").json()["scan_verdict"] == "unsafe"
    refused = server.post(
        f"{API}/registered-models/alias", json={"name": "unsafe", "alias": "staging", "version": "1"}
    )
    assert refused.status_code == 403 and "scan" in refused.json()["message"]
    blocked = server.get(f"{ARTIFACTS}/registered-models/unsafe/versions/1/model.pkl")
    assert blocked.status_code == 400 and "unsafe" in blocked.json()["message"]


def test_registration_needs_an_mlflow_model_folder(server: httpx.Client) -> None:
    run, experiment, _ = _logged_model(server, "reg-empty", {"notes.txt": b"no MLmodel"})
    server.post(f"{API}/registered-models/create", json={"name": "empty"})
    source = f"mlflow-artifacts:/{experiment}/{run}/artifacts/model"
    missing = server.post(f"{API}/model-versions/create", json={"name": "empty", "source": source})
    assert missing.status_code == 400 and "MLmodel" in missing.json()["message"]
    foreign = server.post(
        f"{API}/model-versions/create", json={"name": "empty", "source": "s3://bucket/model"}
    )
    assert foreign.status_code == 400 and "mlflow-artifacts:/" in foreign.json()["message"]
    other_run = server.post(
        f"{API}/model-versions/create", json={"name": "empty", "source": source, "run_id": "f" * 32}
    )
    assert other_run.status_code == 400 and run in other_run.json()["message"]


def test_search_filters_order_and_pages(server: httpx.Client) -> None:
    for name in ("search-b", "search-a", "search-c", "other"):
        server.post(
            f"{API}/registered-models/create",
            json={"name": name, "tags": [{"key": "team", "value": name[-1]}]},
        )
    names, token = [], None
    while True:
        params = {
            "filter": "name LIKE 'search-%'",
            "max_results": 2,
            **({"page_token": token} if token else {}),
        }
        page = server.get(f"{API}/registered-models/search", params=params).json()
        names += [m["name"] for m in page["registered_models"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert names == ["search-a", "search-b", "search-c"]
    desc = server.get(
        f"{API}/registered-models/search", params={"filter": "name ILIKE 'SEARCH-%'", "order_by": "name DESC"}
    ).json()
    assert [m["name"] for m in desc["registered_models"]] == ["search-c", "search-b", "search-a"]
    tagged = server.get(f"{API}/registered-models/search", params={"filter": "tags.team = 'b'"}).json()
    assert [m["name"] for m in tagged["registered_models"]] == ["search-b"]
    bad = server.get(f"{API}/registered-models/search", params={"filter": "description = 'x'"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_rename_delete_and_tag_deletion(server: httpx.Client) -> None:
    tags = [{"key": "team", "value": "a"}, {"key": "tmp", "value": "x"}]
    server.post(f"{API}/registered-models/create", json={"name": "to-rename", "tags": tags})
    renamed = server.post(
        f"{API}/registered-models/rename", json={"name": "to-rename", "new_name": "renamed"}
    )
    assert renamed.status_code == 200 and renamed.json()["registered_model"]["name"] == "renamed"
    gone = server.get(f"{API}/registered-models/get", params={"name": "to-rename"})
    assert gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert (
        server.request(
            "DELETE", f"{API}/registered-models/delete-tag", json={"name": "renamed", "key": "tmp"}
        ).status_code
        == 200
    )
    model = server.get(f"{API}/registered-models/get", params={"name": "renamed"}).json()["registered_model"]
    assert model["tags"] == [{"key": "team", "value": "a"}]
    assert (
        server.request("DELETE", f"{API}/registered-models/delete", json={"name": "renamed"}).status_code
        == 200
    )
    assert server.get(f"{API}/registered-models/get", params={"name": "renamed"}).status_code == 404

    _, _, model_id = _logged_model(server, "reg-keep", {"MLmodel": MLMODEL})
    server.post(f"{API}/registered-models/create", json={"name": "kept"})
    server.post(
        f"{API}/model-versions/create", json={"name": "kept", "source": f"models:/{model_id}", "tags": tags}
    )
    dropped = server.request(
        "DELETE", f"{API}/model-versions/delete-tag", json={"name": "kept", "version": "1", "key": "tmp"}
    )
    assert dropped.status_code == 200
    version = server.get(f"{API}/model-versions/get", params={"name": "kept", "version": "1"}).json()
    assert version["model_version"]["tags"] == [{"key": "team", "value": "a"}]
    refused = server.request("DELETE", f"{API}/registered-models/delete", json={"name": "kept"})
    assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_STATE"
    assert "archive" in refused.json()["message"]
