"""Metadata and lineage persistence: entities, repository protocols and the SQL store."""

from loopml.store._paging import MAX_RESULTS_LIMIT
from loopml.store._paging import TOKEN_PATTERN as PAGE_TOKEN_PATTERN
from loopml.store.entities import (
    Artifact,
    Context,
    Event,
    EventType,
    Execution,
    ExecutionState,
    Experiment,
    LifecycleStage,
    Metric,
    Page,
    Run,
    RunStatus,
    every_item,
)
from loopml.store.missing import (
    missing_artifact,
    missing_dataset,
    missing_deployment,
    missing_experiment,
    missing_model,
    missing_records,
)
from loopml.store.repositories import (
    ArtifactRepository,
    ExperimentRepository,
    LineageRepository,
    RunRepository,
    Store,
)

__all__ = [
    "MAX_RESULTS_LIMIT",
    "PAGE_TOKEN_PATTERN",
    "Artifact",
    "ArtifactRepository",
    "Context",
    "Event",
    "EventType",
    "Execution",
    "ExecutionState",
    "Experiment",
    "ExperimentRepository",
    "LifecycleStage",
    "LineageRepository",
    "Metric",
    "Page",
    "Run",
    "RunRepository",
    "RunStatus",
    "Store",
    "every_item",
    "missing_artifact",
    "missing_dataset",
    "missing_deployment",
    "missing_experiment",
    "missing_model",
    "missing_records",
]
