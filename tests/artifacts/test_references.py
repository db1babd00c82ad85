"""Data registered by reference: hashed in place, verified later, never copied."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import fsspec
import pytest

from loopml.artifacts import BlobRef, BlobStore
from loopml.errors import IntegrityError, InvalidInput, NotFound


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def test_reference_local_file_is_not_copied(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    path = tmp_path / "table.parquet"
    path.write_bytes(data)
    ref = store.reference(str(path), label="table")
    assert ref == BlobRef(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        uri=str(path),
        is_reference=True,
        etag=ref.etag,
    )
    assert ref.etag is not None and ref.etag.startswith("mtime:")
    assert not store.exists(ref.sha256)
    assert not (tmp_path / "blobs" / "sha256").exists()
    store.verify_reference(ref)


def test_verify_reference_after_modification(store: BlobStore, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    ref = store.reference(str(path))
    path.write_bytes(b"a,b\n1,3\n")  # same size, other content
    with pytest.raises(IntegrityError, match=f"expected sha256 {ref.sha256}.*register the new version"):
        store.verify_reference(ref, label="data.csv")
    path.write_bytes(b"a,b\n1,2\n3,4\n")  # other size: caught before hashing
    with pytest.raises(IntegrityError, match=r"12 bytes now, 8 bytes registered"):
        store.verify_reference(ref)
    path.unlink()
    with pytest.raises(NotFound, match=r"data\.csv"):
        store.verify_reference(ref)


def test_reference_memory_url(store: BlobStore) -> None:
    url = f"memory://refs-{uuid.uuid4().hex}/x.bin"
    fs = fsspec.filesystem("memory")
    fs.pipe(url, b"remote bytes")
    try:
        ref = store.reference(url)
        assert (ref.uri, ref.size, ref.is_reference) == (url, 12, True)
        store.verify_reference(ref)
        fs.pipe(url, b"remote BYTES")
        with pytest.raises(IntegrityError, match="changed since it was registered"):
            store.verify_reference(ref)
    finally:
        fs.rm(url)


def test_reference_missing_and_directory(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"nowhere\.csv"):
        store.reference(str(tmp_path / "nowhere.csv"))
    with pytest.raises(InvalidInput, match="not a file"):
        store.reference(str(tmp_path))


def test_verify_reference_of_stored_blob_verifies_the_blob(store: BlobStore) -> None:
    ref = store.put_bytes(b"stored")
    store.verify_reference(ref)
    assert store.verify(ref.sha256).size == 6
