"""Root URLs: local paths, file://, memory://, and clear errors for unknown or missing protocols."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from loopml.artifacts import BlobStore
from loopml.artifacts._filesystems import FsspecBackend, LocalBackend, open_backend
from loopml.errors import InvalidInput, MissingDependency


def test_local_and_memory_backends(tmp_path: Path) -> None:
    assert isinstance(open_backend(str(tmp_path)), LocalBackend)
    assert isinstance(open_backend(f"file://{tmp_path}"), LocalBackend)
    assert isinstance(open_backend(tmp_path), LocalBackend)
    assert isinstance(open_backend("memory://somewhere"), FsspecBackend)


def test_unknown_protocol() -> None:
    with pytest.raises(InvalidInput, match="unknown protocol 'nosuchfs'"):
        BlobStore("nosuchfs://bucket/root")


def test_s3_without_s3fs_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # behave as if s3fs were not installed
    registry = importlib.import_module("fsspec.registry")._registry  # classes imported earlier
    for protocol in ("s3", "s3a"):
        monkeypatch.delitem(registry, protocol, raising=False)
    with pytest.raises(MissingDependency, match=r"pip install 'loopml\[s3\]'"):
        BlobStore("s3://bucket/root")


@pytest.mark.parametrize("bad", ["", "   "])
def test_empty_root(bad: str) -> None:
    with pytest.raises(InvalidInput, match="local path or fsspec URL"):
        BlobStore(bad)
