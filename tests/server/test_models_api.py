"""Models over HTTP: register from uploaded blobs, download verified files, aliases, archive, blessing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.artifacts import BlobStore
from loopml.config import Settings
from loopml.errors import InvalidInput, NotFound
from loopml.registry import KeyRing, KeySigner, TrustStore, package_model, sign_package
from loopml.security.auth import AuthService, Role
from loopml.server._model_files import checked_manifest, rebuilt_package
from loopml.server.background import serve_in_thread
from loopml.store.sql import SqlStore, open_store


class Live:
    """A live server with auth on, tokens per role, and a signed model package on disk."""

    def __init__(self, url: str, store: SqlStore, tokens: dict[str, str], package: Path) -> None:
        self.url = url
        self.store = store
        self.tokens = tokens
        self.package = package

    def client(self, user: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=60)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("models-api")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    model = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    package = package_model(model, home / "pkg", sample=frame)
    ring = KeyRing(home / "keys")
    info = ring.generate("release")
    TrustStore(home / "trust").add(ring.export_public("release"), name="release")
    sign_package(package.path, KeySigner(info.private_path))
    store = open_store(f"sqlite:///{home / 'store.db'}")
    auth = AuthService(store)
    tokens: dict[str, str] = {}
    for name, role in (
        ("root", Role.ADMIN),
        ("mia", Role.MAINTAINER),
        ("ed", Role.EDITOR),
        ("vi", Role.VIEWER),
    ):
        auth.create_user(name, role=role)
        tokens[name] = auth.create_token(name)[1]
    with serve_in_thread(Settings(home=home), auth_enabled=True) as url:
        yield Live(url, store, tokens, package.path)
    store.close()


def upload(api: httpx.Client, folder: Path) -> dict[str, str]:
    """Upload every file of ``folder`` as a blob; the manifest path → sha256."""
    files: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        response = api.put("/blobs", content=path.read_bytes())
        assert response.status_code == 201, response.text
        files[path.relative_to(folder).as_posix()] = response.json()["sha256"]
    return files


def register(live: Live, name: str, user: str = "ed", **extra: Any) -> dict[str, Any]:
    with live.client(user) as api:
        response = api.post(f"/models/{name}/versions", json={"files": upload(api, live.package), **extra})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def blessing_artifact(api: httpx.Client, name: str, *, passed: bool) -> str:
    doc = json.dumps({"passed": passed}).encode()
    blob = api.put("/blobs", content=doc).json()
    created = api.post(
        "/artifacts",
        json={
            "type": "Blessing",
            "name": name,
            "uri": blob["uri"],
            "sha256": blob["sha256"],
            "size": blob["size"],
            "properties": {"passed": passed},
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["artifact_id"])


def error_of(response: httpx.Response) -> dict[str, str]:
    return response.json()["error"]  # type: ignore[no-any-return]


def test_register_from_blobs_then_download_every_file_verified(live: Live) -> None:
    version = register(live, "churn", description="first", tags={"team": "risk"})
    assert (version["name"], version["version"], version["created_by"]) == ("churn", 1, "ed")
    assert version["is_signed"] and version["scan_verdict"] == "safe" and version["tags"] == {"team": "risk"}
    local = {p.relative_to(live.package).as_posix(): p for p in live.package.rglob("*") if p.is_file()}
    with live.client("vi") as api:  # reading needs only `read`
        listed = api.get("/models/churn/versions/1/files").json()
        assert listed["manifest_sha256"] == version["manifest_sha256"]
        assert {f["path"] for f in listed["files"]} == set(local)
        for entry in listed["files"]:
            data = local[entry["path"]].read_bytes()
            assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
            down = api.get(f"/models/churn/versions/1/files/{entry['path']}")
            assert down.status_code == 200 and down.content == data
            assert down.headers["X-Content-SHA256"] == entry["sha256"]
        assert api.get("/models/churn/versions/1").json()["version_id"] == version["version_id"]
        missing = api.get("/models/churn/versions/1/files/nope.bin")
        assert missing.status_code == 404 and "checksums.json" in error_of(missing)["message"]
        traversal = api.get("/models/churn/versions/1/files/..%2F..%2Fstore.db")
        assert traversal.status_code in (400, 404)
    [event] = live.store.identity.list_audit_events(actor="ed", action="models.register_version", limit=1)
    assert (event.target, event.status_code) == ("model:churn", 201)


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ({"../escape.txt": "0" * 64}, 400, "path traversal"),
        ({"/etc/passwd": "0" * 64}, 400, "absolute"),
        ({"a\\b.txt": "0" * 64}, 400, "backslash"),
        ({"%2e%2e/x": "0" * 64}, 400, "encoded"),
        ({"m": "0" * 64, "m/x": "0" * 64}, 400, "both as a file and as a folder"),
        ({"a/./b": "0" * 64, "a/b": "1" * 64}, 400, "without empty or '.' parts"),  # one path twice
        ({"model.skops": "0" * 64}, 404, "upload the file"),
        ({"model.skops": "not-a-hash"}, 422, "files"),
        ({}, 422, "files"),
    ],
)
def test_bad_manifests_are_refused_and_nothing_is_registered(
    live: Live, files: dict[str, str], status: int, words: str
) -> None:
    with live.client("ed") as api:
        response = api.post("/models/refused/versions", json={"files": files})
        assert response.status_code == status, response.text
        assert words in error_of(response)["message"]
        assert api.get("/models/refused").status_code == 404


def test_tampered_upload_fails_integrity_and_unknown_fields_fail_schema(live: Live) -> None:
    with live.client("ed") as api:
        files = upload(api, live.package)
        [model_file] = [p for p in files if p.endswith(".skops")]
        files[model_file] = api.put("/blobs", content=b"not the model").json()["sha256"]
        tampered = api.post("/models/tampered/versions", json={"files": files})
        assert tampered.status_code == 422 and error_of(tampered)["code"] == "integrity_error"
        extra = api.post("/models/tampered/versions", json={"files": files, "owner": "me"})
        assert extra.status_code == 422
        assert api.get("/models/tampered").status_code == 404


def test_alias_permissions_policy_and_compare_and_set(live: Live) -> None:
    register(live, "fraud")
    with live.client("ed") as ed:
        assert ed.put("/models/fraud/aliases/staging", json={"version": 1}).json()["updated_by"] == "ed"
        refused = ed.put("/models/fraud/aliases/champion", json={"version": 1})
        assert refused.status_code == 403 and "'aliases.production'" in error_of(refused)["message"]
        blessing = blessing_artifact(ed, "fraud", passed=True)
    with live.client("mia") as mia:
        unblessed = mia.put("/models/fraud/aliases/champion", json={"version": 1})
        assert unblessed.status_code == 403, unblessed.text
        assert (
            error_of(unblessed)["code"] == "policy_violation"
            and "'blessing'" in error_of(unblessed)["message"]
        )
        with live.client("ed") as ed:
            blessed = ed.post("/models/fraud/versions/1/blessing", json={"artifact_id": blessing})
        assert blessed.status_code == 200 and blessed.json()["blessing_passed"] is True
        moved = mia.put("/models/fraud/aliases/champion", json={"version": 1, "expected_version": None})
        assert moved.status_code == 200 and moved.json()["version"] == 1, moved.text
        again = mia.put("/models/fraud/aliases/champion", json={"version": 1, "expected_version": None})
        assert again.status_code == 409  # "must not exist yet" no longer holds
        stale = mia.put("/models/fraud/aliases/champion", json={"version": 1, "expected_version": 2})
        assert stale.status_code == 409
        assert mia.delete("/models/fraud/aliases/champion", params={"expected_version": 2}).status_code == 409
        assert mia.delete("/models/fraud/aliases/champion", params={"expected_version": 1}).status_code == 204
        assert "champion" not in mia.get("/models/fraud").json()["aliases"]
        history = mia.get("/models/fraud/alias-history", params={"alias": "champion"}).json()["events"]
    assert [(e["actor"], e["result"]) for e in history] == [
        ("mia", "refused"),
        ("mia", "moved"),
        ("mia", "conflict"),
        ("mia", "conflict"),
        ("mia", "conflict"),
        ("mia", "deleted"),
    ]


def test_archive_needs_force_and_production_aliases_need_a_maintainer(live: Live) -> None:
    register(live, "archived")
    with live.client("ed") as ed:
        blessing = blessing_artifact(ed, "archived", passed=True)
        assert (
            ed.post("/models/archived/versions/1/blessing", json={"artifact_id": blessing}).status_code == 200
        )
    with live.client("mia") as mia:
        assert mia.put("/models/archived/aliases/prod", json={"version": 1}).status_code == 200
    with live.client("ed") as ed:
        held = ed.post("/models/archived/versions/1/archive", json={})
        assert held.status_code == 409 and error_of(held)["code"] == "invalid_state"
        forced = ed.post("/models/archived/versions/1/archive", json={"force": True})
        assert forced.status_code == 403 and "'aliases.production'" in error_of(forced)["message"]
        assert ed.get("/models/archived/versions/1").json()["status"] == "READY"
    with live.client("mia") as mia:
        done = mia.post("/models/archived/versions/1/archive", json={"force": True, "reason": "retired"})
        assert done.status_code == 200 and done.json()["status"] == "ARCHIVED", done.text
        assert mia.get("/models/archived").json()["aliases"] == {}


def test_blessing_must_be_a_blessing_artifact(live: Live) -> None:
    register(live, "blessed")
    with live.client("ed") as ed:
        blob = ed.put("/blobs", content=b"plain").json()
        other = ed.post(
            "/artifacts",
            json={
                "type": "File",
                "name": "x",
                "uri": blob["uri"],
                "sha256": blob["sha256"],
                "size": blob["size"],
            },
        ).json()["artifact_id"]
        wrong = ed.post("/models/blessed/versions/1/blessing", json={"artifact_id": other})
        assert wrong.status_code == 400 and "'Blessing'" in error_of(wrong)["message"]
        unknown = ed.post("/models/blessed/versions/9/blessing", json={"artifact_id": other})
        assert unknown.status_code == 404


def test_rebuilt_package_checks_paths_and_size(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    ref = blobs.put_bytes(b"x" * 100)
    with rebuilt_package(
        blobs, {"a/b.bin": ref.sha256, "c.bin": ref.sha256}, max_bytes=200, label="t"
    ) as root:
        assert (root / "a" / "b.bin").read_bytes() == b"x" * 100
        kept = root
    assert not kept.exists()  # the temporary folder is removed
    too_big = {"a": ref.sha256, "b": ref.sha256, "c": ref.sha256}
    missing = {"a": "f" * 64}
    with (
        pytest.raises(InvalidInput, match="larger"),
        rebuilt_package(blobs, too_big, max_bytes=200, label="t"),
    ):
        pass
    with pytest.raises(NotFound, match="not stored"), rebuilt_package(blobs, missing, max_bytes=9, label="t"):
        pass
    assert checked_manifest({"a/b": ref.sha256}) == {"a/b": ref.sha256}
    with pytest.raises(InvalidInput, match="as 'a/b'"):  # the document states the canonical form
        checked_manifest({"./a//b": ref.sha256})
    with pytest.raises(InvalidInput, match="at most"):
        checked_manifest({f"f{i}": ref.sha256 for i in range(1_001)})
