"""The training statistics a model version carries, found through the registry and the lineage.

Example:
    >>> from loopml.store.sql import open_store
    >>> store = open_store("sqlite://")
    >>> find = registry_training_statistics(store, blobs=None)
    >>> find("unknown-model", "1") is None
    True
    >>> store.close()
"""

from __future__ import annotations

from loopml.artifacts import Blobs
from loopml.data.statistics import DatasetStatistics
from loopml.errors import InvalidInput, NotFound
from loopml.inference.skew import training_statistics
from loopml.monitor.service import TrainingStatistics
from loopml.store.repositories import RegistryStore

__all__ = ["registry_training_statistics"]


def registry_training_statistics(store: RegistryStore, blobs: Blobs | None) -> TrainingStatistics:
    """A lookup of the ``train`` statistics upstream of a registered version (None when there are none)."""

    def find(model: str, version: str) -> DatasetStatistics | None:
        try:
            found = store.models.get_version(model, int(version))
        except (NotFound, InvalidInput, ValueError):
            return None
        if blobs is None or not found.artifact_id:
            return None
        return training_statistics(store, blobs, found.artifact_id)

    return find
