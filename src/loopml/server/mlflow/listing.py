"""MLflow's folder listings (``FileInfo``) and the tracking API's run listing (``GET /artifacts/list``).

``/artifacts/list`` is MLflow's older listing of a run's files, by run id; the client itself lists
through the artifact proxy, the MLflow UI and older tools call this one. It lists the files the
run stored through the server (content-addressed run artifacts), in one page.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request

from loopml.errors import NotFound
from loopml.server._deps import StoreDep
from loopml.server._paths import normalise_artifact_path
from loopml.server._visibility import visibility_of
from loopml.server.mlflow.errors import MlflowRoute
from loopml.server.mlflow.tracking import RunRef
from loopml.server.mlflow.wire import run_artifact_uri
from loopml.store.entities import every_item

__all__ = ["folder_of", "listing", "router"]

router = APIRouter(prefix="/api/2.0/mlflow", tags=["mlflow"], route_class=MlflowRoute)


def folder_of(path: str | None) -> str:
    """The folder ``path`` names, normalised, with a trailing ``/`` (``""`` for the root).

    Raises:
        InvalidInput: the path leaves its root (``..``, absolute, ...).
    """
    stripped = (path or "").strip("/")
    return normalise_artifact_path(stripped) + "/" if stripped else ""


def listing(files: Iterable[tuple[str, int]], folder: str) -> list[dict[str, Any]]:
    """MLflow ``FileInfo`` entries of ``folder`` (from :func:`folder_of`), sorted by path.

    Args:
        files: ``(path, size)`` of every file under the root, paths relative to it.
        folder: The folder listed.

    Returns:
        One entry per file or sub-folder directly in ``folder``; ``path`` is relative to the root
        (``folder`` + name), as MLflow's tracking API answers. A folder has no ``file_size``.
    """
    children: dict[str, dict[str, Any]] = {}
    for file_name, size in files:
        if not file_name.startswith(folder):
            continue
        name, slash, _ = file_name[len(folder) :].partition("/")
        path = folder + name
        children[path] = (
            {"path": path, "is_dir": True} if slash else {"path": path, "is_dir": False, "file_size": size}
        )
    return sorted(children.values(), key=lambda f: str(f["path"]))


@router.get("/artifacts/list")
def list_run_artifacts(
    request: Request,
    store: StoreDep,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    run_uuid: Annotated[str | None, Query(max_length=64)] = None,
    path: Annotated[str | None, Query(max_length=1_000)] = None,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """A run's files one level under ``path``, in one page (``page_token`` unused, as in MLflow)."""
    run = store.runs.get(RunRef(run_id=run_id, run_uuid=run_uuid).id)
    if not visibility_of(request).shows_run(run.run_id):
        raise NotFound(f"No run {run.run_id!r}; `mlflow.search_runs()` lists the runs you can see.")
    stored = every_item(lambda token: store.artifacts.list(run_id=run.run_id, page_token=token))
    files = [(a.name, a.size or 0) for a in stored if not a.is_reference]
    return {
        "root_uri": run_artifact_uri(run.experiment_id, run.run_id),
        "files": listing(files, folder_of(path)),
    }
