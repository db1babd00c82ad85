"""Fixtures for pipeline tests: a fresh SQLite store, a blob store and a quiet runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.artifacts import BlobStore
from loopml.pipeline import PipelineRunner
from loopml.store import Store
from loopml.store.sql import open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(str(tmp_path / "blobs"))


@pytest.fixture
def runner(store: Store, blobs: BlobStore) -> PipelineRunner:
    return PipelineRunner(store, blobs)
