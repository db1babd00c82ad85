"""Artifacts: records, content-addressed blobs (streamed up and down) and run files by path."""

from __future__ import annotations

from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from loopml.artifacts import BlobRef, BlobStore, is_folder, validate_sha256
from loopml.config import Settings, UnsafeArtifacts
from loopml.errors import Conflict, IntegrityError
from loopml.security.scan import Verdict
from loopml.security.uploads import SCAN_PROPERTY, check_download, screen_blob
from loopml.server._deps import Blobs, Config, StoreDep
from loopml.server._paths import check_artifact_uri, check_request_path, claimed_blobs
from loopml.server._run_files import find_run_file, store_run_file
from loopml.server._security import record_upload
from loopml.server._streams import consume_body, stream_blob
from loopml.server._visibility import visibility_of
from loopml.server.schemas.common import SHA256_PATTERN, Id, MaxResults, Name, PageToken, RunFilePath
from loopml.server.schemas.lineage import ArtifactCreate, ArtifactFound, ArtifactOut, ArtifactPage, BlobOut
from loopml.store import every_item, missing_artifact
from loopml.web.json_body import SafeRoute

__all__ = ["router"]

router = APIRouter(tags=["artifacts"], route_class=SafeRoute)
Sha = Annotated[str | None, Header(max_length=64, alias="X-Content-SHA256")]
AllowUnsafe = Annotated[
    bool, Query(description="Opt in to downloading an artifact the scanner recorded unsafe on upload.")
]
_BYTES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The verified bytes."}
}


@router.post("/artifacts", status_code=201)
def create_artifact(
    body: ArtifactCreate, request: Request, store: StoreDep, blobs: Blobs, config: Config
) -> ArtifactOut:
    """Record an artifact; one holding a stored blob needs proof the caller has its bytes.

    A blob the caller may neither read nor has uploaded answers 404, as a missing one.
    """
    check_artifact_uri(
        body.uri,
        is_reference=body.is_reference,
        artifact_root=blobs.root_url,
        reference_roots=config.reference_roots,
    )
    visible = visibility_of(request)
    claimed = claimed_blobs(
        body.uri, sha256=body.sha256, is_reference=body.is_reference, artifact_root=blobs.root_url
    )
    for sha256 in sorted(claimed):
        if not visible.may_claim_blob(sha256, store=store, blobs=blobs):
            raise blobs.missing(sha256)
    fields = body.model_dump()
    fields["properties"] = _screened(body, claimed, blobs=blobs, policy=_unsafe_policy(request))
    art = store.artifacts.create(**fields)
    return ArtifactOut.of(art)


def _unsafe_policy(request: Request) -> UnsafeArtifacts:
    return cast(Settings, request.app.state.settings).unsafe_artifacts


def _screened(
    body: ArtifactCreate, claimed: frozenset[str], *, blobs: BlobStore, policy: UnsafeArtifacts
) -> dict[str, Any] | None:
    """The record's properties with the server's own scan of the stored bytes (a client's is dropped).

    Folders (a manifest of blobs) and references are not uploads of one file, and a blob this
    server does not hold (a client writing to a blob store of its own) cannot be read: they get
    no verdict.
    """
    properties = {k: v for k, v in (body.properties or {}).items() if k != SCAN_PROPERTY}
    held = sorted(sha256 for sha256 in claimed if blobs.exists(sha256))
    if body.is_reference or is_folder(properties) or not held:
        return properties if body.properties is not None else None
    scans = [screen_blob(blobs, sha256, name=body.name, policy=policy) for sha256 in held]
    properties[SCAN_PROPERTY] = max(scans, key=lambda scan: Verdict(scan["verdict"]).rank)
    return properties


@router.get("/artifacts")
def list_artifacts(
    request: Request,
    store: StoreDep,
    run_id: Id | None = None,
    type: Name | None = None,
    name: Name | None = None,
    sha256: Annotated[str | None, Query(max_length=64)] = None,
    id_prefix: Annotated[str | None, Query(max_length=32)] = None,
    max_results: MaxResults = 1000,
    page_token: PageToken | None = None,
) -> ArtifactPage:
    page = store.artifacts.list(
        run_id=run_id,
        type=type,
        name=name,
        sha256=sha256,
        id_prefix=id_prefix,
        max_results=max_results,
        page_token=page_token,
    )
    visible = visibility_of(request)  # a filtered page may hold fewer items; keep paging by the token
    shown = [a for a in page.items if visible.shows_artifact(a)]
    return ArtifactPage(artifacts=[ArtifactOut.of(a) for a in shown], next_page_token=page.next_page_token)


