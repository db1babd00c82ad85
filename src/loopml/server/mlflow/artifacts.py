"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts/...``) over loopml's run files.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment_id>/<run_id>/artifacts``; the client
sends every file under it here. Files are stored as loopml run artifacts: content-addressed,
SHA-256 checked on write and on every read, each an OUTPUT of the run's execution.

A registered model version is read (never written) at
``mlflow-artifacts:/registered-models/<name>/versions/<version>``: the files of its registered
package, each verified against its hash as it is streamed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import StreamingResponse

from loopml.config import UnsafeArtifacts
from loopml.errors import InvalidInput, InvalidState, NotFound, UnsafeArtifact
from loopml.registry import ModelRegistry
from loopml.security.auth import ResourceKind
from loopml.security.uploads import check_download
from loopml.server._deps import Blobs, Config, StoreDep
from loopml.server._model_files import package_file, package_files
from loopml.server._paths import normalise_artifact_path
from loopml.server._run_files import find_run_file, store_run_file
from loopml.server._streams import consume_body, stream_blob
from loopml.server._visibility import visibility_of
from loopml.server.mlflow.access import ARTIFACTS_PREFIX, VERSIONS_SEGMENT
from loopml.server.mlflow.errors import MlflowRoute
from loopml.server.mlflow.listing import folder_of, listing
from loopml.server.mlflow.registry import Registry
from loopml.store.entities import Artifact, ModelVersion, every_item
from loopml.store.repositories import Store

__all__ = ["router"]

_RUN_FILE = "/{experiment_id}/{run_id}/artifacts/{path:path}"
_VERSION_FILE = f"/{VERSIONS_SEGMENT}/{{name}}/versions/{{version}}/{{path:path}}"

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


def _version_of(registry: ModelRegistry, name: str, version: str) -> ModelVersion:
    if not version.isdigit():
        raise NotFound(
            f"Model {name!r} has no version {version!r}; `loopml models versions {name}` lists them."
        )
    return registry.store.models.get_version(name, int(version))


@router.get(_VERSION_FILE, response_class=StreamingResponse)
def download_version_file(name: str, version: str, path: str, registry: Registry) -> StreamingResponse:
    """One file of a registered version's package; refused when the version was scanned unsafe."""
    found, blobs = _version_of(registry, name, version), registry.blobs
    label = f"models:/{name}/{found.version}"
    if found.scan_verdict == "unsafe":
        raise UnsafeArtifact(
            f"{label} was judged unsafe by the scanner at registration; loopml does not hand out its "
            f"files (`loopml models show {name}` shows the verdict)."
        )
    entry = package_file(blobs, found.manifest_sha256, normalise_artifact_path(path), label=label)
    return stream_blob(blobs, entry.sha256, label=f"{label}: {entry.path}", size=entry.size)


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
    request: Request,
    store: StoreDep,
    registry: Registry,
    path: Annotated[str | None, Query(max_length=4_000)] = None,
) -> dict[str, Any]:
    parts = (path or "").strip("/").split("/", 3)
    if parts[0] == VERSIONS_SEGMENT and len(parts) >= 3 and parts[2] == "versions":
        return _list_version(request, registry, (path or "").strip("/").split("/", 4)[1:])
    if len(parts) < 3 or parts[2] != "artifacts":
        raise InvalidInput(
            f"List a run's artifacts with path=<experiment_id>/<run_id>/artifacts[/dir]; got {path!r}."
        )
    experiment_id, run_id = parts[0], parts[1]
    if not visibility_of(request).shows_run(run_id):
        raise NotFound(f"No run {run_id!r}; `mlflow.search_runs()` lists the runs you can see.")
    folder = folder_of(parts[3] if len(parts) > 3 else None)
    files = [(a.name, a.size or 0) for a in _run_files(store, experiment_id, run_id) if not a.is_reference]
    return _basenames(listing(files, folder))


def _list_version(request: Request, registry: ModelRegistry, parts: list[str]) -> dict[str, Any]:
    """The listing of ``<name>/versions/<version>[/dir]`` of a registered version's package."""
    name, version = parts[0], parts[2] if len(parts) > 2 else ""
    if not visibility_of(request).shows(ResourceKind.MODEL, name):
        raise NotFound(f"No registered model named {name!r}; `mlflow.search_registered_models()` lists them.")
    found = _version_of(registry, name, version)
    folder = folder_of(parts[3] if len(parts) > 3 else None)
    files = package_files(registry.blobs, found.manifest_sha256, label=f"models:/{name}/{found.version}")
    return _basenames(listing([(f.path, f.size) for f in files], folder))


def _basenames(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The artifact proxy's listing: MLflow's ``FileInfo`` entries named by their last part only."""
    return {"files": [{**e, "path": str(e["path"]).rsplit("/", 1)[-1]} for e in entries]}
