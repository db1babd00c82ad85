"""Secure by default: what users without a grant may do on ungranted resources, per
``ungranted_access``, and the ``owner`` grant a creator gets, all through the server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from loopml.config import Settings
from loopml.security.auth import AuthService, Role
from loopml.server.background import serve_in_thread
from loopml.store.sql import open_store
from tests.server._worlds import SecuredWorld, create_users


class World(SecuredWorld):
    """A secured server with an experiment and a dataset nobody was granted (made by the admin
    outside the API), and users of every role below admin."""

    mode: str
    store_url: str


@pytest.fixture(scope="module", params=["read", "write", "none"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    mode: str = request.param
    home = tmp_path_factory.mktemp(f"ungranted-{mode}")
    settings = Settings(home=home, ungranted_access=mode)  # type: ignore[arg-type]
    lake = home / "artifacts" / "lake"
    lake.mkdir(parents=True)
    for name in ("shared", "mine", "mine-2", "theirs"):
        (lake / f"{name}.csv").write_text(f"a,b\n1,{len(name)}\n")
    with open_store(settings.resolved_store_url()) as store:
        auth = AuthService(store)
        roles = (("root", Role.ADMIN), ("mia", Role.MAINTAINER), ("ed", Role.EDITOR), ("ed2", Role.EDITOR))
        tokens = create_users(auth, (*roles, ("vi", Role.VIEWER)))
        ids = {"shared-exp": store.experiments.create("shared-exp").experiment_id}
    with serve_in_thread(settings, auth_enabled=True) as url:
        result = World(url, tokens, ids)
        result.mode, result.store_url = mode, settings.resolved_store_url()
        with result.client("root") as admin:  # an admin's creation restricts nobody either
            added = admin.post("/datasets/shared-data/versions", json={"uri": "lake/shared.csv"})
            assert added.status_code == 201, added.text
        yield result


def new_run(api: httpx.Client, experiment_id: str) -> httpx.Response:
    return api.post("/runs", json={"experiment_id": experiment_id})


def test_maintainers_write_and_admins_see_everything_in_every_mode(world: World) -> None:
    with world.client("mia") as api:
        assert new_run(api, world.ids["shared-exp"]).status_code == 201
        assert api.post("/datasets/shared-data/versions", json={"uri": "lake/theirs.csv"}).status_code == 201
    with world.client("root") as admin:
        listed = {e["name"] for e in admin.get("/experiments").json()["experiments"]}
    assert "shared-exp" in listed


@pytest.mark.parametrize("user", ["vi", "ed"])
def test_reading_an_ungranted_resource_follows_the_mode(world: World, user: str) -> None:
    reads = world.mode in ("read", "write")
    with world.client(user) as api:
        by_id = api.get(f"/experiments/{world.ids['shared-exp']}")
        by_name = api.get("/experiments/by-name/shared-exp")
        dataset = api.get("/datasets/shared-data")
        listed = {e["name"] for e in api.get("/experiments").json()["experiments"]}
        datasets = {a["name"] for a in api.get("/datasets").json()["artifacts"]}
    assert by_id.status_code == (200 if reads else 403), by_id.text
    assert by_name.status_code == (200 if reads else 404), by_name.text
    assert dataset.status_code == (200 if reads else 404), dataset.text
    assert ("shared-exp" in listed) is reads and ("shared-data" in datasets) is reads
    if not reads:
        assert world.ids["shared-exp"] not in by_name.text
        assert "ungranted_access='none'" in by_id.json()["error"]["message"]


def test_writing_an_ungranted_resource_follows_the_mode(world: World) -> None:
    writes = world.mode == "write"
    with world.client("ed") as api:
        run = new_run(api, world.ids["shared-exp"])
        version = api.post("/datasets/shared-data/versions", json={"uri": "lake/theirs.csv"})
    assert (run.status_code, version.status_code) == ((201, 201) if writes else (403, 403)), run.text
    if not writes:
        message = run.json()["error"]["message"]
        assert f"ungranted_access='{world.mode}'" in message and "--level write" in message


def test_the_creator_gets_an_owner_grant_that_restricts_nobody(world: World) -> None:
    mode = world.mode
    with world.client("ed") as api:
        made = api.post("/experiments", json={"name": f"ed-exp-{mode}"})
        assert made.status_code == 201, made.text
        experiment_id = made.json()["experiment_id"]
        assert new_run(api, experiment_id).status_code == 201
        first = api.post(f"/datasets/ed-data-{mode}/versions", json={"uri": "lake/mine.csv"})
        second = api.post(f"/datasets/ed-data-{mode}/versions", json={"uri": "lake/mine-2.csv"})
        assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
        got = api.post("/experiments/get-or-create", json={"name": f"ed-got-{mode}"})
        assert got.status_code == 200 and new_run(api, got.json()["experiment_id"]).status_code == 201
    with open_store(world.store_url) as store:
        grants = {(g.user_name, g.resource, g.level) for g in AuthService(store).list_grants()}
    assert {("ed", experiment_id, "owner"), ("ed", f"ed-data-{mode}", "owner")} <= grants
    with world.client("ed2") as other:  # the others get what the mode gives, as on any ungranted resource
        read = other.get(f"/experiments/{experiment_id}")
        wrote = new_run(other, experiment_id)
    assert read.status_code == (403 if mode == "none" else 200), read.text
    assert wrote.status_code == (201 if mode == "write" else 403), wrote.text


def test_get_or_create_of_an_existing_experiment_only_reads_it(world: World) -> None:
    with world.client("vi") as api:
        got = api.post("/experiments/get-or-create", json={"name": "shared-exp"})
        made = api.post("/experiments/get-or-create", json={"name": "vi-exp"})
    assert got.status_code == (403 if world.mode == "none" else 200), got.text
    assert world.ids["shared-exp"] not in got.text or got.status_code == 200
    assert made.status_code == 403 and "'experiments.write'" in made.json()["error"]["message"]
