"""Which artifacts hold a content-addressed blob's bytes, for deciding who may read the blob.

A blob is referenced in two ways:

* directly, by an artifact record whose ``sha256`` is the blob's hash (run files, statistics,
  blessings, pipeline outputs, and the index blobs below themselves) — found through the
  ``ix_artifacts_sha256`` index (``store.artifacts.list(sha256=...)``);
* as a file listed inside an index blob that has a record of its own: a dataset version's
  manifest (the ``Dataset`` artifact; ``files: [{path, sha256, ...}]``), a model version's package
  index (the ``Model`` artifact, also the version's ``manifest_sha256``;
  ``files: {path: {sha256, size}}``) and a pipeline folder output of those types
  (``files: {path: sha256}``). These files have no record; they are found by reading the index
  blobs of the Dataset and Model artifacts. An index blob never changes (its address is its
  hash), so what it lists is cached by that hash.

:class:`~loopml.server._visibility.Visibility` decides which of the referrers a caller may see.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator

from loopml.artifacts import CHUNK_SIZE, BlobStore
from loopml.data.versions import DATASET_TYPE
from loopml.errors import LoopmlError
from loopml.registry import MODEL_ARTIFACT_TYPE
from loopml.store.entities import Artifact, every_item
from loopml.store.repositories import Store

__all__ = [
    "INDEX_TYPES",
    "MAX_CACHED_HASHES",
    "MAX_INDEX_BYTES",
    "BlobReferrers",
    "IndexCache",
    "listed_hashes",
]

log = logging.getLogger(__name__)

#: Artifact types whose blob may list other blobs (dataset versions; model packages, as recorded
#: by the model registry).
INDEX_TYPES: tuple[str, ...] = (DATASET_TYPE, MODEL_ARTIFACT_TYPE)
#: Larger index blobs are not read (a dataset manifest of 100,000 files is about 20 MB).
MAX_INDEX_BYTES = 32 * 1024 * 1024
#: Most blob hashes the cache of index contents holds, all indexes together.
MAX_CACHED_HASHES = 1_000_000
#: The property and value pipeline outputs stored as one file carry (``loopml.pipeline.artifact_types``;
#: not imported, so that the server does not load the pipeline package).
LAYOUT_PROPERTY, LAYOUT_FILE = "loopml.layout", "file"
_PAGE = 1000
_SHA256 = re.compile(r"[0-9a-f]{64}")


class IndexCache:
    """What each index blob lists, by the index's hash; bounded, least recently used out first.

    Thread-safe: one instance serves every request of a server process.

    Args:
        max_hashes: Most hashes held: what every index lists plus one per index.
    """

    def __init__(self, max_hashes: int = MAX_CACHED_HASHES) -> None:
        self._max_hashes = max_hashes
        self._listed: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, index_sha256: str) -> frozenset[str] | None:
        """The hashes the index lists, or None when it is not cached."""
        with self._lock:
            found = self._listed.get(index_sha256)
            if found is not None:
                self._listed.move_to_end(index_sha256)
            return found

    def put(self, index_sha256: str, listed: frozenset[str]) -> None:
        """Remember what an index lists (nothing is kept when it alone is over the bound)."""
        if len(listed) + 1 > self._max_hashes:
            return
        with self._lock:
            previous = self._listed.pop(index_sha256, None)
            self._held -= len(previous) + 1 if previous is not None else 0
            self._listed[index_sha256] = listed
            self._held += len(listed) + 1
            while self._held > self._max_hashes:
                _, dropped = self._listed.popitem(last=False)
                self._held -= len(dropped) + 1


class BlobReferrers:
    """The artifacts that hold one blob's bytes, found lazily (stop iterating at the first you need).

    Args:
        store: The metadata store.
        blobs: The blob store (index blobs are read from it, verified).
        cache: What index blobs list; share one per server process.
    """

    def __init__(self, store: Store, blobs: BlobStore, cache: IndexCache) -> None:
        self._store = store
        self._blobs = blobs
        self._cache = cache

    def direct(self, sha256: str) -> Iterator[Artifact]:
        """Stored (not referenced) artifacts whose bytes are the blob ``sha256``."""
        yield from (a for a in self._pages(sha256=sha256) if not a.is_reference)

    def indexes(self) -> Iterator[Artifact]:
        """Stored artifacts whose blob may list other blobs (:data:`INDEX_TYPES`), oldest first."""
        for kind in INDEX_TYPES:
            yield from (a for a in self._pages(type=kind) if not a.is_reference and a.sha256)

    def lists(self, index: Artifact, sha256: str) -> bool:
        """Whether the blob of ``index`` (one of :meth:`indexes`) lists the blob ``sha256``."""
        if index.sha256 is None or index.properties.get(LAYOUT_PROPERTY) == LAYOUT_FILE:
            return False  # a pipeline output stored as one file lists nothing
        listed = self._cache.get(index.sha256)
        if listed is None:
            listed = self._read_index(index.sha256, artifact_id=index.artifact_id)
            self._cache.put(index.sha256, listed)
        return sha256 in listed

    def _pages(self, *, sha256: str | None = None, type: str | None = None) -> Iterator[Artifact]:
        return every_item(
            lambda token: self._store.artifacts.list(
                sha256=sha256, type=type, max_results=_PAGE, page_token=token
            )
        )

    def _read_index(self, index_sha256: str, *, artifact_id: str) -> frozenset[str]:
        """What the index blob lists; nothing when it is too large or not an index document."""
        try:
            with self._blobs.open(index_sha256, label=f"index of artifact {artifact_id}") as f:
                raw = f.read(CHUNK_SIZE)
                if not raw.lstrip().startswith(b"{"):
                    return frozenset()  # not JSON: a model or data file, not an index
                raw += f.read(MAX_INDEX_BYTES + 1 - len(raw))  # reaching the end verifies the hash
            return frozenset() if len(raw) > MAX_INDEX_BYTES else listed_hashes(json.loads(raw))
        except (LoopmlError, OSError, ValueError, RecursionError) as err:
            log.warning(
                "The blob %s of artifact %s is not a readable index: %s", index_sha256, artifact_id, err
            )
            return frozenset()


def listed_hashes(doc: object) -> frozenset[str]:
    """The blob hashes an index document lists under ``files`` (any of the three layouts).

    Example:
        >>> sha = "ab" * 32
        >>> sorted(listed_hashes({"files": {"a.txt": {"sha256": sha}, "b.txt": sha}}))  == [sha]
        True
        >>> listed_hashes({"files": [{"path": "x", "sha256": "not a hash"}]})
        frozenset()
    """
    files = doc.get("files") if isinstance(doc, dict) else None
    entries = files.values() if isinstance(files, dict) else files if isinstance(files, list) else ()
    found: set[str] = set()
    for entry in entries:
        value = entry.get("sha256") if isinstance(entry, dict) else entry
        if isinstance(value, str) and _SHA256.fullmatch(value):
            found.add(value)
    return frozenset(found)
