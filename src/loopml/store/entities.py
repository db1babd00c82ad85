"""The metadata model as frozen dataclasses: experiments, runs, artifacts, executions, events, contexts.

These are plain values: no SQLAlchemy, HTTP or vendor code. Repositories in this package map
database rows to them. Times are milliseconds since the Unix epoch (UTC), as in MLflow.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "Alias",
    "AliasEvent",
    "AliasEventResult",
    "Artifact",
    "AuditEvent",
    "Context",
    "DeploymentEvent",
    "Event",
    "EventType",
    "Execution",
    "ExecutionState",
    "Experiment",
    "Grant",
    "LabelWrite",
    "LifecycleStage",
    "Metric",
    "MetricSeries",
    "ModelVersion",
    "ModelVersionStatus",
    "Page",
    "RegisteredModel",
    "RetrainStep",
    "Run",
    "RunStatus",
    "StoredAlert",
    "StoredDeployment",
    "StoredLabel",
    "StoredRetrain",
    "StoredWindow",
    "Token",
    "Trace",
    "TraceStatus",
    "User",
    "every_item",
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


class TraceStatus(enum.StrEnum):
    """Where a trace stands (MLflow's trace statuses)."""

    IN_PROGRESS = "IN_PROGRESS"
    OK = "OK"
    ERROR = "ERROR"
    UNSPECIFIED = "TRACE_STATUS_UNSPECIFIED"


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    """A recorded trace of one request through a traced application (MLflow tracing).

    Attributes:
        trace_id: The trace's id (``tr-`` and 32 hex digits for MLflow clients).
        experiment_id: The experiment it belongs to; its grants decide who reads and writes it.
        timestamp_ms: When the trace started.
        execution_time_ms: How long it took (None while it is in progress).
        status: Where it stands.
        request_metadata: Immutable facts about the request (the source run, input and output
            previews, the schema version), as MLflow records them.
        tags: Mutable labels.
        request_preview: A short preview of the request (MLflow 3 traces).
        response_preview: A short preview of the response (MLflow 3 traces).
        client_request_id: The caller's own id of the request, when given.
        data_sha256: The content address of its span data (``traces.json``), once uploaded.
        data_size: Its size in bytes, once uploaded.
    """

    trace_id: str
    experiment_id: str
    timestamp_ms: int
    execution_time_ms: int | None = None
    status: TraceStatus = TraceStatus.IN_PROGRESS
    request_metadata: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    request_preview: str | None = None
    response_preview: str | None = None
    client_request_id: str | None = None
    data_sha256: str | None = None
    data_size: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    key: str
    value: float
    step: int = 0
    timestamp: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSeries:
    """The points of one metric of one run as columns, by step then time: what a chart reads.

    Point ``i`` is ``(steps[i], values[i], timestamps[i])``; NaN and infinities are kept.
    """

    steps: list[int]
    values: list[float]
    timestamps: list[int]


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


def every_item(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a paged listing, page after page: ``fetch(token)`` returns one page.

    Example:
        >>> pages = {None: Page(items=[1, 2], next_page_token="b"), "b": Page(items=[3])}
        >>> list(every_item(pages.__getitem__))
        [1, 2, 3]
    """
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page.items
        token = page.next_page_token
        if token is None:
            return


# --- registry ---


class ModelVersionStatus(enum.StrEnum):
    """Whether a model version can be used: READY, or ARCHIVED (kept, but takes no alias)."""

    READY = "READY"
    ARCHIVED = "ARCHIVED"


class AliasEventResult(enum.StrEnum):
    """What became of one attempted alias change (every attempt is recorded)."""

    MOVED = "moved"  # the alias now points at ``to_version``
    DELETED = "deleted"  # the alias was removed
    CONFLICT = "conflict"  # the alias did not hold the expected version; nothing changed
    REFUSED = "refused"  # a rule (policy, archived version) refused it; nothing changed


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisteredModel:
    """A named model in the registry; its versions are numbered 1, 2, 3 ...

    ``aliases`` maps alias name → version; ``latest_version`` is the highest version number.
    """

    model_id: str
    name: str
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, int] = field(default_factory=dict)
    latest_version: int | None = None
    created_at: int
    created_by: str | None = None
    updated_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion:
    """One registered package of a model.

    Attributes:
        name: The registered model's name.
        version: 1, 2, 3 ... per model.
        artifact_id: The ``Model`` artifact whose blob is the package index (file → blob digest).
        manifest_sha256: SHA-256 of that package index blob.
        flavor: The flavor that loads it (``sklearn``, ``onnx`` ...).
        signature_key_id: Key id of the trusted key that signed it at registration, if any.
        is_signed: Whether the package carries a signature verified at registration.
        scan_verdict: The scanner's worst verdict over every file (``safe`` / ``unknown`` / ``unsafe``).
        blessing_artifact_id: The evaluation's ``Blessing`` artifact, if attached.
        blessing_passed: Whether that blessing passed (None: no blessing attached).
        status: READY or ARCHIVED.
        run_id: The run that produced the model, if known.
        execution_id: The pipeline execution that produced it, if known.
        aliases: Aliases pointing at this version.
    """

    version_id: str
    name: str
    version: int
    artifact_id: str | None
    manifest_sha256: str
    flavor: str
    signature_key_id: str | None = None
    is_signed: bool = False
    scan_verdict: str
    blessing_artifact_id: str | None = None
    blessing_passed: bool | None = None
    status: ModelVersionStatus = ModelVersionStatus.READY
    run_id: str | None = None
    execution_id: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    created_at: int
    created_by: str | None = None
    updated_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Alias:
    """A movable name (``champion``, ``staging`` ...) for one version of a model."""

    name: str
    alias: str
    version: int
    updated_at: int
    updated_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AliasEvent:
    """One attempted alias change: who, when, from which version to which, and what happened.

    ``to_version`` is None for a deletion; ``from_version`` is None when the alias did not exist.
    ``expected_version`` is what the caller believed the alias held (None: no expectation given
    or "must not exist", see ``detail``).
    """

    event_id: int
    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    expected_version: int | None = None
    actor: str
    at: int
    reason: str | None = None
    result: AliasEventResult
    detail: str | None = None


# --- identity ---


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A person or service account of a loopml server. ``role`` is a role name (see security.auth)."""

    user_id: str
    name: str
    role: str
    is_disabled: bool = False
    created_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """An API token's record. Never carries the secret (only its hash is stored, and not here)."""

    token_id: str
    user_name: str
    name: str | None = None
    created_at: int
    expires_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """A user's access to one restricted resource.

    ``resource_kind`` is ``experiment`` (``resource`` an id), ``dataset`` or ``model`` (names);
    ``level`` is ``read``, ``write`` or ``admin``.
    """

    user_name: str
    resource_kind: str
    resource: str
    level: str
    created_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One audited request: who did what to which target, when, from where, and the outcome."""

    event_id: int
    at: int
    actor: str | None
    action: str
    target: str | None = None
    client: str | None = None
    result: str
    status_code: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDeployment:
    """A deployment record: its document (spec, policy, rollout state) at one revision.

    The store keeps the document as JSON; :mod:`loopml.deploy` gives it meaning.
    """

    deployment_id: str
    name: str
    revision: int
    document: Mapping[str, Any]
    created_at: int
    created_by: str | None = None
    updated_at: int
    updated_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentEvent:
    """One change of a deployment (or an alert about it): who, what, why, and which model versions.

    Attributes:
        revision: The deployment's revision after the change (unchanged for alerts).
        models: The model versions the deployment used then, as ``NAME/VERSION`` (lineage).
        document: The deployment's document after the change, when it changed.
    """

    event_id: int
    deployment: str
    revision: int
    at: int
    actor: str | None
    action: str
    reason: str | None = None
    models: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    document: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredAlert:
    """A monitoring alert as stored: which rule fired on which metric, when, and the evidence.

    ``opened_at`` and ``resolved_at`` are the ends of the windows in which it fired and resolved;
    ``raised_at`` is when it was recorded. ``deliveries`` lists each channel's attempt (kept, never raised).
    """

    alert_id: str
    deployment: str
    rule: str
    metric: str
    severity: str
    status: str
    opened_at: int
    resolved_at: int | None = None
    raised_at: int
    updated_at: int
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    deliveries: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRetrain:
    """One retraining of a deployment's model as stored: why, on which span, and its state.

    ``started_at`` is the monitoring time (the end of the newest window) at which it started;
    ``recorded_at`` the wall-clock time. ``triggers`` and ``alert_ids`` link it to what caused it.
    """

    retrain_id: str
    deployment: str
    state: str
    attempt: int = 1
    retry_of: str | None = None
    started_at: int
    recorded_at: int
    finished_at: int | None = None
    span_start: int
    span_end: int
    triggers: tuple[Mapping[str, Any], ...] = ()
    alert_ids: tuple[str, ...] = ()
    champion: str | None = None
    candidate: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainStep:
    """One recorded step of a retraining: its ``kind`` (pipeline, candidate, evaluation ...) and outcome."""

    step_id: int
    retrain_id: str
    at: int
    kind: str
    outcome: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLabel:
    """A ground-truth label for logged predictions of one model (feedback).

    Attributes:
        model: The registered model the predictions came from.
        key_field: ``""`` when ``key`` is a request id, else the input feature the key matches.
        key: The request id, or the value of ``key_field``.
        row: The row within the request; -1 labels every row of the request (or key).
        value: The label (a string or a finite number).
        observed_at: When the truth was observed (ms); of two labels for one key, the later wins.
        received_at: When it was first received (ms).
        updated_at: When its value last changed (ms).
    """

    model: str
    key_field: str = ""
    key: str
    row: int = -1
    value: str | float | int | bool
    observed_at: int
    received_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelWrite:
    """What a label upsert did: labels inserted, replaced by a winning one, or left as they were."""

    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredWindow:
    """A computed monitoring window: figures, lineage and the input statistics (JSON documents).

    The store keeps them as JSON; :mod:`loopml.monitor` gives them meaning.
    """

    deployment: str
    window: str
    start: int
    end: int
    model: str
    version: str
    complete: bool
    rows: int
    metrics: Mapping[str, float]
    details: Mapping[str, Any] = field(default_factory=dict)
    statistics: str = ""
    computed_at: int = 0
