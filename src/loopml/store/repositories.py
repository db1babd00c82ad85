"""The store's interface: one repository per aggregate, as typing Protocols.

:class:`Store` bundles them. The SQL implementation lives in this package; a remote
implementation (over the loopml server's REST API) implements the same protocols, and one
contract test suite runs over every implementation.

Conventions: ``get_*`` raises :class:`~loopml.errors.NotFound`, ``find_*`` returns ``None``,
``list_*`` / ``search_*`` return a :class:`Page` or list. Inputs are validated here (keys, lengths,
value types) and violations raise :class:`~loopml.errors.InvalidInput`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import EllipsisType
from typing import Any, Protocol, runtime_checkable

from loopml.store.entities import (
    Alias,
    AliasEvent,
    AliasEventResult,
    Artifact,
    AuditEvent,
    Context,
    DeploymentEvent,
    Event,
    EventType,
    Execution,
    ExecutionState,
    Experiment,
    Grant,
    LabelWrite,
    Metric,
    MetricSeries,
    ModelVersion,
    ModelVersionStatus,
    Page,
    RegisteredModel,
    RetrainStep,
    Run,
    RunStatus,
    StoredAlert,
    StoredDeployment,
    StoredLabel,
    StoredRetrain,
    StoredWindow,
    Token,
    Trace,
    TraceStatus,
    User,
)
from loopml.store.riders import Rider
from loopml.store.trace_queries import TraceCondition, TraceOrder

__all__ = [
    "AlertRepository",
    "ArtifactRepository",
    "DeploymentRepository",
    "DeploymentStore",
    "ExperimentRepository",
    "FeedbackRepository",
    "IdentityRepository",
    "IdentityStore",
    "LineageRepository",
    "ModelRepository",
    "MonitorStore",
    "MonitorWindowRepository",
    "ObservationRepository",
    "RegistryStore",
    "RetrainRepository",
    "RunRepository",
    "Store",
    "TraceRepository",
    "TraceStore",
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
    def rename(self, experiment_id: str, name: str) -> Experiment:
        """Give an experiment a new name; :class:`Conflict` if the name is taken.

        .. versionadded:: experiments can be renamed.
        """

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
    def get_metric_histories(self, run_ids: Sequence[str], key: str) -> dict[str, list[Metric]]:
        """Metric ``key`` of several runs at once (runs without it left out)."""

    def get_metric_series(self, run_ids: Sequence[str], key: str) -> dict[str, MetricSeries]:
        """What :meth:`get_metric_histories` answers, as columns: no object per point.

        .. versionadded:: for charts of many runs (100 runs x 100 steps are 10,000 points).
        """

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag of a RUNNING run; :class:`NotFound` when it has no such tag.

        .. versionadded:: run tags can be deleted.
        """

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
        sha256: str | None = None,
        id_prefix: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Artifact]:
        """Artifacts, oldest first, filtered by run, type, name, content hash (``sha256``) and the
        start of their id (``id_prefix``, as listings show ids).

        .. versionchanged:: the ``sha256`` filter (the records whose bytes are one blob).
        """


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

    def add_events(self, execution_id: str, events: Iterable[tuple[str, EventType, str]]) -> list[Event]:
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


# --- registry ---


