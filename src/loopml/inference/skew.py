"""Training/serving skew of a batch run: input statistics against the model's training statistics.

The training statistics are found by walking the lineage upstream from the registered package
(package ← train ← transform/ingest ... ← statistics): the first ``Statistics`` artifact met holds
``train.json`` (what the ``statistics`` component writes). Models registered without a pipeline
have none, and skew is then not reported.
"""

from __future__ import annotations

import collections
import json

from loopml.artifacts import Blobs
from loopml.data.drift import Comparator, ComparatorType, DriftSkewInfo, compare
from loopml.data.statistics import DatasetStatistics
from loopml.store.entities import EventType
from loopml.store.repositories import Store

__all__ = ["SKEW_COMPARATOR", "skew", "training_statistics"]

SKEW_COMPARATOR = Comparator(type=ComparatorType.JENSEN_SHANNON, threshold=0.1)
"""Jensen-Shannon divergence above 0.1 flags a feature (as the data-validation skew default)."""
_STATISTICS_TYPE = "Statistics"
_MAX_ARTIFACTS = 500


def training_statistics(store: Store, blobs: Blobs, artifact_id: str) -> DatasetStatistics | None:
    """The ``train`` split statistics upstream of ``artifact_id`` in the lineage, or None."""
    seen, queue = {artifact_id}, collections.deque([artifact_id])
    while queue and len(seen) < _MAX_ARTIFACTS:
        current = queue.popleft()
        artifact = store.artifacts.get(current)
        if artifact.type == _STATISTICS_TYPE and artifact.sha256 is not None:
            manifest = json.loads(blobs.read_bytes(artifact.sha256, label=f"statistics {artifact.name}"))
            sha = manifest.get("files", {}).get("train.json") if isinstance(manifest, dict) else None
            if sha:
                text = blobs.read_bytes(sha, label=f"statistics {artifact.name} train.json")
                return DatasetStatistics.from_json(text, source=f"artifact {current}")
        for event in store.lineage.list_events(artifact_id=current):
            if event.type is not EventType.OUTPUT:
                continue
            for upstream in store.lineage.list_events(execution_id=event.execution_id):
                if upstream.type is EventType.INPUT and upstream.artifact_id not in seen:
                    seen.add(upstream.artifact_id)
                    queue.append(upstream.artifact_id)
    return None


def skew(current: DatasetStatistics, training: DatasetStatistics) -> list[DriftSkewInfo]:
    """Skew of each feature present in both statistics (``is_anomalous`` when over the threshold)."""
    known = {f.name: f for f in training.features}
    return [
        compare(feature, known[feature.name], SKEW_COMPARATOR, comparison="skew")
        for feature in current.features
        if feature.name in known
    ]
