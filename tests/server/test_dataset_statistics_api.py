"""End to end: a pipeline (ingest + statistics) over a registered version; the API lists its
statistics under the version and returns each split's document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml.artifacts import BlobStore
from loopml.cli.app import main
from loopml.components import export_artifact, ingest, statistics
from loopml.config import Settings
from loopml.data import DatasetStatistics
from loopml.data.versions import DatasetVersions
from loopml.pipeline import Pipeline, PipelineRunner, PipelineStatus
from loopml.server.background import serve_in_thread
from loopml.store import Store
from loopml.store.sql import open_store
from tests.components._harness import make_frame


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dataset-statistics")


@pytest.fixture(scope="module")
def store(home: Path) -> Iterator[Store]:
    opened = open_store(Settings(home=home).resolved_store_url())
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def blobs(home: Path) -> BlobStore:
    return BlobStore(Settings(home=home).resolved_artifacts_url())


@pytest.fixture(scope="module")
def run(home: Path, store: Store, blobs: BlobStore) -> dict[str, Any]:
    """Register people@1 and people@2, then run ingest + statistics over people@1."""
    data = home / "people.parquet"
    make_frame(600).to_parquet(data, index=False)
    versions = DatasetVersions(store, blobs)
    versions.add("people", data)
    make_frame(100, seed=3).to_parquet(data, index=False)
    versions.add("people", data)
    examples = ingest(dataset="people@1", key="id", eval_percent=25)
    stats = statistics(examples=examples.output)
    result = PipelineRunner(store, blobs).run(Pipeline("people", steps=[stats]))
    assert result.status is PipelineStatus.COMPLETE, [s.error for s in result.steps]
    artifact_id = result.step("statistics").outputs["statistics"]
    folder = export_artifact(store, blobs, artifact_id, home / "exported")
    return {
        "artifact_id": artifact_id,
        "folder": folder,
        "examples": result.step("ingest").outputs["dataset"],
    }


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[httpx.Client]:
    with serve_in_thread(Settings(home=home)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_pipeline_statistics_are_listed_under_the_version(client: httpx.Client, run: dict[str, Any]) -> None:
    response = client.get("/api/v1/datasets/people@1/statistics")
    assert response.status_code == 200, response.text
    [listed] = response.json()["artifacts"]
    assert listed["artifact_id"] == run["artifact_id"] and listed["type"] == "Statistics"
    assert listed["splits"] == ["eval", "train"]
    assert (listed["computed_from"], listed["hops"]) == (run["examples"], 2)
    assert client.get("/api/v1/datasets/people@2/statistics").json()["artifacts"] == []


@pytest.mark.parametrize("split", ["train", "eval"])
def test_each_split_document_is_returned(client: httpx.Client, run: dict[str, Any], split: str) -> None:
    url = f"/api/v1/datasets/people@1/statistics/{run['artifact_id']}"
    response = client.get(url, params={"split": split})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    expected = (run["folder"] / f"{split}.json").read_bytes()
    assert response.content == expected
    document = DatasetStatistics.from_json(response.content)
    assert document.name == split and document.num_examples > 0


def test_a_split_folder_without_a_split_is_a_400_naming_the_splits(
    client: httpx.Client, run: dict[str, Any]
) -> None:
    url = f"/api/v1/datasets/people@1/statistics/{run['artifact_id']}"
    missing = client.get(url)
    assert missing.status_code == 400
    message = missing.json()["error"]["message"]
    assert "name one of its splits: eval, train" in message and "?split=eval" in message
    unknown = client.get(url, params={"split": "test"})
    assert unknown.status_code == 404 and "eval, train" in unknown.json()["error"]["message"]
    elsewhere = client.get(
        f"/api/v1/datasets/people@2/statistics/{run['artifact_id']}", params={"split": "train"}
    )
    assert elsewhere.status_code == 404


def test_the_cli_shows_the_statistics_of_the_version(
    home: Path, run: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        main(["--home", str(home), "data", "show", "people@1", "--json"])
    except SystemExit as ex:
        assert ex.code in (0, None), f"exit {ex.code}"
    shown = json.loads(capsys.readouterr().out)
    [listed] = shown["statistics"]
    assert listed["artifact_id"] == run["artifact_id"] and listed["splits"] == ["eval", "train"]
