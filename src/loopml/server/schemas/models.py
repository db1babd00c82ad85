"""Wire schemas of registered models, model versions and alias events (the alias audit trail)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from loopml.server.schemas.common import ArtifactPath, Id, Key, Name, Text, Wire
from loopml.store.entities import Alias, AliasEvent, ModelVersion, RegisteredModel

__all__ = [
    "AliasEventList",
    "AliasOut",
    "AliasSet",
    "ArchiveRequest",
    "BlessingAttach",
    "ModelList",
    "ModelOut",
    "ModelVersionList",
    "ModelVersionOut",
    "PackageFileList",
    "PackageFileOut",
    "VersionRegister",
]


class ModelOut(Wire):
    model_id: str
    name: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_version: int | None
    created_at: int
    created_by: str | None
    updated_at: int

    @classmethod
    def of(cls, m: RegisteredModel) -> ModelOut:
        return cls(
            model_id=m.model_id,
            name=m.name,
            description=m.description,
            tags=dict(m.tags),
            aliases=dict(m.aliases),
            latest_version=m.latest_version,
            created_at=m.created_at,
            created_by=m.created_by,
            updated_at=m.updated_at,
        )


class ModelList(Wire):
    models: list[ModelOut]


class ModelVersionOut(Wire):
    version_id: str
    name: str
    version: int
    artifact_id: str | None
    manifest_sha256: str
    flavor: str
    signature_key_id: str | None
    is_signed: bool
    scan_verdict: str
    blessing_artifact_id: str | None
    blessing_passed: bool | None
    status: Literal["READY", "ARCHIVED"]
    run_id: str | None
    execution_id: str | None
    description: str | None
    tags: dict[str, str]
    properties: dict[str, Any]
    aliases: list[str]
    created_at: int
    created_by: str | None
    updated_at: int

    @classmethod
    def of(cls, v: ModelVersion) -> ModelVersionOut:
        return cls(
            version_id=v.version_id,
            name=v.name,
            version=v.version,
            artifact_id=v.artifact_id,
            manifest_sha256=v.manifest_sha256,
            flavor=v.flavor,
            signature_key_id=v.signature_key_id,
            is_signed=v.is_signed,
            scan_verdict=v.scan_verdict,
            blessing_artifact_id=v.blessing_artifact_id,
            blessing_passed=v.blessing_passed,
            status=v.status.value,
            run_id=v.run_id,
            execution_id=v.execution_id,
            description=v.description,
            tags=dict(v.tags),
            properties=dict(v.properties),
            aliases=list(v.aliases),
            created_at=v.created_at,
            created_by=v.created_by,
            updated_at=v.updated_at,
        )


class ModelVersionList(Wire):
    versions: list[ModelVersionOut]


class AliasEventOut(Wire):
    event_id: int
    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    expected_version: int | None
    actor: str
    at: int
    reason: str | None
    result: Literal["moved", "deleted", "conflict", "refused"]
    detail: str | None

    @classmethod
    def of(cls, e: AliasEvent) -> AliasEventOut:
        return cls(
            event_id=e.event_id,
            name=e.name,
            alias=e.alias,
            from_version=e.from_version,
            to_version=e.to_version,
            expected_version=e.expected_version,
            actor=e.actor,
            at=e.at,
            reason=e.reason,
            result=e.result.value,
            detail=e.detail,
        )


class AliasEventList(Wire):
    events: list[AliasEventOut]


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
PackagePath = ArtifactPath
VersionNumber = Annotated[int, Field(ge=1, le=2**31)]


class VersionRegister(Wire):
    """Register a new version from uploaded blobs: relative path → sha256 of every package file."""

    files: Annotated[dict[PackagePath, Sha256], Field(min_length=1, max_length=1_000)]
    run_id: Id | None = None
    blessing_artifact_id: Id | None = None
    description: Text | None = None
    tags: Annotated[dict[Key, Text], Field(max_length=1_000)] = {}
    trusted_globals: Annotated[list[Name], Field(max_length=100)] = []


class AliasSet(Wire):
    """Point an alias at a version. ``expected_version`` (when sent) makes it a compare-and-set:
    the alias must hold that version now (``null``: must not exist yet), else 409."""

    version: VersionNumber
    expected_version: VersionNumber | None = None
    reason: Text | None = None


class AliasOut(Wire):
    name: str
    alias: str
    version: int
    updated_at: int
    updated_by: str

    @classmethod
    def of(cls, a: Alias) -> AliasOut:
        return cls(
            name=a.name, alias=a.alias, version=a.version, updated_at=a.updated_at, updated_by=a.updated_by
        )


class ArchiveRequest(Wire):
    """Archive a version; ``force`` also deletes the aliases pointing at it (audited)."""

    force: bool = False
    reason: Text | None = None


class BlessingAttach(Wire):
    """Attach an evaluation's Blessing artifact (``POST /api/v1/artifacts`` with type ``Blessing``)."""

    artifact_id: Id


class PackageFileOut(Wire):
    path: str
    sha256: str
    size: int


class PackageFileList(Wire):
    name: str
    version: int
    manifest_sha256: str
    files: list[PackageFileOut]
