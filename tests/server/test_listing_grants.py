"""Grants filter listings: restricted experiments, datasets, models and their artifacts are hidden
from users without a grant; granted users and admins see them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from loopml.artifacts import BlobStore
from loopml.config import Settings
from loopml.deploy.records import Deployment
from loopml.deploy.spec import DeploymentSpec
from loopml.security.auth import AuthService, Resource, ResourceKind, Role
from loopml.server.background import serve_in_thread
from loopml.store.sql import SqlStore, open_store
from tests.server._worlds import SecuredWorld, create_users


class World(SecuredWorld):
    """A secured server holding one restricted and one open item of each kind."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("listing-grants")
    settings = Settings(home=home)
    blobs = BlobStore(settings.resolved_artifacts_url())
    lake = home / "artifacts" / "lake"
    lake.mkdir(parents=True)
    (lake / "open.csv").write_text("a,b\n1,2\n")
    (lake / "secret.csv").write_text("a,b\n3,4\n")
    ids: dict[str, str] = {}
    with open_store(f"sqlite:///{home / 'store.db'}") as store:
        auth = AuthService(store)
        users = (("root", Role.ADMIN), ("ed", Role.EDITOR), ("ed2", Role.EDITOR))
        tokens = create_users(auth, (*users, ("vi", Role.VIEWER), ("vi2", Role.VIEWER)))
        for kind in ("secret", "open"):
            experiment = store.experiments.create(f"{kind}-exp")
            run = store.runs.create(experiment.experiment_id)
            ids[f"{kind}-exp"] = experiment.experiment_id
            ids[f"{kind}-run"] = run.run_id
            ids[f"{kind}-run-artifact"] = store.artifacts.create(
                type="File",
                name=f"{kind}-file",
                uri="sha256/aa/bb",
                sha256=None,
                size=None,
                run_id=run.run_id,
            ).artifact_id
            store.models.create_model(f"{kind}-model")
            ids[f"{kind}-model-artifact"] = store.artifacts.create(
                type="Model", name=f"{kind}-model", uri="sha256/aa/cc", sha256=None, size=None
            ).artifact_id
            ids[f"{kind}-model-file"] = _store_package_index(store, blobs, kind)
            spec = DeploymentSpec(name=f"{kind}-live", primary=f"models:/{kind}-model/1")
            store.deployments.create(
                spec.name, Deployment(spec=spec).to_document(), actor="root", models=[f"{kind}-model/1"]
            )
        for user in ("ed", "vi"):
            auth.grant(user, Resource(kind=ResourceKind.EXPERIMENT, key="secret-exp"), "read")
            auth.grant(user, Resource(kind=ResourceKind.DATASET, key="secret-data"), "read")
            auth.grant(user, Resource(kind=ResourceKind.MODEL, key="secret-model"), "read")
        # Hidden from every non-admin, so granted users too decide blob reads by lookup.
        auth.grant("root", Resource(kind=ResourceKind.DATASET, key="elsewhere"), "read")
    with serve_in_thread(settings, auth_enabled=True) as url:
        result = World(url, tokens, ids)
        with result.client("root") as admin:
            for kind in ("secret", "open"):
                added = admin.post(f"/datasets/{kind}-data/versions", json={"uri": f"lake/{kind}.csv"})
                assert added.status_code == 201, added.text
                ids[f"{kind}-dataset-artifact"] = added.json()["artifact_id"]
                ids[f"{kind}-dataset-file"] = added.json()["files"][0]["sha256"]
                put = admin.put(f"/runs/{ids[f'{kind}-run']}/artifacts/notes.txt", content=f"{kind} notes")
                assert put.status_code == 201, put.text
                ids[f"{kind}-run-file"] = put.json()["sha256"]
        yield result


