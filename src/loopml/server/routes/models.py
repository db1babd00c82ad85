"""Registered models: search and read, register versions from uploaded files, aliases, archive,
blessings, and download of a version's package files (streamed, verified)."""

from __future__ import annotations

from types import EllipsisType
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from loopml.registry import ModelRegistry
from loopml.security.auth import PRODUCTION_ALIASES, Permission, Resource, ResourceKind
from loopml.server._deps import Config, StoreDep
from loopml.server._model_files import package_file, package_files, rebuilt_package
from loopml.server._paths import check_request_path
from loopml.server._security import principal_of, require
from loopml.server._streams import stream_blob
from loopml.server._visibility import visibility_of
from loopml.server.schemas.common import Alias, ArtifactPath, ModelName, Name, Text
from loopml.server.schemas.models import (
    AliasEventList,
    AliasEventOut,
    AliasOut,
    AliasSet,
    ArchiveRequest,
    BlessingAttach,
    ModelList,
    ModelOut,
    ModelVersionList,
    ModelVersionOut,
    PackageFileList,
    PackageFileOut,
    VersionNumber,
    VersionRegister,
)
from loopml.services import Services
from loopml.store import missing_artifact
from loopml.web.json_body import SafeRoute

__all__ = ["router"]

router = APIRouter(prefix="/models", tags=["models"], route_class=SafeRoute)
Version = Annotated[int, PathParam(ge=1, le=2**31)]
_BYTES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The verified bytes."}
}


def _registry(request: Request) -> ModelRegistry:
    """The server's registry (``Services.registry``): served store and blobs, trust store, policy."""
    services: Services = request.app.state.services
    return services.registry


Registry = Annotated[ModelRegistry, Depends(_registry)]


@router.get("")
def search_models(
    request: Request, registry: Registry, name_like: Name | None = None, tag: Name | None = None
) -> ModelList:
    visible = visibility_of(request)
    found = [
        m for m in registry.search(name_like=name_like, tag=tag) if visible.shows(ResourceKind.MODEL, m.name)
    ]
    return ModelList(models=[ModelOut.of(m) for m in found])


@router.get("/{name}")
def get_model(name: ModelName, registry: Registry) -> ModelOut:
    return ModelOut.of(registry.get_model(name))


@router.get("/{name}/versions")
def list_model_versions(name: ModelName, registry: Registry) -> ModelVersionList:
    return ModelVersionList(versions=[ModelVersionOut.of(v) for v in registry.versions(name)])


@router.post("/{name}/versions", status_code=201)
async def register_model_version(
    name: ModelName,
    body: VersionRegister,
    request: Request,
    store: StoreDep,
    registry: Registry,
    config: Config,
) -> ModelVersionOut:
    """Register the package whose files were uploaded as blobs (``PUT /blobs``) as the next version.

    Each listed blob is a claim on its bytes: one the caller may neither read nor has uploaded
    answers 404, as a missing one, before anything is built; so does a Blessing artifact the
    caller may not see (its pass/fail would show through the version). The package is rebuilt
    from the verified blobs in a temporary folder, then verified against its checksums and
    signature and scanned before anything is recorded.
    """
    actor = principal_of(request).name

    def register() -> ModelVersionOut:
        visible = visibility_of(request)
        for sha256 in sorted(set(body.files.values())):
            if not visible.may_claim_blob(sha256, store=store, blobs=registry.blobs):
                raise registry.blobs.missing(sha256)
        blessing = body.blessing_artifact_id
        if blessing is not None and visible.unseen_artifacts([blessing], store=store):
            raise missing_artifact(blessing)
        label = f"upload of model {name!r}"
        with rebuilt_package(
            registry.blobs, body.files, max_bytes=config.max_artifact_bytes, label=label
        ) as root:
            version = registry.register(
                root,
                name,
                run_id=body.run_id,
                blessing=body.blessing_artifact_id,
                description=body.description,
                tags=body.tags,
                actor=actor,
                trusted_globals=body.trusted_globals,
            )
        return ModelVersionOut.of(version)

    return await anyio.to_thread.run_sync(register)


@router.get("/{name}/versions/{version}")
def get_model_version(name: ModelName, version: Version, registry: Registry) -> ModelVersionOut:
    return ModelVersionOut.of(registry.store.models.get_version(name, version))


