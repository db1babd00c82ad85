"""The dataset inputs a run's reproducibility record names, as indexed for ``datasets.*`` search.

A run records its inputs in its reproducibility record: loopml's own under ``datasets`` (an
artifact's name, SHA-256 and role) and those logged through the MLflow API under
:data:`MLFLOW_DATASET_INPUTS` (MLflow's ``DatasetInput`` shape, its context in the
``mlflow.data.context`` tag). The store keeps one ``run_inputs`` row per input beside the record,
so ``datasets.name``, ``datasets.digest`` and ``datasets.context`` are searched in SQL.

Example:
    >>> record = {"datasets": [{"name": "train.csv", "sha256": "ab12", "role": "training"}]}
    >>> dataset_inputs(record)
    [DatasetInput(name='train.csv', digest='ab12', context='training')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DATASET_KEYS", "MLFLOW_CONTEXT_TAG", "MLFLOW_DATASET_INPUTS", "DatasetInput", "dataset_inputs"]

#: Key of the reproducibility record holding MLflow dataset inputs (as MLflow sends them).
MLFLOW_DATASET_INPUTS = "mlflow_dataset_inputs"
#: The input tag in which MLflow records a dataset's context (``training``, ``evaluation`` ...).
MLFLOW_CONTEXT_TAG = "mlflow.data.context"
#: The searchable fields of a dataset input: ``datasets.<key>``.
DATASET_KEYS = ("name", "digest", "context")


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetInput:
    """One input of a run as searched: a field the record lacks is None (and matches no test)."""

    name: str | None
    digest: str | None
    context: str | None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _mlflow_input(entry: Mapping[str, Any]) -> DatasetInput:
    dataset = entry.get("dataset")
    dataset = dataset if isinstance(dataset, Mapping) else {}
    tags = entry.get("tags")
    context = next(
        (
            _text(t.get("value"))
            for t in (tags if isinstance(tags, list) else [])
            if isinstance(t, Mapping) and t.get("key") == MLFLOW_CONTEXT_TAG
        ),
        None,
    )
    return DatasetInput(name=_text(dataset.get("name")), digest=_text(dataset.get("digest")), context=context)


def dataset_inputs(record: Mapping[str, Any]) -> list[DatasetInput]:
    """The inputs a reproducibility record names: loopml's, then MLflow's (malformed entries skipped)."""
    found = []
    for entry in record.get("datasets") or []:
        if isinstance(entry, Mapping):
            found.append(
                DatasetInput(
                    name=_text(entry.get("name")),
                    digest=_text(entry.get("sha256")),
                    context=_text(entry.get("role")),
                )
            )
    for entry in record.get(MLFLOW_DATASET_INPUTS) or []:
        if isinstance(entry, Mapping):
            found.append(_mlflow_input(entry))
    return found
