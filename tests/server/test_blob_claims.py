"""Proof of possession: an artifact or a model version may claim a stored blob only if its author
may read the blob or uploaded its bytes; the blob store's own folders cannot be added as a dataset;
a record written into a run (artifact, execution, model version) needs the run's experiment grant."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from loopml.artifacts import BlobStore, blob_uri
from loopml.config import Settings
from loopml.registry import package_model
from loopml.security.auth import AuthService, Resource, ResourceKind, Role
from loopml.server.background import serve_in_thread
from loopml.store.sql import open_store
from tests.server._worlds import SecuredWorld, create_users

SECRET_CSV = b"a,b\n3,4\n"
SECRET_NOTES = b"secret notes"
#: Restricted blobs (what the bytes are) by the kind of resource that guards them.
SECRET_BYTES = {"dataset-file": SECRET_CSV, "run-file": SECRET_NOTES}


class World(SecuredWorld):
    """A secured server with a restricted dataset and experiment, and users on either side.

    ``ed`` holds grants on both; ``ed2`` and ``ed3`` hold none, each has a run of their own
    (``ed3``'s in an experiment only ``ed3`` may see). ``root`` is the artifact root.
    """

    def __init__(self, url: str, root: Path, tokens: dict[str, str], ids: dict[str, str]) -> None:
        super().__init__(url, tokens, ids)
        self.root = root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("blob-claims")
    settings = Settings(home=home, ungranted_access="write")  # only grants restrict, as tested here
    root = Path(settings.resolved_artifacts_url())
    lake = root / "lake"
    lake.mkdir(parents=True)
    (lake / "secret.csv").write_bytes(SECRET_CSV)
    ids: dict[str, str] = {}
    with open_store(settings.resolved_store_url()) as store:
        auth = AuthService(store)
        roles = (("root", Role.ADMIN), ("ed", Role.EDITOR), ("ed2", Role.EDITOR), ("ed3", Role.EDITOR))
        tokens = create_users(auth, roles)
        for experiment in ("secret-exp", "open-exp", "ed3-exp"):
            found = store.experiments.create(experiment)
            ids[experiment] = found.experiment_id
        ids["secret-run"] = store.runs.create(ids["secret-exp"]).run_id
        ids["ed2-run"] = store.runs.create(ids["open-exp"]).run_id
        ids["ed3-run"] = store.runs.create(ids["ed3-exp"]).run_id
        auth.grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key="secret-exp"), "write")
        auth.grant("ed", Resource(kind=ResourceKind.DATASET, key="secret-data"), "read")
        auth.grant("ed3", Resource(kind=ResourceKind.EXPERIMENT, key="ed3-exp"), "write")
    with serve_in_thread(settings, auth_enabled=True) as url:
        result = World(url, root, tokens, ids)
        with result.client("root") as admin:
            added = admin.post("/datasets/secret-data/versions", json={"uri": "lake/secret.csv"})
            assert added.status_code == 201, added.text
            ids["dataset-file"] = added.json()["files"][0]["sha256"]
            put = admin.put(f"/runs/{ids['secret-run']}/artifacts/notes.txt", content=SECRET_NOTES)
            assert put.status_code == 201, put.text
            ids["run-file"] = put.json()["sha256"]
            public = admin.put(f"/runs/{ids['ed2-run']}/artifacts/public.txt", content=b"public notes")
            ids["open-file"] = public.json()["sha256"]
        yield result


def claim(api: httpx.Client, run_id: str, blob: str, /, **fields: Any) -> httpx.Response:
    """Record an artifact of ``run_id`` holding the blob ``blob`` (``fields`` override the defaults)."""
    body = {"type": "File", "name": f"claimed-{blob[:8]}", "uri": blob_uri(blob), "sha256": blob, "size": 8}
    return api.post("/artifacts", json=body | {"run_id": run_id} | fields)


def missing_error(api: httpx.Client, sha256: str) -> dict[str, str]:
    """The error body of a blob that does not exist, as it would read for ``sha256``."""
    unknown = "0" * 64
    error: dict[str, str] = api.get(f"/blobs/{unknown}").json()["error"]
    return {"code": error["code"], "message": error["message"].replace(unknown, sha256)}


def without_request_id(response: httpx.Response) -> dict[str, str]:
    """The error body less its request id (which differs from request to request)."""
    return {k: v for k, v in response.json()["error"].items() if k != "request_id"}


def records_of(world: World, run_id: str) -> list[dict[str, Any]]:
    with world.client("root") as admin:
        found: list[dict[str, Any]] = admin.get("/artifacts", params={"run_id": run_id}).json()["artifacts"]
    return found


@pytest.mark.parametrize("kind", sorted(SECRET_BYTES))
@pytest.mark.parametrize(
    "how",
    ["hash-and-uri", "hash-only", "uri-only", "reference-into-store"],
)
def test_knowing_a_restricted_hash_claims_nothing(world: World, kind: str, how: str) -> None:
    sha = world.ids[kind]
    fields: dict[str, Any] = {
        "hash-and-uri": {},
        "hash-only": {"uri": "notes/copied.txt"},
        "uri-only": {"sha256": None},
        "reference-into-store": {
            "uri": (world.root / blob_uri(sha)).as_uri(),
            "sha256": None,
            "is_reference": True,
        },
    }[how]
    run = world.ids["ed2-run"]
    before = records_of(world, run)
    with world.client("ed2") as api:
        refused = claim(api, run, sha, **fields)
        assert refused.status_code == 404, refused.text
        assert without_request_id(refused) == missing_error(api, sha)  # as if the blob did not exist
        assert api.get(f"/blobs/{sha}").status_code == 404
        assert api.get(f"/runs/{run}/artifacts/claimed-{sha[:8]}").status_code == 404
    assert records_of(world, run) == before  # nothing written


@pytest.mark.parametrize("kind", sorted(SECRET_BYTES))
def test_uploading_the_bytes_proves_possession(world: World, kind: str) -> None:
    sha, content = world.ids[kind], SECRET_BYTES[kind]
    run = world.ids["ed3-run"]
    with world.client("ed3") as api:
        assert claim(api, run, sha).status_code == 404
        uploaded = api.put("/blobs", content=content)
        assert (
            uploaded.status_code == 201 and uploaded.json()["sha256"] == sha
        )  # already stored: deduplicated
        recorded = claim(api, run, sha, size=len(content))
        assert recorded.status_code == 201, recorded.text
        assert recorded.json()["sha256"] == sha
        assert api.get(f"/blobs/{sha}").content == content
        assert api.get(f"/runs/{run}/artifacts/claimed-{sha[:8]}").content == content
    with world.client("ed2") as other:  # the receipt is ed3's own; ed3's run is hidden from ed2
        assert claim(other, world.ids["ed2-run"], sha).status_code == 404
        assert other.get(f"/blobs/{sha}").status_code == 404


@pytest.mark.parametrize("user", ["ed", "root"])
@pytest.mark.parametrize("kind", sorted(SECRET_BYTES))
def test_a_caller_who_reads_the_blob_may_claim_it(world: World, user: str, kind: str) -> None:
    sha = world.ids[kind]
    run = world.ids["secret-run"]  # ed sees it through the experiment grant
    with world.client(user) as api:
        recorded = claim(api, run, sha, name=f"by-{user}-{sha[:8]}", size=len(SECRET_BYTES[kind]))
        assert recorded.status_code == 201, recorded.text
        assert api.get(f"/runs/{run}/artifacts/by-{user}-{sha[:8]}").content == SECRET_BYTES[kind]


def test_open_blobs_and_records_without_a_blob_stay_claimable(world: World) -> None:
    run = world.ids["ed2-run"]
    plain = {"type": "File", "uri": "notes/x", "size": None, "run_id": run}
    with world.client("ed2") as api:
        public = claim(api, run, world.ids["open-file"], name="public-copy", size=len(b"public notes"))
        assert public.status_code == 201, public.text
        assert api.post("/artifacts", json=plain | {"name": "no-blob", "sha256": None}).status_code == 201
        bad = api.post("/artifacts", json=plain | {"name": "bad-hash", "sha256": "not-a-hash"})
    assert bad.status_code == 400 and "64 lowercase hex" in bad.json()["error"]["message"]


def _store_paths(world: World) -> dict[str, str]:
    sha = world.ids["dataset-file"]
    link = world.root / "lake" / "link.csv"
    if not link.exists():
        link.symlink_to(world.root / blob_uri(sha))
    return {
        "blob": blob_uri(sha),
        "blob-absolute": (world.root / blob_uri(sha)).as_uri(),
        "blob-folder": "sha256",
        "missing-blob": blob_uri("0" * 64),  # refused before its existence is checked
        "temp": "tmp/upload.part",
        "link-to-blob": "lake/link.csv",
        "root": str(world.root),
    }


@pytest.mark.parametrize(
    "where", ["blob", "blob-absolute", "blob-folder", "missing-blob", "temp", "link-to-blob"]
)
def test_blob_store_folders_are_not_data(world: World, where: str) -> None:
    uri = _store_paths(world)[where]
    with world.client("ed2") as api:
        refused = api.post("/datasets/leak/versions", json={"uri": uri})
        assert refused.status_code == 400, refused.text
        message = refused.json()["error"]["message"]
        assert "blob store's folder" in message and "Upload the files" in message
        assert api.get("/datasets", params={"name": "leak"}).json()["artifacts"] == []


def test_the_artifact_root_itself_is_not_data(world: World) -> None:
    with world.client("ed2") as api:
        refused = api.post("/datasets/leak/versions", json={"uri": _store_paths(world)["root"]})
    assert refused.status_code == 400 and "artifact root itself" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    "uri",
    ["tmp/upload.part", "sha256", "sha256/ab", "sha256/ab/not-a-hash", "sha256/ab/" + "c" * 62 + "/x"],
)
@pytest.mark.parametrize("is_reference", [False, True])
def test_an_artifact_record_cannot_point_into_the_blob_store(
    world: World, uri: str, is_reference: bool
) -> None:
    sent = (world.root / uri).as_uri() if is_reference else uri
    body = {"type": "File", "name": "leak", "uri": sent, "is_reference": is_reference}
    body |= {"sha256": None, "size": None}
    with world.client("root") as admin:
        refused = admin.post("/artifacts", json=body | {"run_id": world.ids["ed2-run"]})
    assert refused.status_code == 400, refused.text
    message = refused.json()["error"]["message"]
    assert "blob store's folder" in message and "exact address" in message


def test_an_artifact_record_may_name_a_blob_by_its_address(world: World) -> None:
    sha = world.ids["open-file"]
    body = {"type": "File", "name": "by-address", "run_id": world.ids["ed2-run"], "sha256": sha, "size": 12}
    with world.client("root") as admin:
        stored = admin.post("/artifacts", json=body | {"uri": blob_uri(sha)})
        referenced = admin.post(
            "/artifacts", json=body | {"uri": (world.root / blob_uri(sha)).as_uri(), "is_reference": True}
        )
    assert (stored.status_code, referenced.status_code) == (201, 201), (stored.text, referenced.text)


# --- model versions built from a files map claim every listed blob -------------------------------

WEIGHTS = "model/model.skops"


def model_package(folder: Path, seed: int) -> dict[str, bytes]:
    """The files of a fresh model package, relative path → bytes (the weights differ per seed)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    model = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    root = package_model(model, folder / f"package-{seed}", sample=frame).path
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def restricted_package(world: World, folder: Path, seed: int) -> dict[str, bytes]:
    """A model package whose weights are also a file of the restricted run (stored by the admin)."""
    files = model_package(folder, seed)
    with world.client("root") as admin:
        put = admin.put(f"/runs/{world.ids['secret-run']}/artifacts/weights-{seed}", content=files[WEIGHTS])
        assert put.status_code == 201, put.text
    return files


def manifest_of(
    api: httpx.Client, files: dict[str, bytes], *, skip: frozenset[str] = frozenset()
) -> dict[str, str]:
    """Upload every file but ``skip``; the files map (path → sha256) of all of them."""
    for path, data in files.items():
        if path not in skip:
            assert api.put("/blobs", content=data).status_code == 201
    return {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}


def test_a_model_version_cannot_list_a_restricted_blob(world: World, tmp_path: Path) -> None:
    files = restricted_package(world, tmp_path, seed=11)
    secret = hashlib.sha256(files[WEIGHTS]).hexdigest()
    with world.client("ed2") as api:
        manifest = manifest_of(api, files, skip=frozenset({WEIGHTS}))
        refused = api.post("/models/claimed-model/versions", json={"files": manifest})
        assert refused.status_code == 404, refused.text
        assert without_request_id(refused) == missing_error(api, secret)  # as if the blob did not exist
        assert api.get("/models/claimed-model").status_code == 404  # nothing registered
        assert api.put("/blobs", content=files[WEIGHTS]).json()["sha256"] == secret  # proof of possession
        registered = api.post("/models/claimed-model/versions", json={"files": manifest})
        assert registered.status_code == 201, registered.text
        assert registered.json()["version"] == 1
        assert api.get(f"/models/claimed-model/versions/1/files/{WEIGHTS}").content == files[WEIGHTS]


@pytest.mark.parametrize(("user", "seed"), [("ed", 21), ("root", 22)])
def test_a_caller_who_reads_the_blob_may_list_it(world: World, tmp_path: Path, user: str, seed: int) -> None:
    files = restricted_package(world, tmp_path, seed=seed)
    with world.client(user) as api:
        manifest = manifest_of(api, files, skip=frozenset({WEIGHTS}))  # ed reads the weights already
        registered = api.post(f"/models/read-by-{user}/versions", json={"files": manifest})
    assert registered.status_code == 201, registered.text


# --- records written into a run need the run's experiment grant ---------------------------------

ACTIONS = {
    "artifacts": "artifacts.create",
    "executions": "executions.create",
    "models": "models.register_version",
}


def write_into(api: httpx.Client, route: str, run_id: str | None, files: dict[str, bytes]) -> httpx.Response:
    """Record an artifact, an execution or a model version (``files``, uploaded first) of ``run_id``."""
    label = f"into-{run_id or 'none'}"[:40]
    if route == "artifacts":
        plain = {"type": "File", "name": label, "uri": "notes/into", "sha256": None, "size": None}
        return api.post("/artifacts", json=plain | {"run_id": run_id})
    if route == "executions":
        return api.post("/executions", json={"type": "Trainer", "name": label, "run_id": run_id})
    return api.post(f"/models/{label}/versions", json={"files": manifest_of(api, files), "run_id": run_id})


def written_into(world: World, run_id: str) -> tuple[Any, ...]:
    """What the run holds that these routes write: artifacts, its latest execution, model versions."""
    with world.client("root") as admin:
        execution = admin.get(f"/executions/by-run/{run_id}").json()["execution"]
        models = admin.get("/models").json()["models"]
    return records_of(world, run_id), execution, sorted(m["name"] for m in models)


@pytest.mark.parametrize("route", ["artifacts", "executions", "models"])
def test_records_into_a_restricted_run_need_a_write_grant(world: World, tmp_path: Path, route: str) -> None:
    secret_run = world.ids["secret-run"]
    permission = "models.write" if route == "models" else "runs.write"
    files = model_package(tmp_path, seed=31) if route == "models" else {}
    before = written_into(world, secret_run)
    with world.client("ed2") as outsider:
        refused = write_into(outsider, route, secret_run, files)
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "forbidden" and f"'{permission}'" in error["message"]
        assert "restricted to granted users" in error["message"]
        assert written_into(world, secret_run) == before  # nothing written
        assert write_into(outsider, route, None, files).status_code == 201
    with world.client("ed") as granted:  # a write grant on the run's experiment
        recorded = write_into(granted, route, secret_run, files)
        assert recorded.status_code == 201, recorded.text
        assert recorded.json()["run_id"] == secret_run
    with world.client("root") as admin:
        audited = admin.get("/audit", params={"user": "ed2", "action": ACTIONS[route]}).json()["events"]
    refusals = [e["target"] for e in audited if e["status_code"] == 403]
    assert len(refusals) == 1 and f"run:{secret_run}" in refusals[0].split(",")  # audited against the run


def test_a_record_body_over_a_mebibyte_is_still_inspected_not_refused(world: World) -> None:
    """The security layer reads these bodies to find their run; it takes what the API takes."""
    big = {"notes": "x" * (2 * 1024 * 1024)}  # over 1 MiB, under the server's 16 MiB JSON limit
    body = {"type": "Notes", "name": "big", "uri": "s3://elsewhere/n.txt", "sha256": None, "size": None}
    with world.client("ed2") as outsider:
        refused = outsider.post(
            "/artifacts", json={**body, "properties": big, "run_id": world.ids["secret-run"]}
        )
        assert refused.status_code == 403, refused.text  # judged on its run, not refused for its size
    with world.client("ed") as granted:
        answered = granted.post(
            "/artifacts", json={**body, "properties": big, "run_id": world.ids["secret-run"]}
        )
        assert answered.status_code != 413, answered.text


# --- without authentication (the conftest server): nothing changes, nothing is recorded ---------


def test_local_mode_claims_any_blob_and_records_no_upload(
    api: httpx.Client, run_id: str, server_home: Path
) -> None:
    stored = BlobStore(Settings(home=server_home).resolved_artifacts_url()).put_bytes(b"stored out of band")
    recorded = claim(api, run_id, stored.sha256)
    assert recorded.status_code == 201, recorded.text
    assert api.get(f"/blobs/{stored.sha256}").content == b"stored out of band"
    uploaded = api.put("/blobs", content=b"uploaded locally")
    assert uploaded.json()["sha256"] == hashlib.sha256(b"uploaded locally").hexdigest()
    engine = sa.create_engine(Settings(home=server_home).resolved_store_url())
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM blob_uploads")).scalar() == 0
    finally:
        engine.dispose()


def test_local_mode_registers_a_model_from_blobs_stored_out_of_band(
    api: httpx.Client, run_id: str, server_home: Path, tmp_path: Path
) -> None:
    files = model_package(tmp_path, seed=7)
    blobs = BlobStore(Settings(home=server_home).resolved_artifacts_url())
    manifest = {path: blobs.put_bytes(data).sha256 for path, data in files.items()}
    registered = api.post("/models/local-model/versions", json={"files": manifest, "run_id": run_id})
    assert registered.status_code == 201, registered.text
    assert registered.json()["run_id"] == run_id
