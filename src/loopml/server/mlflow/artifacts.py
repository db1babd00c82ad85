"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts/...``) over loopml's run files.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment_id>/<run_id>/artifacts``; the client
sends every file under it here. Files are stored as loopml run artifacts: content-addressed,
SHA-256 checked on write and on every read, each an OUTPUT of the run's execution.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import StreamingResponse

from loopml.config import UnsafeArtifacts
from loopml.errors import InvalidInput, InvalidState, NotFound
from loopml.security.uploads import check_download
from loopml.server._deps import Blobs, Config, StoreDep
from loopml.server._paths import normalise_artifact_path
from loopml.server._run_files import find_run_file, store_run_file
from loopml.server._streams import consume_body, stream_blob
from loopml.server._visibility import visibility_of
from loopml.server.mlflow.access import ARTIFACTS_PREFIX
from loopml.server.mlflow.errors import MlflowRoute
from loopml.store.entities import Artifact, every_item
from loopml.store.repositories import Store

__all__ = ["router"]

_RUN_FILE = "/{experiment_id}/{run_id}/artifacts/{path:path}"

#: MLflow uploads are scanned and kept with their verdict (MLflow models are pickles); a file
#: recorded unsafe is refused on download, as on ``/api/v1`` without ``allow_unsafe``.
RECORD = UnsafeArtifacts.RECORD

router = APIRouter(prefix=ARTIFACTS_PREFIX, tags=["mlflow"], route_class=MlflowRoute)


def _run_files(store: Store, experiment_id: str, run_id: str) -> list[Artifact]:
    run = store.runs.get(run_id)
    if run.experiment_id != experiment_id:
        raise NotFound(f"Run {run_id} is not in experiment {experiment_id}; use the run's artifact_uri.")
    return list(every_item(lambda token: store.artifacts.list(run_id=run_id, page_token=token)))


@router.put(_RUN_FILE)
async def upload_artifact(
    experiment_id: str,
    run_id: str,
    path: str,
    request: Request,
    store: StoreDep,
    blobs: Blobs,
    config: Config,
) -> dict[str, Any]:
    clean = normalise_artifact_path(path)
    await consume_body(
        request,
        limit=config.max_artifact_bytes,
        consumer=lambda body: store_run_file(
            store, blobs, _run_id(store, experiment_id, run_id), clean, body, type="File", policy=RECORD
        ),
    )
    return {}


def _run_id(store: Store, experiment_id: str, run_id: str) -> str:
    if store.runs.get(run_id).experiment_id != experiment_id:
        raise NotFound(f"Run {run_id} is not in experiment {experiment_id}; use the run's artifact_uri.")
    return run_id


@router.get(_RUN_FILE, response_class=StreamingResponse)
def download_artifact(
    experiment_id: str, run_id: str, path: str, store: StoreDep, blobs: Blobs
) -> StreamingResponse:
    art, sha256 = find_run_file(store, _run_id(store, experiment_id, run_id), normalise_artifact_path(path))
    check_download(art.properties, name=art.name, artifact_id=art.artifact_id, allow_unsafe=False)
    return stream_blob(blobs, sha256, label=art.name, size=art.size)


@router.delete(_RUN_FILE)
def delete_artifact(experiment_id: str, run_id: str, path: str) -> dict[str, Any]:
    raise InvalidState(
        f"Artifact {path!r} of run {run_id} cannot be deleted: loopml artifacts are immutable, "
        "lineage points at them. Delete the run instead (`mlflow.delete_run`)."
    )


@router.get("")
def list_artifacts(
    request: Request, store: StoreDep, path: Annotated[str | None, Query(max_length=4_000)] = None
) -> dict[str, Any]:
    parts = (path or "").strip("/").split("/", 3)
    if len(parts) < 3 or parts[2] != "artifacts":
        raise InvalidInput(
            f"List a run's artifacts with path=<experiment_id>/<run_id>/artifacts[/dir]; got {path!r}."
        )
    experiment_id, run_id = parts[0], parts[1]
    if not visibility_of(request).shows_run(run_id):
        raise NotFound(f"No run {run_id!r}; `mlflow.search_runs()` lists the runs you can see.")
    prefix = normalise_artifact_path(parts[3]) + "/" if len(parts) > 3 and parts[3].strip("/") else ""
    children: dict[str, dict[str, Any]] = {}
    for art in _run_files(store, experiment_id, run_id):
        if art.is_reference or not art.name.startswith(prefix):
            continue
        rest = art.name[len(prefix) :]
        name, slash, _ = rest.partition("/")
        shown = prefix + name
        children[shown] = (
            {"path": name, "is_dir": True}
            if slash
            else {"path": name, "is_dir": False, "file_size": art.size or 0}
        )
    return {"files": sorted(children.values(), key=lambda f: f["path"])}