@router.get("/artifacts/find-version")
def find_artifact_version(
    type: Name,
    name: Name,
    request: Request,
    store: StoreDep,
    version: Annotated[int | None, Query(ge=0, le=2**31)] = None,
) -> ArtifactFound:
    found = store.artifacts.find_version(type, name, version)
    if found is not None and not visibility_of(request).shows_artifact(found):
        found = None  # a restricted resource's artifacts do not exist for callers without a grant
    return ArtifactFound(artifact=ArtifactOut.of(found) if found else None)


@router.get("/artifacts/{artifact_id}")
def get_artifact(artifact_id: Id, request: Request, store: StoreDep) -> ArtifactOut:
    found = store.artifacts.get(artifact_id)
    if not visibility_of(request).shows_artifact(found):
        raise missing_artifact(artifact_id)  # in the words of a missing one
    return ArtifactOut.of(found)


async def _receive_blob(request: Request, blobs: BlobStore, limit: int, label: str | None) -> BlobOut:
    def store_and_record(body: BinaryIO) -> BlobRef:  # in a worker thread
        ref = blobs.put_stream(body, label=label)
        record_upload(request, ref.sha256)  # the caller proved possession of these bytes
        return ref

    ref = await consume_body(request, limit=limit, consumer=store_and_record)
    return BlobOut(sha256=ref.sha256, size=ref.size, uri=ref.uri)


@router.put("/blobs", status_code=201)
async def upload_blob(
    request: Request,
    blobs: Blobs,
    config: Config,
    expected: Sha = None,
    label: Annotated[str | None, Header(max_length=1000, alias="X-Loopml-Label")] = None,
) -> BlobOut:
    """Stream the request body into the blob store; refuse it if it does not hash to X-Content-SHA256."""
    blob = await _receive_blob(request, blobs, config.max_artifact_bytes, label)
    if expected is not None and expected != blob.sha256:
        raise IntegrityError(
            f"The upload hashes to sha256 {blob.sha256}, not the {expected} the client sent; "
            "the bytes changed in transit. Retry the upload."
        )
    return blob


@router.get("/blobs/{sha256}", responses=_BYTES, response_class=StreamingResponse)
def download_blob(
    sha256: Annotated[str, PathParam(pattern=SHA256_PATTERN)],
    request: Request,
    store: StoreDep,
    blobs: Blobs,
    size: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    allow_unsafe: AllowUnsafe = False,
) -> StreamingResponse:
    """Stream a blob's bytes; the stream is verified as it is read (the connection drops on a mismatch).

    A ``size`` other than the blob's answers 409 (the caller's expectation conflicts with what is
    stored) before any byte is sent; the blob of an artifact
    recorded unsafe on upload answers 422 unless ``allow_unsafe=true``.

    Only a blob the caller sees an artifact of is served; any other answers 404, as a missing one.
    """
    visible = visibility_of(request)
    if not visible.shows_blob(validate_sha256(sha256), store=store, blobs=blobs):
        raise blobs.missing(sha256)
    for art in every_item(lambda token: store.artifacts.list(sha256=sha256, page_token=token)):
        if visible.shows_artifact(art):  # the same bytes get the same verdict; name only what it may see
            check_download(
                art.properties, name=art.name, artifact_id=art.artifact_id, allow_unsafe=allow_unsafe
            )
    stored = blobs.content_size(sha256)
    if size is not None and size != stored:  # the caller's expectation, not the stored copy, is wrong
        raise Conflict(
            f"Blob sha256 {sha256} holds {stored} bytes, not the size={size} asked for; "
            f"ask with size={stored} or without size."
        )
    return stream_blob(blobs, sha256, label=None, size=stored)


@router.put("/runs/{run_id}/artifacts/{path:path}", status_code=201)
async def upload_run_file(
    run_id: Id,
    path: RunFilePath,
    request: Request,
    store: StoreDep,
    blobs: Blobs,
    config: Config,
    type: Name = "File",
) -> ArtifactOut:
    """Store the body as the artifact ``path`` of a RUNNING run; scanned first, refused if unsafe (422)."""
    clean = check_request_path(path)
    policy = _unsafe_policy(request)
    art = await consume_body(
        request,
        limit=config.max_artifact_bytes,
        consumer=lambda body: store_run_file(store, blobs, run_id, clean, body, type=type, policy=policy),
    )
    return ArtifactOut.of(art)


@router.get("/runs/{run_id}/artifacts/{path:path}", responses=_BYTES, response_class=StreamingResponse)
def download_run_file(
    run_id: Id, path: RunFilePath, store: StoreDep, blobs: Blobs, allow_unsafe: AllowUnsafe = False
) -> StreamingResponse:
    """Stream the verified bytes of the artifact ``path`` of a run.

    One recorded unsafe on upload answers 422 unless ``allow_unsafe=true``.
    """
    art, sha256 = find_run_file(store, run_id, check_request_path(path))
    check_download(art.properties, name=art.name, artifact_id=art.artifact_id, allow_unsafe=allow_unsafe)
    return stream_blob(blobs, sha256, label=art.name, size=art.size)
