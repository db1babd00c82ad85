"""Grants filter listings: restricted experiments, datasets, models and their artifacts are hidden
from users without a grant; granted users and admins see them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loopml.config import Settings
from loopml.security.auth import AuthService, Resource, ResourceKind, Role
from loopml.server.background import serve_in_thread
from loopml.store.sql import open_store


class World:
    """A secured server holding one restricted and one open item of each kind."""

    def __init__(self, url: str, tokens: dict[str, str], ids: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens
        self.ids = ids

    def client(self, user: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("listing-grants")
    lake = home / "artifacts" / "lake"
    lake.mkdir(parents=True)
    (lake / "d.csv").write_text("a,b\n1,2\n")
    ids: dict[str, str] = {}
    tokens: dict[str, str] = {}
    with open_store(f"sqlite:///{home / 'store.db'}") as store:
        auth = AuthService(store)
        for name, role in (("root", Role.ADMIN), ("ed", Role.EDITOR), ("ed2", Role.EDITOR)):
            auth.create_user(name, role=role)
            tokens[name] = auth.create_token(name)[1]
        for kind in ("secret", "open"):
            experiment = store.experiments.create(f"{kind}-exp")
            run = store.runs.create(experiment.experiment_id)
            ids[f"{kind}-exp"] = experiment.experiment_id
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
        auth.grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key="secret-exp"), "read")
        auth.grant("ed", Resource(kind=ResourceKind.DATASET, key="secret-data"), "read")
        auth.grant("ed", Resource(kind=ResourceKind.MODEL, key="secret-model"), "read")
    with serve_in_thread(Settings(home=home), auth_enabled=True) as url:
        result = World(url, tokens, ids)
        with result.client("root") as admin:
            for kind in ("secret", "open"):
                added = admin.post(f"/datasets/{kind}-data/versions", json={"uri": "lake/d.csv"})
                assert added.status_code == 201, added.text
                ids[f"{kind}-dataset-artifact"] = added.json()["artifact_id"]
        yield result


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


def test_restricted_items_stay_refused_by_name(world: World) -> None:
    with world.client("ed2") as api:
        assert api.get("/datasets/secret-data").status_code == 403
        assert api.get("/datasets/secret-data@1/statistics").status_code == 403
        assert api.get("/models/secret-model").status_code == 403
        assert api.get(f"/experiments/{world.ids['secret-exp']}").status_code == 403
