"""A live API server per test module (loopback, in a thread, over a fresh SQLite store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.config import Settings
from loopml.server import ServerConfig
from loopml.server.background import serve_in_thread

SMALL = ServerConfig(
    max_body_bytes=64 * 1024, max_artifact_bytes=256 * 1024, max_json_depth=16, max_batch_items=100
)


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def server_url(server_home: Path) -> Iterator[str]:
    with serve_in_thread(Settings(home=server_home), config=SMALL) as url:
        yield url


@pytest.fixture
def api(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url + "/api/v1", timeout=30) as client:
        yield client


@pytest.fixture
def run_id(api: httpx.Client, request: pytest.FixtureRequest) -> str:
    name = f"exp-{request.node.name}"[:200].replace("/", "_").replace("[", "_").replace("]", "_")
    exp = api.post("/experiments/get-or-create", json={"name": name}).json()
    return str(api.post("/runs", json={"experiment_id": exp["experiment_id"]}).json()["run_id"])
