"""Finding the artifacts that hold a blob: index layouts, the bounded cache of index contents."""

from __future__ import annotations

import json
from pathlib import Path

from loopml.artifacts import BlobStore
from loopml.server._blob_referrers import BlobReferrers, IndexCache, listed_hashes
from loopml.store.sql import open_store

A, B, C = "a" * 64, "b" * 64, "c" * 64


def test_every_index_layout_is_read() -> None:
    dataset = {"files": [{"path": "x.csv", "sha256": A, "size": 1}, {"path": "y.csv", "sha256": B}]}
    package = {"format": "loopml-package-index/1", "files": {"model.pkl": {"sha256": C, "size": 2}}}
    folder = {"format": "loopml-directory/1", "files": {"part-0": A}}
    assert listed_hashes(dataset) == {A, B}
    assert listed_hashes(package) == {C}
    assert listed_hashes(folder) == {A}


def test_anything_else_lists_nothing() -> None:
    for doc in ([A], {"files": "x"}, {"files": [{"sha256": "A" * 64}, {"sha256": 3}]}, {"rows": [A]}, None):
        assert listed_hashes(doc) == frozenset()


def test_cache_drops_least_recently_used_indexes_first() -> None:
    cache = IndexCache(max_hashes=6)
    cache.put("i1", frozenset({A, B}))  # holds 3
    cache.put("i2", frozenset({C}))  # holds 5
    assert cache.get("i1") == frozenset({A, B})  # now the most recent
    cache.put("i3", frozenset({A}))  # 7 > 6: i2 goes
    assert cache.get("i2") is None and cache.get("i3") == frozenset({A})
    assert cache.get("i1") == frozenset({A, B})
    cache.put("huge", frozenset({A, B, C, "d" * 64, "e" * 64, "f" * 64}))  # alone over the bound
    assert cache.get("huge") is None and cache.get("i1") is not None


def test_referrers_direct_and_listed(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    part = blobs.put_bytes(b"a,b\n1,2\n")
    manifest = blobs.put_bytes(json.dumps({"files": [{"path": "d.csv", "sha256": part.sha256}]}).encode())
    weights = blobs.put_bytes(b"\x80\x04 not an index")
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.artifacts.create(type="Dataset", name="d", uri=manifest.uri, sha256=manifest.sha256, size=1)
        store.artifacts.create(type="Model", name="m", uri=weights.uri, sha256=weights.sha256, size=1)
        store.artifacts.create(
            type="File", name="ref", uri="s3://x/y", sha256=part.sha256, size=1, is_reference=True
        )
        referrers = BlobReferrers(store, blobs, IndexCache())
        assert list(referrers.direct(part.sha256)) == []  # a reference holds no stored bytes
        assert [a.name for a in referrers.direct(manifest.sha256)] == ["d"]
        listing = [a.name for a in referrers.indexes() if referrers.lists(a, part.sha256)]
        assert listing == ["d"]
        assert not any(referrers.lists(a, weights.sha256) for a in referrers.indexes())
