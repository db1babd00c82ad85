"""Where an MLflow model version comes from: a run's files named by ``source`` or ``model_id``.

The MLflow client registers ``mlflow-artifacts:/<experiment>/<run>/artifacts/<path>``,
``runs:/<run>/<path>`` or a logged model (``models:/m-...`` or ``model_id``). Each resolves to a
run and a folder of its files; :func:`fetch_model_folder` rebuilds that folder from the blob store,
every file verified against its hash, for the registry to scan and store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from loopml.artifacts import BlobStore
from loopml.errors import InvalidInput, NotFound
from loopml.server._paths import normalise_artifact_path
from loopml.server.mlflow.logged_models import MLMODEL_FILE, find_logged_model
from loopml.server.mlflow.wire import run_artifact_uri
from loopml.store.entities import every_item
from loopml.store.repositories import Store

__all__ = ["ModelSource", "fetch_model_folder", "resolve_source"]

_PROXY = re.compile(r"mlflow-artifacts:/+(?P<experiment>[^/]+)/(?P<run>[^/]+)/artifacts/(?P<path>.+)")
_RUNS = re.compile(r"runs:/+(?P<run>[^/]+)/(?P<path>.+)")
_LOGGED = re.compile(r"models:/+(?P<model_id>m-[0-9a-f]+)/*")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSource:
    """A run's folder holding an MLflow model, and the URI the MLflow client downloads it from."""

    run_id: str
    path: str
    uri: str


def resolve_source(store: Store, source: str, *, model_id: str | None = None) -> ModelSource:
    """The run folder a registration names.

    Raises:
        InvalidInput: ``source`` has another form (the accepted ones are listed).
        NotFound: the run or logged model does not exist.
    """
    logged = _LOGGED.fullmatch(source)
    if model_id or logged:
        record = find_logged_model(store, model_id or (logged.group("model_id") if logged else ""))
        run_id, path = record.run_id or "", record.name
    elif (proxy := _PROXY.fullmatch(source)) is not None:
        run_id, path = proxy.group("run"), proxy.group("path")
        if store.runs.get(run_id).experiment_id != proxy.group("experiment"):
            raise NotFound(
                f"Run {run_id} is not in experiment {proxy.group('experiment')}; use its artifact_uri."
            )
    elif (runs := _RUNS.fullmatch(source)) is not None:
        run_id, path = runs.group("run"), runs.group("path")
    else:
        raise InvalidInput(
            f"Cannot register {source!r:.200}: loopml registers models logged to this server, named "
            "mlflow-artifacts:/<experiment>/<run>/artifacts/<path>, runs:/<run>/<path> or models:/<model_id>."
        )
    run = store.runs.get(run_id)
    clean = normalise_artifact_path(path)
    return ModelSource(
        run_id=run.run_id, path=clean, uri=f"{run_artifact_uri(run.experiment_id, run.run_id)}/{clean}"
    )


def _folder_files(store: Store, source: ModelSource) -> dict[str, tuple[str, int | None]]:
    """The run's files under the source folder: relative path → (SHA-256, size) of the latest upload."""
    prefix = f"{source.path}/"
    latest: dict[str, tuple[str, int | None]] = {}
    for art in every_item(lambda token: store.artifacts.list(run_id=source.run_id, page_token=token)):
        if not art.is_reference and art.sha256 is not None and art.name.startswith(prefix):
            latest[art.name[len(prefix) :]] = (art.sha256, art.size)
    return latest


def fetch_model_folder(store: Store, blobs: BlobStore, source: ModelSource, dest: Path) -> Path:
    """Rebuild the model folder of ``source`` under ``dest`` (every file verified on read).

    Raises:
        InvalidInput: the folder holds no ``MLmodel`` file (it is not an MLflow model).
    """
    latest = _folder_files(store, source)
    if MLMODEL_FILE not in latest:
        raise InvalidInput(
            f"Run {source.run_id} has no MLflow model at {source.path!r} (no {MLMODEL_FILE} file there); "
            "log it with mlflow.<flavor>.log_model first."
        )
    for rel, (sha256, size) in sorted(latest.items()):
        blobs.get_file(sha256, dest / rel, label=f"{source.uri}/{rel}", size=size)
    return dest