def _store_package_index(store: SqlStore, blobs: BlobStore, kind: str) -> str:
    """A model version's files as the registry stores them: one blob per file and an index blob
    listing them, recorded as the ``Model`` artifact. Returns the hash of the model file."""
    weights = blobs.put_bytes(f"{kind} weights".encode())
    doc = {"files": {"model.bin": {"sha256": weights.sha256, "size": weights.size}}}
    index = blobs.put_bytes(json.dumps(doc | {"format": "loopml-package-index/1"}).encode())
    store.artifacts.create(
        type="Model",
        name=f"{kind}-model",
        uri=index.uri,
        sha256=index.sha256,
        size=index.size,
        versioned=True,
    )
    return weights.sha256


def names(payload: dict[str, Any], key: str, field: str) -> set[str]:
    return {item[field] for item in payload[key]}


@pytest.mark.parametrize(("user", "sees_secret"), [("ed2", False), ("ed", True), ("root", True)])
def test_experiment_listing(world: World, user: str, sees_secret: bool) -> None:
    with world.client(user) as api:
        shown = names(api.get("/experiments").json(), "experiments", "name")
    assert "open-exp" in shown and ("secret-exp" in shown) is sees_secret


@pytest.mark.parametrize(("user", "sees_secret"), [("ed2", False), ("ed", True), ("root", True)])
def test_dataset_listing(world: World, user: str, sees_secret: bool) -> None:
    with world.client(user) as api:
        shown = names(api.get("/datasets").json(), "artifacts", "name")
        by_name = api.get("/datasets", params={"name": "secret-data"}).json()["artifacts"]
    assert "open-data" in shown and ("secret-data" in shown) is sees_secret
    assert bool(by_name) is sees_secret


@pytest.mark.parametrize(("user", "sees_secret"), [("ed2", False), ("ed", True), ("root", True)])
def test_model_listing(world: World, user: str, sees_secret: bool) -> None:
    with world.client(user) as api:
        shown = names(api.get("/models").json(), "models", "name")
    assert "open-model" in shown and ("secret-model" in shown) is sees_secret


@pytest.mark.parametrize(("user", "sees_secret"), [("ed2", False), ("ed", True), ("root", True)])
def test_artifact_listing_and_reads(world: World, user: str, sees_secret: bool) -> None:
    with world.client(user) as api:
        shown = {a["artifact_id"] for a in api.get("/artifacts").json()["artifacts"]}
        for kind in ("run", "model", "dataset"):
            secret, public = world.ids[f"secret-{kind}-artifact"], world.ids[f"open-{kind}-artifact"]
            assert public in shown and (secret in shown) is sees_secret, kind
            assert api.get(f"/artifacts/{public}").status_code == 200
            assert api.get(f"/artifacts/{secret}").status_code == (200 if sees_secret else 404), kind
        found = api.get("/artifacts/find-version", params={"type": "Dataset", "name": "secret-data"}).json()
    assert (found["artifact"] is not None) is sees_secret


@pytest.mark.parametrize(
    ("hidden", "missing"),
    [
        ("/datasets/secret-data", "/datasets/nope-data"),
        ("/datasets/secret-data@1/statistics", "/datasets/nope-data@1/statistics"),
        ("/models/secret-model", "/models/nope-model"),
        ("/models/secret-model/versions", "/models/nope-model/versions"),
        ("/experiments/by-name/secret-exp", "/experiments/by-name/nope-exp"),
    ],
)
def test_hidden_items_read_by_name_answer_as_missing_ones(world: World, hidden: str, missing: str) -> None:
    with world.client("ed2") as api:
        refused, absent = api.get(hidden), api.get(missing)
    assert (refused.status_code, absent.status_code) == (404, 404), (refused.text, absent.text)
    error, expected = refused.json()["error"], absent.json()["error"]
    assert error["code"] == expected["code"] == "not_found"
    assert error["message"] == expected["message"].replace("nope-", "secret-")
    assert world.ids["secret-exp"] not in refused.text


def test_restricted_items_stay_refused_by_id(world: World) -> None:
    with world.client("ed2") as api:
        assert api.get(f"/experiments/{world.ids['secret-exp']}").status_code == 403


