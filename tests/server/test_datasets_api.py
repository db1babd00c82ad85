"""Datasets over HTTP: add a version from data under the artifact root (confined), read statistics."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.artifacts import BlobStore
from loopml.config import Settings
from loopml.data import compute_statistics
from loopml.data.files import write_statistics
from loopml.data.versions import DatasetVersions
from loopml.server.background import serve_in_thread
from loopml.store.sql import open_store


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("datasets-api")
    lake = root / "artifacts" / "lake"
    (lake / "sales").mkdir(parents=True)
    rows = "\n".join(f"{i},{i % 3},{'abc'[i % 3]}" for i in range(200))
    (lake / "sales" / "part-0.csv").write_text("id,qty,kind\n" + rows + "\n")
    (lake / "one.csv").write_text("x,y\n1,2\n3,4\n")
    (lake / "broken.csv").write_bytes(b"x,y\n1,2,3,4\n\xff\xfe\n")
    return root


@pytest.fixture(scope="module")
def api(home: Path) -> Iterator[httpx.Client]:
    with serve_in_thread(Settings(home=home)) as url, httpx.Client(base_url=url + "/api/v1", timeout=60) as c:
        yield c


def test_add_versions_from_under_the_artifact_root(api: httpx.Client, home: Path) -> None:
    first = api.post("/datasets/sales/versions", json={"uri": "lake/sales"})
    assert first.status_code == 201, first.text
    assert (first.json()["version"], first.json()["num_rows"]) == (1, 200)
    absolute = str(home / "artifacts" / "lake" / "one.csv")
    second = api.post("/datasets/sales/versions", json={"uri": absolute, "by_reference": True})
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2 and second.json()["files"][0]["is_reference"] is True
    as_url = api.post("/datasets/small/versions", json={"uri": "file://" + absolute})
    assert as_url.status_code == 201, as_url.text
    assert [a["version"] for a in api.get("/datasets", params={"name": "sales"}).json()["artifacts"]] == [
        1,
        2,
    ]


def test_a_uri_naming_nothing_is_not_found(api: httpx.Client) -> None:
    """A state the request cannot know (what lies under the root) is a 404, not a malformed request."""
    response = api.post("/datasets/refused/versions", json={"uri": "lake/missing.csv"})
    assert response.status_code == 404, response.text
    assert "names nothing" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("../store.db", "'..'"),
        ("lake/../../store.db", "'..'"),
        ("/etc/passwd", "outside the artifact root"),
        ("file:///etc/passwd", "outside the artifact root"),
        ("https://example.com/data.csv", "outside the artifact root"),
        ("lake/%2e%2e/x", "encoded"),
        ("lake\\sales", "backslash"),
        ("lake/broken.csv", "cannot be read"),
    ],
)
def test_bad_dataset_uris_are_refused(api: httpx.Client, uri: str, words: str) -> None:
    response = api.post("/datasets/refused/versions", json={"uri": uri})
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]["message"]
    assert api.get("/datasets", params={"name": "refused"}).json()["artifacts"] == []


def test_symbolic_links_are_refused(api: httpx.Client, home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    linked = home / "artifacts" / "lake" / "linked"
    linked.mkdir()
    os.symlink(outside, linked / "secret.csv")
    os.symlink(outside, home / "artifacts" / "lake" / "direct.csv")
    in_folder = api.post("/datasets/linked/versions", json={"uri": "lake/linked"})
    assert in_folder.status_code == 400 and "symbolic link" in in_folder.json()["error"]["message"]
    direct = api.post("/datasets/linked/versions", json={"uri": "lake/direct.csv"})
    assert direct.status_code == 400 and "outside the artifact root" in direct.json()["error"]["message"]


def test_statistics_of_a_version(api: httpx.Client, home: Path, tmp_path: Path) -> None:
    added = api.post("/datasets/profiled/versions", json={"uri": "lake/sales"}).json()
    ref = f"profiled@{added['version']}"
    assert api.get(f"/datasets/{ref}/statistics").json()["artifacts"] == []
    stats = compute_statistics(str(home / "artifacts" / "lake" / "sales"), name=ref)
    out = write_statistics(stats, tmp_path / "stats.json")
    with open_store(Settings(home=home).resolved_store_url()) as store:
        versions = DatasetVersions(store, BlobStore(home / "artifacts"))
        versions.record(
            versions.get(ref), {"statistics": ("Statistics", out)}, execution_type="ComputeStatistics"
        )
    [listed] = api.get(f"/datasets/{ref}/statistics").json()["artifacts"]
    assert listed["type"] == "Statistics" and listed["name"] == "profiled"
    body = api.get(f"/datasets/{ref}/statistics/{listed['artifact_id']}")
    assert body.status_code == 200 and body.headers["content-type"].startswith("application/json")
    assert json.loads(body.content) == json.loads(Path(out).read_text())
    other = api.get(f"/datasets/sales@1/statistics/{listed['artifact_id']}")
    assert other.status_code == 404  # statistics of another version are not reachable through this one
    assert api.get("/datasets/nope/statistics").status_code == 404