class ModelRepository(Protocol):
    """Registered models, their numbered versions, aliases and the alias audit trail.

    ``expected_version`` of alias changes: ``...`` (the default) moves unconditionally, ``None``
    requires that the alias does not exist yet, an int requires that it points at that version.
    Every attempt, successful or not, is recorded as an :class:`AliasEvent`.
    """

    def create_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        created_by: str | None = None,
    ) -> RegisteredModel:
        """Create a registered model; :class:`Conflict` if the name is taken."""

    def get_model(self, name: str) -> RegisteredModel: ...
    def find_model(self, name: str) -> RegisteredModel | None: ...

    def search_models(
        self,
        *,
        name_like: str | None = None,
        tag: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        """Models by name pattern (SQL ``LIKE``, ``%`` and ``_``) and tag (``key`` or ``key=value``)."""

    def update_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> RegisteredModel: ...

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model without aliases (:class:`InvalidState` otherwise; :class:`Conflict` if taken).

        .. versionadded:: models can be renamed.
        """

    def delete_model(self, name: str) -> None:
        """Delete a model without versions (:class:`InvalidState` otherwise: versions are kept).

        .. versionadded:: models without versions can be deleted.
        """

    def delete_tag(self, name: str, key: str, *, version: int | None = None) -> None:
        """Remove a tag of a model or of one of its versions (:class:`NotFound` when absent).

        .. versionadded:: model and version tags can be deleted.
        """

    def create_version(
        self,
        name: str,
        *,
        manifest_sha256: str,
        flavor: str,
        scan_verdict: str,
        artifact_id: str | None = None,
        signature_key_id: str | None = None,
        is_signed: bool = False,
        blessing_artifact_id: str | None = None,
        blessing_passed: bool | None = None,
        run_id: str | None = None,
        execution_id: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, Any] | None = None,
        created_by: str | None = None,
    ) -> ModelVersion:
        """Add the next version of ``name`` (creating the model if needed), numbered atomically."""

    def get_version(self, name: str, version: int) -> ModelVersion: ...
    def find_latest_version(self, name: str, *, include_archived: bool = False) -> ModelVersion | None: ...
    def list_versions(self, name: str, *, status: ModelVersionStatus | None = None) -> list[ModelVersion]: ...

    def update_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        signature_key_id: str | None = None,
        blessing_artifact_id: str | None = None,
        blessing_passed: bool | None = None,
    ) -> ModelVersion:
        """Change the given fields (None leaves a field as it is); tags are merged."""

    def archive_version(
        self, name: str, version: int, *, actor: str, force: bool = False, reason: str | None = None
    ) -> ModelVersion:
        """Archive a version; one holding an alias needs ``force`` (its aliases are deleted, audited)."""

    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str,
        expected_version: int | EllipsisType | None = ...,
        reason: str | None = None,
    ) -> Alias:
        """Point ``alias`` at ``version`` (compare-and-set; :class:`Conflict` when it moved meanwhile)."""

    def delete_alias(
        self,
        name: str,
        alias: str,
        *,
        actor: str,
        expected_version: int | EllipsisType | None = ...,
        reason: str | None = None,
    ) -> None: ...

    def find_alias(self, name: str, alias: str) -> Alias | None: ...
    def list_aliases(self, name: str) -> list[Alias]: ...

    def record_alias_event(
        self,
        name: str,
        alias: str,
        *,
        actor: str,
        result: AliasEventResult,
        to_version: int | None,
        reason: str | None = None,
        detail: str | None = None,
    ) -> AliasEvent:
        """Record an attempt refused before reaching the alias (e.g. by the promotion policy)."""

    def alias_history(self, name: str, *, alias: str | None = None) -> list[AliasEvent]:
        """Every recorded alias change attempt of a model, oldest first."""


@runtime_checkable
class RegistryStore(Store, Protocol):
    """A store that also holds the model registry."""

    @property
    def models(self) -> ModelRepository: ...


# --- identity ---


class IdentityRepository(Protocol):
    """Users, API tokens (stored as hashes), per-resource grants, blob uploads and the audit log."""

    def create_user(self, name: str, *, role: str) -> User: ...
    def get_user(self, name: str) -> User: ...
    def find_user(self, name: str) -> User | None: ...
    def list_users(self, *, role: str | None = None) -> list[User]: ...
    def set_user_disabled(self, name: str, disabled: bool) -> User: ...
    def create_token(
        self,
        *,
        token_id: str,
        user_name: str,
        secret_hash: str,
        name: str | None = None,
        expires_at: int | None = None,
    ) -> Token: ...
    def find_credentials(self, token_id: str) -> tuple[Token, User, str] | None:
        """The token, its user and the stored secret hash, or None for an unknown id."""

    def get_token(self, token_id: str) -> Token: ...
    def list_tokens(self, *, user_name: str | None = None) -> list[Token]: ...
    def revoke_token(self, token_id: str, *, at: int) -> Token: ...
    def touch_token(self, token_id: str, *, at: int) -> None: ...
    def set_grant(self, *, user_name: str, resource_kind: str, resource: str, level: str) -> Grant: ...
    def delete_grant(self, *, user_name: str, resource_kind: str, resource: str) -> None: ...
    def list_grants(
        self, *, resource_kind: str | None = None, resource: str | None = None, user_name: str | None = None
    ) -> list[Grant]: ...
    def record_upload(self, user_id: str, sha256: str) -> None:
        """Remember that the user uploaded the blob's bytes (idempotent)."""

    def has_uploaded(self, user_id: str, sha256: str) -> bool:
        """Whether :meth:`record_upload` recorded that the user uploaded the blob."""

    def add_audit_event(
        self,
        *,
        actor: str | None,
        action: str,
        result: str,
        target: str | None = None,
        client: str | None = None,
        status_code: int | None = None,
        details: Mapping[str, Any] | None = None,
        at: int | None = None,
    ) -> AuditEvent: ...
    def audit_event_rider(
        self,
        *,
        actor: str | None,
        action: str,
        result: str,
        target: str | None = None,
        client: str | None = None,
        status_code: int | None = None,
        details: Mapping[str, Any] | None = None,
        clock: Callable[[], int] = ...,
    ) -> Rider:
        """An audit event the next write transaction of the context carrying it appends and commits."""

    def set_audit_outcome(self, event_id: int, *, status_code: int | None, result: str) -> None:
        """Correct the status and result of an event written before its request was answered."""

    def list_audit_events(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Audit events, newest first."""


@runtime_checkable
class IdentityStore(Store, Protocol):
    """A store that also holds users, tokens, grants and the audit log."""

    @property
    def identity(self) -> IdentityRepository: ...


# --- deployments ---


class DeploymentRepository(Protocol):
    """Deployment records (JSON documents, compare-and-set by revision) and their history."""

    def create(
        self,
        name: str,
        document: Mapping[str, Any],
        *,
        actor: str | None,
        models: Sequence[str] = (),
        reason: str | None = None,
    ) -> StoredDeployment: ...
    def get(self, name: str) -> StoredDeployment: ...
    def find(self, name: str) -> StoredDeployment | None: ...
    def list(self) -> builtins.list[StoredDeployment]: ...
    def update(
        self,
        name: str,
        document: Mapping[str, Any],
        *,
        expected_revision: int,
        actor: str | None,
        action: str,
        reason: str | None = None,
        models: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> StoredDeployment: ...
    def record_event(
        self,
        name: str,
        *,
        actor: str | None,
        action: str,
        reason: str | None = None,
        models: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> DeploymentEvent: ...
    def history(self, name: str, *, limit: int | None = None) -> builtins.list[DeploymentEvent]: ...


class ObservationRepository(Protocol):
    """What serving replicas observed per deployment analysis window (JSON documents, one per
    replica, expiring) and the lease naming the replica that decides a deployment's analysis."""

    def publish(
        self, deployment: str, window: str, replica: str, document: Mapping[str, Any], *, ttl_s: float
    ) -> None: ...
    def collect(self, deployment: str, window: str) -> builtins.list[dict[str, Any]]: ...
    def acquire(self, deployment: str, holder: str, *, ttl_s: float) -> bool: ...
    def release(self, deployment: str, holder: str) -> None: ...


@runtime_checkable
class DeploymentStore(Store, Protocol):
    """A store that also holds deployments (and the observations their replicas share)."""

    @property
    def deployments(self) -> DeploymentRepository: ...
    @property
    def observations(self) -> ObservationRepository: ...


# --- monitoring: alerts and retraining ---


class AlertRepository(Protocol):
    """Monitoring alerts: at most one open per (deployment, rule, metric); resolved ones are kept."""

    def add(
        self,
        *,
        deployment: str,
        rule: str,
        metric: str,
        severity: str,
        opened_at: int,
        message: str,
        evidence: Mapping[str, Any],
    ) -> StoredAlert:
        """Record a newly opened alert (idempotent on deployment, rule, metric and ``opened_at``)."""

    def resolve(self, alert_id: str, *, resolved_at: int, evidence: Mapping[str, Any]) -> StoredAlert: ...
    def add_delivery(self, alert_id: str, delivery: Mapping[str, Any]) -> StoredAlert: ...
    def get(self, alert_id: str) -> StoredAlert: ...
    def find_open(self, deployment: str, rule: str, metric: str) -> StoredAlert | None: ...
    def list(
        self, deployment: str | None = None, *, status: str | None = None, limit: int = 100
    ) -> builtins.list[StoredAlert]:
        """Alerts, newest opening first."""


class RetrainRepository(Protocol):
    """Retraining runs of deployments and their steps."""

    def create(
        self,
        *,
        deployment: str,
        started_at: int,
        span_start: int,
        span_end: int,
        triggers: Sequence[Mapping[str, Any]],
        alert_ids: Sequence[str],
        champion: str | None,
        attempt: int = 1,
        retry_of: str | None = None,
    ) -> StoredRetrain: ...
    def update(
        self,
        retrain_id: str,
        *,
        state: str,
        candidate: str | None = None,
        reason: str | None = None,
        finished_at: int | None = None,
    ) -> StoredRetrain: ...
    def add_step(
        self, retrain_id: str, *, kind: str, outcome: str, details: Mapping[str, Any] | None = None
    ) -> RetrainStep: ...
    def get(self, retrain_id: str) -> StoredRetrain: ...
    def list(
        self, deployment: str, *, since: int | None = None, state: str | None = None
    ) -> builtins.list[StoredRetrain]:
        """Retraining runs of ``deployment``, oldest first (started at or after ``since``)."""

    def steps(self, retrain_id: str) -> builtins.list[RetrainStep]: ...


# --- monitoring ---


class FeedbackRepository(Protocol):
    """Ground-truth labels of logged predictions, upserted by model, key field, key and row."""

    def upsert(self, labels: Sequence[StoredLabel]) -> LabelWrite: ...
    def find(self, model: str, *, key_field: str, keys: Sequence[str]) -> builtins.list[StoredLabel]: ...
    def list(self, model: str, *, key_field: str | None = None) -> builtins.list[StoredLabel]: ...
    def state(self, model: str) -> tuple[int, int]:
        """How many labels ``model`` has and when one last changed (ms; 0 when none)."""


class MonitorWindowRepository(Protocol):
    """Computed monitoring windows, one per deployment, window kind and start."""

    def put(self, window: StoredWindow) -> None: ...
    def list(
        self,
        deployment: str,
        *,
        window: str | None = None,
        since: int | None = None,
        until: int | None = None,
        with_statistics: bool = False,
    ) -> builtins.list[StoredWindow]: ...
    def find(self, deployment: str, window: str, start: int) -> StoredWindow | None: ...
    def counts(self) -> dict[str, dict[str, int]]: ...
    def latest(self, kinds: Mapping[str, str]) -> dict[str, StoredWindow]: ...
    def deployments(self) -> builtins.list[str]: ...


@runtime_checkable
class MonitorStore(Store, Protocol):
    """A store that also holds monitoring: feedback labels, windows, alerts and retraining runs."""

    @property
    def alerts(self) -> AlertRepository: ...
    @property
    def retrains(self) -> RetrainRepository: ...
    @property
    def feedback(self) -> FeedbackRepository: ...
    @property
    def monitor_windows(self) -> MonitorWindowRepository: ...


# --- tracing ---


class TraceRepository(Protocol):
    """Traces of traced applications (MLflow tracing), their tags and request metadata."""

    def create(
        self,
        *,
        experiment_id: str,
        timestamp_ms: int,
        trace_id: str | None = None,
        status: TraceStatus = TraceStatus.IN_PROGRESS,
        execution_time_ms: int | None = None,
        request_metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        request_preview: str | None = None,
        response_preview: str | None = None,
        client_request_id: str | None = None,
    ) -> Trace: ...
    def get(self, trace_id: str) -> Trace: ...
    def find_experiment_id(self, trace_id: str) -> str | None: ...
    def end(
        self,
        trace_id: str,
        *,
        end_ms: int,
        status: TraceStatus,
        request_metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Trace: ...
    def set_tag(self, trace_id: str, key: str, value: str) -> None: ...
    def delete_tag(self, trace_id: str, key: str) -> None: ...
    def attach_data(self, trace_id: str, *, sha256: str, size: int) -> None: ...
    def search(
        self,
        experiment_ids: Sequence[str],
        *,
        conditions: Sequence[TraceCondition] = (),
        order_by: Sequence[TraceOrder] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Trace]: ...
    def delete(
        self,
        experiment_id: str,
        *,
        max_timestamp_ms: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int: ...


@runtime_checkable
class TraceStore(Store, Protocol):
    """A store that also holds traces."""

    @property
    def traces(self) -> TraceRepository: ...
