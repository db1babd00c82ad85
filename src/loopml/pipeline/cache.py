"""Step caching: the cache key of a step and finding a reusable earlier execution.

The key is ``sha256`` over the component fingerprint (source + version), the canonical JSON of
the step's parameters and the content hashes of its input artifacts (the artifact id when an
artifact has no hash). A step whose key matches an earlier COMPLETE execution reuses that
execution's outputs, provided they are all still there and of the declared types.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from loopml.artifacts import BlobStore
from loopml.pipeline._runtime import canonical_json
from loopml.pipeline.artifact_types import ArtifactType, artifact_type_for
from loopml.store import Artifact, EventType, Execution, Store

__all__ = ["CacheHit", "cache_key", "find_cache_hit"]


def cache_key(*, fingerprint: str, params: Mapping[str, Any], inputs: Mapping[str, ArtifactType]) -> str:
    """The cache key of a step.

    Example:
        >>> k1 = cache_key(fingerprint="f", params={"a": 1, "b": 2}, inputs={})
        >>> k1 == cache_key(fingerprint="f", params={"b": 2, "a": 1}, inputs={})
        True
        >>> k1 == cache_key(fingerprint="f", params={"a": 2, "b": 2}, inputs={})
        False
    """
    payload = {
        "component": fingerprint,
        "params": dict(params),
        "inputs": {
            name: (f"sha256:{art.sha256}" if art.sha256 else f"id:{art.artifact_id}")
            for name, art in sorted(inputs.items())
        },
    }
    return hashlib.sha256(b"loopml-cache/1\n" + canonical_json(payload)).hexdigest()


class CacheHit:
    """An earlier execution whose outputs a step can reuse."""

    def __init__(self, execution: Execution, outputs: Mapping[str, Artifact]) -> None:
        self.execution = execution
        self.outputs = dict(outputs)


def find_cache_hit(
    store: Store,
    blobs: BlobStore,
    *,
    key: str,
    outputs: Mapping[str, type[ArtifactType]],
) -> CacheHit | None:
    """The reusable execution for ``key``, or None when there is none or its outputs are gone."""
    execution = store.lineage.find_cached_execution(key)
    if execution is None:
        return None
    found: dict[str, Artifact] = {}
    for event in store.lineage.list_events(execution_id=execution.execution_id):
        if event.type is EventType.OUTPUT and event.role in outputs:
            found[event.role] = store.artifacts.get(event.artifact_id)
    if set(found) != set(outputs):
        return None
    for name, artifact in found.items():
        if artifact.type != outputs[name].type_name and not _is_subtype(artifact.type, outputs[name]):
            return None
        if not artifact.is_reference and artifact.sha256 and not blobs.exists(artifact.sha256):
            return None
    return CacheHit(execution, found)


def _is_subtype(type_name: str, expected: type[ArtifactType]) -> bool:
    return issubclass(artifact_type_for(type_name), expected)
