"""The store's interface: one repository per aggregate, as typing Protocols.

:class:`Store` bundles them. The SQL implementation lives in this package; a remote
implementation (over the loopml server's REST API) implements the same protocols, and one
contract test suite runs over every implementation.

Conventions: ``get_*`` raises :class:`~loopml.errors.NotFound`, ``find_*`` returns ``None``,
``list_*`` / ``search_*`` return a :class:`Page` or list. Inputs are validated here (keys, lengths,
value types) and violations raise :class:`~loopml.errors.InvalidInput`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from loopml.store.entities import (
    Artifact,
    Context,
    Event,
    EventType,
    Execution,
    ExecutionState,
    Experiment,
    Metric,
    Page,
    Run,
    RunStatus,
)

__all__ = [
    "ArtifactRepository",
    "ExperimentRepository",
    "LineageRepository",
    "RunRepository",
    "Store",
]


class ExperimentRepository(Protocol):
    def create(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        """Create an experiment; :class:`Conflict` if the name is taken."""

    def get(self, experiment_id: str) -> Experiment: ...
    def get_by_name(self, name: str) -> Experiment: ...
    def find_by_name(self, name: str) -> Experiment | None: ...
    def get_or_create(self, name: str) -> Experiment: ...
    def list(self, *, include_deleted: bool = False) -> list[Experiment]: ...
    def set_tag(self, experiment_id: str, key: str, value: str) -> None: ...
    def delete(self, experiment_id: str) -> None: ...
    def restore(self, experiment_id: str) -> None: ...


class RunRepository(Protocol):
    def create(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        parent_run_id: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        """Create a RUNNING run (a name is generated when none is given)."""

    def get(self, run_id: str) -> Run: ...

    def set_status(
        self, run_id: str, status: RunStatus, *, end_time: int | None = None, error: str | None = None
    ) -> Run:
        """Move a run to ``status``; a terminal status sets ``end_time`` (now by default)."""

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Write metrics, params and tags in one transaction (all or nothing).

        Raises :class:`Conflict` for a param already logged with another value and
        :class:`InvalidState` when the run is finished or deleted.
        """

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...
    def set_reproducibility(self, run_id: str, record: Mapping[str, Any]) -> None: ...
    def delete(self, run_id: str) -> None: ...
    def restore(self, run_id: str) -> None: ...

    def search(
        self,
        experiment_ids: Sequence[str],
        *,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page[Run]:
        """Search runs with the filter grammar (``metrics.auc > 0.8 and params.model = 'gbm'``).

        ``order_by`` items look like ``"metrics.auc DESC"`` or ``"start_time"``.
        """


class ArtifactRepository(Protocol):
    def create(
        self,
        *,
        type: str,
        name: str,
        uri: str,
        sha256: str | None,
        size: int | None,
        is_reference: bool = False,
        run_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        versioned: bool = False,
    ) -> Artifact:
        """Record an artifact. ``versioned`` assigns the next version of ``(type, name)`` atomically."""

    def get(self, artifact_id: str) -> Artifact: ...
    def find_version(self, type: str, name: str, version: int | None = None) -> Artifact | None:
        """The given version of ``(type, name)``, or its latest when ``version`` is None."""

    def list(
        self,
        *,
        run_id: str | None = None,
        type: str | None = None,
        name: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Artifact]: ...


class LineageRepository(Protocol):
    def create_execution(
        self,
        *,
        type: str,
        name: str,
        run_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        code_version: str | None = None,
        cache_key: str | None = None,
        state: ExecutionState = ExecutionState.RUNNING,
    ) -> Execution: ...

    def get_execution(self, execution_id: str) -> Execution: ...
    def find_run_execution(self, run_id: str) -> Execution | None: ...

    def finish_execution(
        self,
        execution_id: str,
        state: ExecutionState,
        *,
        error: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Execution: ...

    def find_cached_execution(self, cache_key: str) -> Execution | None:
        """The latest COMPLETE execution with this cache key, if any."""

    def add_events(
        self, execution_id: str, events: Iterable[tuple[str, EventType, str]]
    ) -> list[Event]:
        """Record ``(artifact_id, INPUT|OUTPUT, role)`` events for an execution."""

    def list_events(
        self, *, execution_id: str | None = None, artifact_id: str | None = None
    ) -> list[Event]: ...

    def create_context(
        self, *, type: str, name: str, properties: Mapping[str, Any] | None = None
    ) -> Context: ...

    def get_context(self, context_id: str) -> Context: ...
    def find_context(self, type: str, name: str) -> Context | None: ...
    def attach(
        self, context_id: str, *, execution_ids: Iterable[str] = (), artifact_ids: Iterable[str] = ()
    ) -> None: ...
    def list_context_executions(self, context_id: str) -> list[Execution]: ...
    def list_context_artifacts(self, context_id: str) -> list[Artifact]: ...
    def list_contexts(self, *, type: str | None = None) -> list[Context]: ...


class Store(Protocol):
    """All repositories of one metadata store."""

    @property
    def url(self) -> str:
        """The store URL with any password hidden."""

    @property
    def experiments(self) -> ExperimentRepository: ...
    @property
    def runs(self) -> RunRepository: ...
    @property
    def artifacts(self) -> ArtifactRepository: ...
    @property
    def lineage(self) -> LineageRepository: ...
    def close(self) -> None: ...
