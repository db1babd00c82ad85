"""Links between records follow the linked record's grant: executions are authorised through their
run; lineage reads (events, contexts, the walk) leave out what the caller may not see, and linking a
hidden record (events, context attachments, a model version's Blessing) answers 404 as a missing one;
a new run's parent needs the write grant of the parent's experiment."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.config import Settings
from loopml.registry import package_model
from loopml.security.auth import AuthService, Resource, ResourceKind, Role
from loopml.server.background import serve_in_thread
from loopml.store.entities import EventType, ExecutionState
from loopml.store.sql import open_store
from tests.server._worlds import SecuredWorld, create_users

#: An id no record has (ids are 32 hex characters).
UNKNOWN = "0" * 32
#: Why a caller with a read grant is refused a change.
READ_ONLY = "'read' grant on it, which does not allow it"


class World(SecuredWorld):
    """A secured server with a restricted experiment and a lineage chain through it.

    ``open-in`` (open run) → ``secret-exe`` (restricted run) → ``secret-out`` (restricted run) →
    ``open-exe`` (no run) → ``open-out`` (no run); context ``mixed`` holds all of them. ``ed`` holds
    a write grant on the experiment, ``rd`` a read grant, ``ed2`` none.
    """


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # editors write where no grant restricts: restriction is what these tests are about
    settings = Settings(home=tmp_path_factory.mktemp("lineage-grants"), ungranted_access="write")
    ids: dict[str, str] = {}
    with open_store(settings.resolved_store_url()) as store:
        auth = AuthService(store)
        roles = (("root", Role.ADMIN), ("ed", Role.EDITOR), ("rd", Role.EDITOR), ("ed2", Role.EDITOR))
        tokens = create_users(auth, roles)
        for experiment in ("secret-exp", "open-exp"):
            ids[experiment] = store.experiments.create(experiment).experiment_id
        ids["secret-run"] = store.runs.create(ids["secret-exp"]).run_id
        ids["open-run"] = store.runs.create(ids["open-exp"]).run_id
        auth.grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key="secret-exp"), "write")
        auth.grant("rd", Resource(kind=ResourceKind.EXPERIMENT, key="secret-exp"), "read")
        for name, run in (
            ("open-in", "open-run"),
            ("secret-out", "secret-run"),
            ("open-out", None),
            ("secret-note", "secret-run"),  # linked by the tests that write, outside the chain
            ("open-note", "open-run"),
        ):
            run_id = ids[run] if run else None
            art = store.artifacts.create(
                type="File", name=name, uri=f"notes/{name}", sha256=None, size=None, run_id=run_id
            )
            ids[name] = art.artifact_id
        ids["secret-blessing"] = store.artifacts.create(
            type="Blessing",
            name="secret-blessing",
            uri="notes/blessing",
            sha256=None,
            size=None,
            run_id=ids["secret-run"],
            properties={"passed": True},
        ).artifact_id
        lineage = store.lineage
        secret = lineage.create_execution(
            type="Trainer",
            name="train",
            run_id=ids["secret-run"],
            cache_key="secret-key",
            state=ExecutionState.COMPLETE,
        )
        lineage.add_events(
            secret.execution_id,
            [(ids["open-in"], EventType.INPUT, "data"), (ids["secret-out"], EventType.OUTPUT, "model")],
        )
        evaluation = lineage.create_execution(type="Evaluator", name="evaluate")
        lineage.add_events(
            evaluation.execution_id,
            [(ids["secret-out"], EventType.INPUT, "model"), (ids["open-out"], EventType.OUTPUT, "report")],
        )
        ids["secret-exe"], ids["open-exe"] = secret.execution_id, evaluation.execution_id
        ids["mixed"] = lineage.create_context(type="pipeline", name="mixed").context_id
        lineage.attach(
            ids["mixed"],
            execution_ids=[ids["secret-exe"], ids["open-exe"]],
            artifact_ids=[ids["open-in"], ids["secret-out"], ids["open-out"]],
        )
    with serve_in_thread(settings, auth_enabled=True) as url:
        yield World(url, tokens, ids)


def as_missing(refused: httpx.Response, hidden: str, ask: Callable[[str], httpx.Response]) -> None:
    """Assert ``refused`` is the 404 that ``ask`` gets for an unknown id, word for word."""
    missing = ask(UNKNOWN)
    assert refused.status_code == missing.status_code == 404, refused.text
    assert {k: v for k, v in refused.json()["error"].items() if k != "request_id"} == {
        k: v.replace(UNKNOWN, hidden) for k, v in missing.json()["error"].items() if k != "request_id"
    }  # a hidden record cannot be told from a missing one (request ids differ per request)


def assert_forbidden(
    response: httpx.Response, permission: str, why: str = "restricted to granted users"
) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden" and f"'{permission}'" in error["message"]
    assert why in error["message"], error["message"]


def events_of(world: World, **query: str) -> list[dict[str, Any]]:
    with world.client("root") as admin:
        found: list[dict[str, Any]] = admin.get("/events", params=query).json()["events"]
    return found


def event_body(*artifact_ids: str) -> dict[str, Any]:
    return {
        "events": [{"artifact_id": a, "type": "INPUT", "role": f"in{i}"} for i, a in enumerate(artifact_ids)]
    }


# --- executions are authorised through their run ------------------------------------------------


def test_an_execution_of_a_restricted_run_is_refused_without_a_grant(world: World) -> None:
    secret = world.ids["secret-exe"]
    with world.client("root") as admin:
        before = admin.get(f"/executions/{secret}").json(), events_of(world, execution_id=secret)
    with world.client("ed2") as outsider:
        assert_forbidden(outsider.get(f"/executions/{secret}"), "read")
        assert_forbidden(
            outsider.post(f"/executions/{secret}/finish", json={"state": "FAILED"}), "runs.write"
        )
        linked = outsider.post(f"/executions/{secret}/events", json=event_body(world.ids["open-out"]))
        assert_forbidden(linked, "runs.write")
        assert outsider.get(f"/executions/{world.ids['open-exe']}").status_code == 200  # no run: open
        assert outsider.get(f"/executions/{UNKNOWN}").status_code == 404
    with world.client("root") as admin:
        assert (admin.get(f"/executions/{secret}").json(), events_of(world, execution_id=secret)) == before


def test_a_read_grant_reads_an_execution_and_a_write_grant_changes_it(world: World) -> None:
    with world.client("ed") as ed:
        created = ed.post(
            "/executions", json={"type": "Trainer", "name": "ed", "run_id": world.ids["secret-run"]}
        )
        assert created.status_code == 201, created.text
    execution = created.json()["execution_id"]
    with world.client("rd") as reader:
        assert reader.get(f"/executions/{execution}").status_code == 200
        assert_forbidden(
            reader.post(f"/executions/{execution}/finish", json={"state": "COMPLETE"}),
            "runs.write",
            READ_ONLY,
        )
    with world.client("ed") as ed:
        linked = ed.post(f"/executions/{execution}/events", json=event_body(world.ids["secret-note"]))
        assert linked.status_code == 201, linked.text
        finished = ed.post(f"/executions/{execution}/finish", json={"state": "COMPLETE"})
        assert finished.status_code == 200 and finished.json()["state"] == "COMPLETE"
    with world.client("ed2") as outsider:
        assert_forbidden(outsider.get(f"/executions/{execution}"), "read")


def test_linking_a_hidden_artifact_answers_as_a_missing_one(world: World) -> None:
    with world.client("ed2") as outsider:
        own = outsider.post(
            "/executions", json={"type": "Trainer", "name": "mine", "run_id": world.ids["open-run"]}
        )
        execution = own.json()["execution_id"]

        def link(*artifact_ids: str) -> httpx.Response:
            return outsider.post(f"/executions/{execution}/events", json=event_body(*artifact_ids))

        for hidden in ("secret-note", "secret-blessing"):
            as_missing(link(world.ids[hidden]), world.ids[hidden], link)
        mixed = link(world.ids["open-note"], world.ids["secret-note"], "f" * 32)
        assert mixed.status_code == 404 and world.ids["secret-note"] in mixed.json()["error"]["message"]
        assert "f" * 32 in mixed.json()["error"]["message"]  # listed with the missing id, as the store does
        assert events_of(world, execution_id=execution) == []  # nothing linked
        assert link(world.ids["open-note"]).status_code == 201  # an artifact the caller sees links


# --- lineage reads leave out what the caller may not see -----------------------------------------


def test_event_listings_leave_out_hidden_executions_and_artifacts(world: World) -> None:
    ids = world.ids
    with world.client("ed2") as outsider:

        def listed(**query: str) -> list[tuple[str, str]]:
            found = outsider.get("/events", params=query).json()["events"]
            return [(e["execution_id"], e["artifact_id"]) for e in found]

        assert listed(execution_id=ids["secret-exe"]) == []
        assert listed(artifact_id=ids["secret-out"]) == []
        assert listed(artifact_id=ids["open-in"]) == []  # its one event feeds the hidden execution
        assert listed(execution_id=ids["open-exe"]) == [(ids["open-exe"], ids["open-out"])]
        everything = {i for pair in listed() for i in pair}
        assert not everything & {ids["secret-exe"], ids["secret-out"], ids["secret-note"]}
    with world.client("ed") as ed:
        for query in ({"execution_id": ids["secret-exe"]}, {"execution_id": ids["open-exe"]}):
            assert ed.get("/events", params=query).json()["events"] == events_of(world, **query)
    assert len(events_of(world, execution_id=ids["open-exe"])) == 2


def test_context_members_leave_out_hidden_executions_and_artifacts(world: World) -> None:
    ids, mixed = world.ids, world.ids["mixed"]

    def members(user: str) -> tuple[set[str], set[str]]:
        with world.client(user) as api:
            executions = api.get(f"/contexts/{mixed}/executions").json()["executions"]
            artifacts = api.get(f"/contexts/{mixed}/artifacts").json()["artifacts"]
        # Members recorded in the same millisecond come in id order: compare as sets.
        return {e["execution_id"] for e in executions}, {a["artifact_id"] for a in artifacts}

    assert members("ed2") == ({ids["open-exe"]}, {ids["open-in"], ids["open-out"]})
    everything = ({ids["secret-exe"], ids["open-exe"]}, {ids["open-in"], ids["secret-out"], ids["open-out"]})
    assert members("ed") == members("root") == everything


def test_attaching_a_hidden_record_to_a_context_answers_as_a_missing_one(world: World) -> None:
    with world.client("ed2") as outsider:
        context = outsider.post("/contexts", json={"type": "pipeline", "name": "ed2-context"}).json()[
            "context_id"
        ]

        def attach(field: str) -> Callable[[str], httpx.Response]:
            return lambda i: outsider.post(f"/contexts/{context}/attach", json={field: [i]})

        as_missing(
            attach("execution_ids")(world.ids["secret-exe"]), world.ids["secret-exe"], attach("execution_ids")
        )
        as_missing(
            attach("artifact_ids")(world.ids["secret-out"]), world.ids["secret-out"], attach("artifact_ids")
        )
        assert outsider.get(f"/contexts/{context}/executions").json()["executions"] == []
        both = {"execution_ids": [world.ids["open-exe"]], "artifact_ids": [world.ids["open-out"]]}
        assert outsider.post(f"/contexts/{context}/attach", json=both).status_code == 204
    with world.client("root") as admin:
        assert [
            e["execution_id"] for e in admin.get(f"/contexts/{context}/executions").json()["executions"]
        ] == [world.ids["open-exe"]]


def node_ids(api: httpx.Client, start: str, direction: str) -> set[str]:
    graph = api.get(f"/lineage/{start}", params={"direction": direction, "depth": 4})
    assert graph.status_code == 200, graph.text
    nodes = {n["id"] for n in graph.json()["nodes"]}
    assert {i for e in graph.json()["edges"] for i in (e["source"], e["target"])} <= nodes
    return nodes


def test_the_walk_neither_shows_nor_steps_through_hidden_nodes(world: World) -> None:
    ids = world.ids
    chain = {ids["open-in"], ids["secret-run"], ids["secret-out"], ids["open-exe"], ids["open-out"]}
    for user in ("root", "ed"):
        with world.client(user) as api:
            assert node_ids(api, ids["open-in"], "downstream") == chain  # the run stands for its execution
            assert node_ids(api, ids["open-out"], "upstream") == chain
    with world.client("ed2") as outsider:
        assert node_ids(outsider, ids["open-in"], "downstream") == {ids["open-in"]}
        assert node_ids(outsider, ids["open-out"], "upstream") == {ids["open-out"], ids["open-exe"]}
        assert node_ids(outsider, ids["open-exe"], "both") == {ids["open-out"], ids["open-exe"]}

        def walk_from(node: str) -> httpx.Response:
            return outsider.get(f"/lineage/{node}")

        for hidden in ("secret-out", "secret-exe", "secret-run"):
            as_missing(walk_from(ids[hidden]), ids[hidden], walk_from)


def test_a_cached_execution_of_a_hidden_run_is_not_found(world: World) -> None:
    with world.client("ed2") as outsider:
        assert outsider.get("/executions/cached", params={"cache_key": "secret-key"}).json() == {
            "execution": None
        }
    with world.client("ed") as ed:
        found = ed.get("/executions/cached", params={"cache_key": "secret-key"}).json()["execution"]
    assert found["execution_id"] == world.ids["secret-exe"]


# --- a new run's parent ---------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "allowed"), [("ed2", False), ("rd", False), ("ed", True), ("root", True)])
def test_a_child_run_needs_the_write_grant_of_its_parents_experiment(
    world: World, user: str, allowed: bool
) -> None:
    body = {"experiment_id": world.ids["open-exp"], "parent_run_id": world.ids["secret-run"]}
    with world.client(user) as api:
        created = api.post("/runs", json=body)
        if allowed:
            assert created.status_code == 201 and created.json()["parent_run_id"] == world.ids["secret-run"]
        else:
            assert_forbidden(
                created, "runs.write", READ_ONLY if user == "rd" else "restricted to granted users"
            )
        open_parent = api.post("/runs", json=body | {"parent_run_id": world.ids["open-run"]})
        assert open_parent.status_code == 201, open_parent.text


# --- a model version's Blessing --------------------------------------------------------------------


def upload_package(api: httpx.Client, folder: Path) -> dict[str, str]:
    """Upload the files of a fresh model package; the files map (path → sha256)."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    model = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    root = package_model(model, folder / "package", sample=frame).path
    files: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        assert api.put("/blobs", content=path.read_bytes()).status_code == 201
        files[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def test_a_hidden_blessing_answers_as_a_missing_artifact(world: World, tmp_path: Path) -> None:
    blessing = world.ids["secret-blessing"]
    with world.client("ed2") as outsider:
        files = upload_package(outsider, tmp_path)

        def register(blessing_id: str) -> httpx.Response:
            return outsider.post(
                "/models/blessed/versions", json={"files": files, "blessing_artifact_id": blessing_id}
            )

        def attach(blessing_id: str) -> httpx.Response:
            return outsider.post("/models/blessed/versions/1/blessing", json={"artifact_id": blessing_id})

        as_missing(register(blessing), blessing, register)
        assert outsider.get("/models/blessed").status_code == 404  # nothing registered
        assert outsider.post("/models/blessed/versions", json={"files": files}).status_code == 201
        as_missing(attach(blessing), blessing, attach)
        assert outsider.get("/models/blessed/versions/1").json()["blessing_artifact_id"] is None
    with world.client("ed") as ed:
        attached = ed.post("/models/blessed/versions/1/blessing", json={"artifact_id": blessing})
        assert attached.status_code == 200 and attached.json()["blessing_passed"] is True
        registered = ed.post(
            "/models/blessed/versions", json={"files": files, "blessing_artifact_id": blessing}
        )
        assert registered.status_code == 201 and registered.json()["blessing_artifact_id"] == blessing


# --- without authentication (the conftest server): nothing is filtered or refused -----------------


def test_local_mode_links_and_reads_lineage_unchanged(api: httpx.Client, run_id: str) -> None:
    art = api.put(f"/runs/{run_id}/artifacts/local.txt", content=b"x").json()["artifact_id"]
    exe = api.post(
        "/executions", json={"type": "Trainer", "name": "local", "run_id": run_id, "cache_key": "local"}
    )
    execution = exe.json()["execution_id"]
    assert api.post(f"/executions/{execution}/events", json=event_body(art)).status_code == 201
    assert api.get(f"/executions/{execution}").status_code == 200
    assert api.post(f"/executions/{execution}/finish", json={"state": "COMPLETE"}).status_code == 200
    assert [
        e["artifact_id"] for e in api.get("/events", params={"execution_id": execution}).json()["events"]
    ] == [art]
    assert (
        api.get("/executions/cached", params={"cache_key": "local"}).json()["execution"]["execution_id"]
        == execution
    )
    context = api.post("/contexts", json={"type": "pipeline", "name": "local"}).json()["context_id"]
    attached = api.post(
        f"/contexts/{context}/attach", json={"execution_ids": [execution], "artifact_ids": [art]}
    )
    assert attached.status_code == 204
    assert len(api.get(f"/contexts/{context}/artifacts").json()["artifacts"]) == 1
    assert {
        n["id"] for n in api.get(f"/lineage/{art}", params={"direction": "downstream"}).json()["nodes"]
    } == {
        art,
        run_id,
    }
    child = api.post(
        "/runs",
        json={"experiment_id": api.get(f"/runs/{run_id}").json()["experiment_id"], "parent_run_id": run_id},
    )
    assert child.status_code == 201 and child.json()["parent_run_id"] == run_id