@router.post("/{name}/versions/{version}/archive")
def archive_model_version(
    name: ModelName,
    version: Version,
    request: Request,
    registry: Registry,
    body: Annotated[ArchiveRequest | None, Body()] = None,
) -> ModelVersionOut:
    """Archive a version; one holding aliases needs ``force`` (production aliases: ``aliases.production``)."""
    options = body or ArchiveRequest()
    if options.force:
        held = registry.store.models.get_version(name, version).aliases
        if any(a.lower() in PRODUCTION_ALIASES for a in held):
            require(request, Permission.ALIASES_PRODUCTION, Resource(kind=ResourceKind.MODEL, key=name))
    archived = registry.archive(
        name, version, actor=principal_of(request).name, force=options.force, reason=options.reason
    )
    return ModelVersionOut.of(archived)


@router.post("/{name}/versions/{version}/blessing")
def attach_model_blessing(
    name: ModelName,
    version: Version,
    body: BlessingAttach,
    request: Request,
    store: StoreDep,
    registry: Registry,
) -> ModelVersionOut:
    """Attach an evaluation's Blessing artifact to a version; one the caller may not see answers 404."""
    if visibility_of(request).unseen_artifacts([body.artifact_id], store=store):
        registry.store.models.get_version(name, version)  # an unknown version is reported first
        raise missing_artifact(body.artifact_id)
    return ModelVersionOut.of(registry.attach_blessing(name, version, body.artifact_id))


@router.get("/{name}/versions/{version}/files")
def list_model_version_files(name: ModelName, version: Version, registry: Registry) -> PackageFileList:
    """The files of a version's package (path, sha256, size), from its verified package index."""
    found = registry.store.models.get_version(name, version)
    files = package_files(registry.blobs, found.manifest_sha256, label=f"models:/{name}/{version}")
    return PackageFileList(
        name=found.name,
        version=found.version,
        manifest_sha256=found.manifest_sha256,
        files=[PackageFileOut(path=f.path, sha256=f.sha256, size=f.size) for f in files],
    )


@router.get(
    "/{name}/versions/{version}/files/{path:path}", responses=_BYTES, response_class=StreamingResponse
)
def download_model_version_file(
    name: ModelName, version: Version, path: ArtifactPath, registry: Registry
) -> StreamingResponse:
    """Stream one file of a version's package, verified against its hash as it is read."""
    found = registry.store.models.get_version(name, version)
    label = f"models:/{name}/{version}"
    entry = package_file(registry.blobs, found.manifest_sha256, check_request_path(path), label=label)
    return stream_blob(registry.blobs, entry.sha256, label=f"{label}: {entry.path}", size=entry.size)


@router.put("/{name}/aliases/{alias}")
def set_model_alias(
    name: ModelName, alias: Alias, body: AliasSet, request: Request, registry: Registry
) -> AliasOut:
    """Point ``alias`` at a version after the promotion policy allowed it (403 naming the rule if not)."""
    expected: int | EllipsisType | None = (
        body.expected_version if "expected_version" in body.model_fields_set else ...
    )
    moved = registry.set_alias(
        name,
        alias,
        body.version,
        actor=principal_of(request).name,
        reason=body.reason,
        expected_version=expected,
    )
    return AliasOut.of(moved)


@router.delete("/{name}/aliases/{alias}", status_code=204)
def delete_model_alias(
    name: ModelName,
    alias: Alias,
    request: Request,
    registry: Registry,
    expected_version: Annotated[VersionNumber | None, Query()] = None,
    reason: Annotated[Text | None, Query(max_length=1_000)] = None,
) -> Response:
    """Remove an alias; with ``expected_version`` only while it still points there (else 409)."""
    registry.delete_alias(
        name,
        alias,
        actor=principal_of(request).name,
        reason=reason,
        expected_version=expected_version if expected_version is not None else ...,
    )
    return Response(status_code=204)


@router.get("/{name}/alias-history")
def get_alias_history(name: ModelName, registry: Registry, alias: Alias | None = None) -> AliasEventList:
    return AliasEventList(events=[AliasEventOut.of(e) for e in registry.alias_history(name, alias)])
