"""Fixtures for component tests: generated tabular data, stores, a runner and a helper to run steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.artifacts import BlobStore
from loopml.pipeline import PipelineRunner
from loopml.store import Store
from loopml.store.sql import open_store

from ._harness import Harness, make_frame


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "people.parquet"
    path.parent.mkdir()
    make_frame().to_parquet(path, index=False)
    return path


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


@pytest.fixture
def harness(runner: PipelineRunner, tmp_path: Path) -> Harness:
    return Harness(runner, tmp_path)
