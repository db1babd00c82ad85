"""A live server with authentication on, over a populated SQLite store (one per test module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loopml.artifacts import BlobStore
from loopml.config import Settings
from loopml.server.background import serve_in_thread
from loopml.store.sql import open_store
from tests.ui._world import World, populate

ROOMY = {"rate": 1000, "burst": 1000}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("ui")
    store = open_store(f"sqlite:///{home / 'store.db'}")
    settings = Settings(home=home)
    tokens, ids = populate(store, BlobStore(settings.resolved_artifacts_url()), home)
    limits = {
        role: dict.fromkeys(("read", "write", "upload", "admin"), ROOMY) for role in ("viewer", "editor")
    }
    with serve_in_thread(Settings(home=home, rate_limits=limits), auth_enabled=True) as url:
        yield World(url=url, store=store, home=home, tokens=tokens, ids=ids)
    store.close()
