"""Fixtures for the blob store: one store per backend (local path and memory://) with raw access."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from loopml.artifacts import BlobStore


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreUnderTest:
    """A blob store plus raw access to the bytes under its root, to damage them on purpose."""

    store: BlobStore
    root: str
    fs: AbstractFileSystem
    base: str

    def raw(self, rel: str) -> bytes:
        return bytes(self.fs.cat_file(f"{self.base}/{rel}"))

    def overwrite(self, rel: str, data: bytes) -> None:
        path = f"{self.base}/{rel}"
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(path, data)

    def files(self, under: str) -> list[str]:
        folder = f"{self.base}/{under}"
        return sorted(self.fs.find(folder)) if self.fs.exists(folder) else []

    def reopen(self, *, encryption_key: bytes | None = None) -> BlobStore:
        return BlobStore(self.root, encryption_key=encryption_key)


def make_store(kind: str, tmp_path: Path, *, encryption_key: bytes | None = None) -> StoreUnderTest:
    root = str(tmp_path / "blobs") if kind == "local" else f"memory://loopml-test-{uuid.uuid4().hex}"
    fs, base = url_to_fs(root)
    return StoreUnderTest(
        store=BlobStore(root, encryption_key=encryption_key), root=root, fs=fs, base=base.rstrip("/")
    )


@pytest.fixture(params=["local", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """A fresh store on each backend."""
    sut = make_store(request.param, tmp_path)
    yield sut
    if request.param == "memory" and sut.fs.exists(sut.base):
        sut.fs.rm(sut.base, recursive=True)
