"""The metadata model as frozen dataclasses: experiments, runs, artifacts, executions, events, contexts.

These are plain values: no SQLAlchemy, HTTP or vendor code. Repositories in this package map
database rows to them. Times are milliseconds since the Unix epoch (UTC), as in MLflow.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "Artifact",
    "Context",
    "Event",
    "EventType",
    "Execution",
    "ExecutionState",
    "Experiment",
    "LifecycleStage",
    "Metric",
    "Page",
    "Run",
    "RunStatus",
]

T = TypeVar("T")


class LifecycleStage(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class RunStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        return self is not RunStatus.RUNNING


class ExecutionState(enum.StrEnum):
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CACHED = "CACHED"


class EventType(enum.StrEnum):
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


@dataclass(frozen=True, slots=True, kw_only=True)
class Experiment:
    experiment_id: str
    name: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    created_at: int
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    key: str
    value: float
    step: int = 0
    timestamp: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """A tracked run. ``metrics`` holds the latest value of each metric (highest step, then time)."""

    run_id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None = None
    parent_run_id: str | None = None
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    reproducibility: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifact:
    """A recorded piece of data: a file, dataset, statistics, schema, model ...

    ``uri`` is where the bytes live: ``sha256/ab/cdef...`` inside the artifact store for copied
    content, or any fsspec URL when ``is_reference`` (registered in place, not copied).
    ``version`` numbers artifacts of one ``(type, name)``; the store assigns it when asked to.
    """

    artifact_id: str
    type: str
    name: str
    uri: str
    sha256: str | None
    size: int | None
    is_reference: bool = False
    version: int | None = None
    run_id: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    created_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """One invocation of a component or of a tracked run (``run_id`` set for runs)."""

    execution_id: str
    type: str
    name: str
    state: ExecutionState
    started_at: int
    ended_at: int | None = None
    run_id: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    code_version: str | None = None
    cache_key: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Links an execution to an artifact it read (INPUT) or wrote (OUTPUT), under a role name."""

    execution_id: str
    artifact_id: str
    type: EventType
    role: str
    timestamp: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """Groups executions and artifacts: a pipeline run, an experiment, a dataset."""

    context_id: str
    type: str
    name: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    created_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """One page of a listing; pass ``next_page_token`` back to get the next one (None: last page)."""

    items: list[T]
    next_page_token: str | None = None
