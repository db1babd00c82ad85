"""Wire schemas of artifacts, blobs, executions, events and contexts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from loopml.server.schemas.common import URI_PATTERN, Id, Int64, Key, Millis, Name, Text, Wire, checked_here
from loopml.store.entities import Artifact, Context, Event, Execution

__all__ = [
    "ArtifactCreate",
    "ArtifactFound",
    "ArtifactOut",
    "ArtifactPage",
    "AttachRequest",
    "BlobOut",
    "ContextCreate",
    "ContextFound",
    "ContextList",
    "ContextOut",
    "EventIn",
    "EventList",
    "EventOut",
    "EventsAdd",
    "ExecutionCreate",
    "ExecutionFinish",
    "ExecutionFound",
    "ExecutionList",
    "ExecutionOut",
]

State = Literal["RUNNING", "COMPLETE", "FAILED", "CACHED"]
Direction = Literal["INPUT", "OUTPUT"]
Uri = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4_096),
    checked_here(URI_PATTERN, max_length=4_096),
    Field(
        description="A blob path relative to the artifact root (`sha256/<2 hex>/<62 hex>` for a stored "
        "blob), or with `is_reference` a URL under the artifact root or a configured reference root; "
        "one outside them, or in the blob store's own folders, answers 400."
    ),
]
Sha = Annotated[str, Field(max_length=128)]
Size = Int64
Ids = Annotated[list[Id], Field(max_length=10_000)]


class ArtifactCreate(Wire):
    type: Name
    name: Name
    uri: Uri
    sha256: Sha | None
    size: Size | None
    is_reference: bool = False
    run_id: Id | None = None
    properties: dict[str, Any] | None = None
    versioned: bool = False


class ArtifactOut(Wire):
    artifact_id: str
    type: str
    name: str
    uri: str
    sha256: str | None
    size: int | None
    is_reference: bool
    version: int | None
    run_id: str | None
    properties: dict[str, Any]
    created_at: int

    @classmethod
    def of(cls, art: Artifact) -> ArtifactOut:
        return cls(
            artifact_id=art.artifact_id,
            type=art.type,
            name=art.name,
            uri=art.uri,
            sha256=art.sha256,
            size=art.size,
            is_reference=art.is_reference,
            version=art.version,
            run_id=art.run_id,
            properties=dict(art.properties),
            created_at=art.created_at,
        )


class ArtifactFound(Wire):
    artifact: ArtifactOut | None


class ArtifactPage(Wire):
    artifacts: list[ArtifactOut]
    next_page_token: str | None = None


class BlobOut(Wire):
    sha256: str
    size: int
    uri: str


class ExecutionCreate(Wire):
    type: Name
    name: Name
    run_id: Id | None = None
    params: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    code_version: Name | None = None
    cache_key: Name | None = None
    state: State = "RUNNING"


class ExecutionFinish(Wire):
    state: Literal["COMPLETE", "FAILED", "CACHED"] = Field(description="The final state.")
    error: Text | None = None
    properties: dict[str, Any] | None = None


class ExecutionOut(Wire):
    execution_id: str
    type: str
    name: str
    state: State
    started_at: int
    ended_at: int | None
    run_id: str | None
    params: dict[str, Any]
    properties: dict[str, Any]
    code_version: str | None
    cache_key: str | None
    error: str | None

    @classmethod
    def of(cls, exe: Execution) -> ExecutionOut:
        return cls(
            execution_id=exe.execution_id,
            type=exe.type,
            name=exe.name,
            state=exe.state.value,
            started_at=exe.started_at,
            ended_at=exe.ended_at,
            run_id=exe.run_id,
            params=dict(exe.params),
            properties=dict(exe.properties),
            code_version=exe.code_version,
            cache_key=exe.cache_key,
            error=exe.error,
        )


class ExecutionFound(Wire):
    execution: ExecutionOut | None


class ExecutionList(Wire):
    executions: list[ExecutionOut]


class EventIn(Wire):
    artifact_id: Id
    type: Direction
    role: Key


class EventsAdd(Wire):
    events: Annotated[list[EventIn], Field(max_length=10_000)]


class EventOut(Wire):
    execution_id: str
    artifact_id: str
    type: Direction
    role: str
    timestamp: Millis

    @classmethod
    def of(cls, event: Event) -> EventOut:
        return cls(
            execution_id=event.execution_id,
            artifact_id=event.artifact_id,
            type=event.type.value,
            role=event.role,
            timestamp=event.timestamp,
        )


class EventList(Wire):
    events: list[EventOut]


class ContextCreate(Wire):
    type: Name
    name: Name
    properties: dict[str, Any] | None = None


class ContextOut(Wire):
    context_id: str
    type: str
    name: str
    properties: dict[str, Any]
    created_at: int

    @classmethod
    def of(cls, ctx: Context) -> ContextOut:
        return cls(
            context_id=ctx.context_id,
            type=ctx.type,
            name=ctx.name,
            properties=dict(ctx.properties),
            created_at=ctx.created_at,
        )


class ContextFound(Wire):
    context: ContextOut | None


class ContextList(Wire):
    contexts: list[ContextOut]


class AttachRequest(Wire):
    execution_ids: Ids = Field(default_factory=list)
    artifact_ids: Ids = Field(default_factory=list)
