"""MLflow's multipart upload through the artifact proxy (``/api/2.0/mlflow-artifacts/mpu/...``).

The client uses it for a file of at least ``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`` bytes when
``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true``: ``create`` answers one URL per part, the client PUTs
each part there (in parallel), then ``complete`` (or ``abort``) names the upload. MLflow's own server
hands out a cloud store's presigned URLs; loopml's URLs point back at this server
(``mpu/parts/...``), and carry the caller's ``Authorization`` header as the part's header, since the
client sends nothing else with a part. Parts wait on the server's disk
(:mod:`loopml.server._upload_parts`); completing streams them, each checked against its SHA-256,
into the same path as any run file (scanned, content-addressed, recorded): the artifact appears
whole or not at all, and an aborted upload leaves nothing.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from loopml.artifacts import BlobStore
from loopml.errors import InvalidState, NotFound
from loopml.server._deps import Blobs, Config, StoreDep
from loopml.server._paths import normalise_artifact_path
from loopml.server._run_files import store_run_file
from loopml.server._streams import consume_body
from loopml.server._upload_parts import PartStaging, Upload
from loopml.server.mlflow.access import MPU_PREFIX
from loopml.server.mlflow.artifacts import RECORD
from loopml.server.mlflow.errors import MlflowRoute
from loopml.server.mlflow.wire import Body
from loopml.store.repositories import Store

__all__ = ["router"]

router = APIRouter(prefix=MPU_PREFIX, tags=["mlflow"], route_class=MlflowRoute)

_RUN = "{experiment_id}/{run_id}/artifacts"
Empty = dict[str, Any]


def _staging(request: Request) -> PartStaging:
    return PartStaging(Path(request.app.state.settings.home).expanduser().absolute() / "uploads" / "mlflow")


Staging = Annotated[PartStaging, Depends(_staging)]


class CreateUpload(Body):
    path: str
    num_parts: int = 1


class PartEtag(Body):
    part_number: int
    etag: str | None = None


class CompleteUpload(Body):
    path: str | None = None
    upload_id: str
    parts: list[PartEtag] = []


class AbortUpload(Body):
    path: str | None = None
    upload_id: str


def _running_run(store: Store, experiment_id: str, run_id: str) -> str:
    run = store.runs.get(run_id)
    if run.experiment_id != experiment_id:
        raise NotFound(f"Run {run_id} is not in experiment {experiment_id}; use the run's artifact_uri.")
    if run.status.is_terminal:
        raise InvalidState(
            f"Run {run_id} has ended ({run.status}); artifacts can only be logged to a RUNNING run."
        )
    return run_id


def _create(
    request: Request,
    body: CreateUpload,
    store: Store,
    staging: PartStaging,
    run: tuple[str, str],
    folder: str,
) -> Empty:
    run_id = _running_run(store, *run)
    file_name = posixpath.basename(body.path.replace("\\", "/"))
    name = normalise_artifact_path(posixpath.join(folder, file_name) if folder else file_name)
    upload = staging.begin(run_id=run_id, name=name, num_parts=body.num_parts)
    base = str(request.base_url).rstrip("/") + f"{MPU_PREFIX}/parts/{run[0]}/{run_id}/{upload.upload_id}"
    auth = request.headers.get("authorization")
    headers = {"Authorization": auth} if auth else {}
    credentials = [
        {"url": f"{base}/{n}", "part_number": n, "headers": headers} for n in range(1, upload.num_parts + 1)
    ]
    return {"upload_id": upload.upload_id, "credentials": credentials}


@router.post(f"/create/{_RUN}")
def create_upload(
    experiment_id: str,
    run_id: str,
    body: CreateUpload,
    request: Request,
    store: StoreDep,
    staging: Staging,
) -> Empty:
    return _create(request, body, store, staging, (experiment_id, run_id), "")


@router.post(f"/create/{_RUN}/{{path:path}}")
def create_upload_in(
    experiment_id: str,
    run_id: str,
    path: str,
    body: CreateUpload,
    request: Request,
    store: StoreDep,
    staging: Staging,
) -> Empty:
    return _create(request, body, store, staging, (experiment_id, run_id), normalise_artifact_path(path))


@router.put("/parts/{experiment_id}/{run_id}/{upload_id}/{part_number}")
async def upload_part(
    experiment_id: str,
    run_id: str,
    upload_id: str,
    part_number: int,
    request: Request,
    store: StoreDep,
    config: Config,
    staging: Staging,
) -> Response:
    """Stage one part; its ETag is its SHA-256 (checked again when the upload completes)."""
    upload = staging.get(upload_id, run_id=_running_run(store, experiment_id, run_id))
    sha256 = await consume_body(
        request,
        limit=config.max_artifact_bytes,
        consumer=lambda part: staging.put(upload, part_number, part, limit=config.max_artifact_bytes),
    )
    return Response(status_code=200, headers={"ETag": f'"{sha256}"'})


def _complete(
    body: CompleteUpload, store: Store, blobs: BlobStore, staging: PartStaging, run: tuple[str, str]
) -> Empty:
    upload: Upload = staging.get(body.upload_id, run_id=_running_run(store, *run))
    listed = sorted((p.part_number, p.etag or "") for p in body.parts)
    with staging.parts(upload, listed) as parts:
        store_run_file(
            store, blobs, upload.run_id, upload.name, cast(BinaryIO, parts), type="File", policy=RECORD
        )
    staging.discard(upload)
    return {}


@router.post(f"/complete/{_RUN}")
@router.post(f"/complete/{_RUN}/{{path:path}}")
def complete_upload(
    experiment_id: str,
    run_id: str,
    body: CompleteUpload,
    store: StoreDep,
    blobs: Blobs,
    staging: Staging,
) -> Empty:
    """Store the parts as one run file (scanned, content-addressed), then drop them."""
    return _complete(body, store, blobs, staging, (experiment_id, run_id))


@router.post(f"/abort/{_RUN}")
@router.post(f"/abort/{_RUN}/{{path:path}}")
def abort_upload(
    experiment_id: str,
    run_id: str,
    body: AbortUpload,
    store: StoreDep,
    staging: Staging,
) -> Empty:
    """Drop the upload and its parts; nothing of it is kept."""
    run = store.runs.get(run_id)
    if run.experiment_id != experiment_id:
        raise NotFound(f"Run {run_id} is not in experiment {experiment_id}; use the run's artifact_uri.")
    staging.discard(staging.get(body.upload_id, run_id=run_id))
    return {}