BLOB_KINDS = ("run-file", "dataset-file", "model-file")


@pytest.mark.parametrize(
    ("user", "sees_secret"), [("vi2", False), ("ed2", False), ("vi", True), ("ed", True), ("root", True)]
)
def test_blob_reads_follow_grants(world: World, user: str, sees_secret: bool) -> None:
    """A blob is served only to callers who see an artifact (or a dataset / model version) holding it."""
    with world.client(user) as api:
        for kind in BLOB_KINDS:
            public, secret = world.ids[f"open-{kind}"], world.ids[f"secret-{kind}"]
            assert api.get(f"/blobs/{public}").status_code == 200, kind
            refused = api.get(f"/blobs/{secret}")
            assert refused.status_code == (200 if sees_secret else 404), kind
            if not sees_secret:  # refused exactly like a blob that does not exist
                unknown = api.get(f"/blobs/{'0' * 64}").json()["error"]
                assert {k: v for k, v in refused.json()["error"].items() if k != "request_id"} == {
                    "code": unknown["code"],
                    "message": unknown["message"].replace("0" * 64, secret),
                }
        run_file = api.get(f"/blobs/{world.ids['secret-run-file']}")
    if sees_secret:
        assert run_file.content == b"secret notes"
        assert hashlib.sha256(run_file.content).hexdigest() == world.ids["secret-run-file"]


@pytest.mark.parametrize("user", ["vi2", "vi", "root"])
def test_unknown_blob_is_404_for_everyone(world: World, user: str) -> None:
    with world.client(user) as api:
        missing = api.get(f"/blobs/{'ab' * 32}")
        malformed = api.get("/blobs/not-a-hash")
    assert missing.status_code == 404 and "is not in the artifact store" in missing.json()["error"]["message"]
    assert malformed.status_code == 422  # the path's 64-hex pattern is in the schema


def test_run_file_route_still_needs_the_experiment_grant(world: World) -> None:
    run = world.ids["secret-run"]
    with world.client("vi2") as outsider, world.client("vi") as insider:
        assert outsider.get(f"/runs/{run}/artifacts/notes.txt").status_code == 403
        assert insider.get(f"/runs/{run}/artifacts/notes.txt").content == b"secret notes"


def test_artifact_listing_filters_by_hash(world: World) -> None:
    sha = world.ids["secret-run-file"]
    with world.client("vi") as insider, world.client("vi2") as outsider:
        found = insider.get("/artifacts", params={"sha256": sha}).json()["artifacts"]
        hidden = outsider.get("/artifacts", params={"sha256": sha}).json()["artifacts"]
    assert [(a["name"], a["sha256"]) for a in found] == [("notes.txt", sha)]
    assert hidden == []


@pytest.mark.parametrize(
    ("user", "sees_secret"), [("root", True), ("vi", True), ("ed2", False), ("vi2", False)]
)
def test_deployments_follow_the_grants_of_the_models_they_serve(
    world: World, user: str, sees_secret: bool
) -> None:
    with world.client(user) as client:
        listed = {d["name"] for d in client.get("/deployments").json()["deployments"]}
        one = client.get("/deployments/secret-live")
        history = client.get("/deployments/secret-live/history")
        windows = client.get("/deployments/secret-live/windows")
        missing = client.get("/deployments/no-such-deployment")
        assert client.get("/deployments/open-live").status_code == 200
    assert "open-live" in listed
    assert ("secret-live" in listed) is sees_secret
    if sees_secret:
        assert one.status_code == history.status_code == windows.status_code == 200
        assert one.json()["name"] == "secret-live"
    else:  # answered in the words of a missing deployment: its existence does not show
        assert one.status_code == history.status_code == windows.status_code == missing.status_code == 404
        refused, absent = one.json()["error"], missing.json()["error"]
        assert refused["code"] == absent["code"]
        assert refused["message"] == absent["message"].replace("no-such-deployment", "secret-live")
