"""Copy experiments, runs and their artifacts from an MLflow tracking server into a loopml store.

:class:`MlflowSource` reads an MLflow server over its REST API (any MLflow backend: point
``mlflow server --backend-store-uri <file or SQL store>`` at a store to import it);
:func:`import_mlflow` writes into a loopml :class:`~loopml.store.repositories.Store` and blob store.

Idempotent and resumable: each imported run carries the tag :data:`SOURCE_RUN_TAG` (the MLflow run
id) and, once everything of it is copied, :data:`DONE_TAG`. A second import skips finished runs;
a run left half-copied by an interrupted import is deleted and copied again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loopml.artifacts import Blobs
from loopml.errors import InvalidInput, NotFound, StoreUnavailable
from loopml.store.dataset_inputs import MLFLOW_DATASET_INPUTS
from loopml.store.entities import Metric, Run, RunStatus, every_item
from loopml.store.repositories import Store

__all__ = [
    "DATASET_INPUTS",
    "DONE_TAG",
    "SOURCE_RUN_TAG",
    "ImportSummary",
    "MlflowSource",
    "import_mlflow",
    "imported_run_ids",
]

#: Tag of an imported run: the MLflow run id it was copied from.
SOURCE_RUN_TAG = "loopml.mlflow.run_id"
#: Tag set last, once a run's params, metrics, tags, inputs and artifacts are all copied.
DONE_TAG = "loopml.mlflow.imported"
#: Key of the run's reproducibility record holding MLflow dataset inputs.
DATASET_INPUTS = MLFLOW_DATASET_INPUTS
_PAGE = 1000


#: Judges a downloaded artifact file before it is stored: the properties to record on it (the
#: CLI passes the security scanner's verdict).
Screen = Callable[[Path, str], Mapping[str, Any]]


@dataclass(slots=True, kw_only=True)
class ImportSummary:
    """What one import copied (``skipped_runs``: already imported before)."""

    experiments: int = 0
    runs: int = 0
    skipped_runs: int = 0
    params: int = 0
    metric_points: int = 0
    tags: int = 0
    artifacts: int = 0
    artifact_bytes: int = 0
    warnings: list[str] = field(default_factory=list)


class MlflowSource:
    """An MLflow tracking server read over REST.

    Args:
        uri: The server's URL (``http://host:5000``).
        token: Bearer token (``MLFLOW_TRACKING_TOKEN``), if the server needs one.
        auth: ``(user, password)`` for HTTP Basic, if the server needs it.
        transport: An httpx transport (tests).
    """

    def __init__(
        self,
        uri: str,
        *,
        token: str | None = None,
        auth: tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not uri.startswith(("http://", "https://")):
            raise InvalidInput(
                f"Import from an MLflow tracking server URL (http://...); got {uri!r}. For a file or "
                f"SQL store run `mlflow server --backend-store-uri {uri}` and import from its URL."
            )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.uri = uri.rstrip("/")
        self._http = httpx.Client(
            base_url=self.uri, headers=headers, auth=auth, timeout=120, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise StoreUnavailable(f"Cannot reach the MLflow server {self.uri}: {err}.") from err
        if response.status_code == 404:
            raise NotFound(f"MLflow server {self.uri}: {response.text[:300]}")
        if response.status_code >= 400:
            raise StoreUnavailable(
                f"MLflow server {self.uri} answered {response.status_code} to {path}: {response.text[:300]}"
            )
        return response.json()

    def experiments(self) -> list[dict[str, Any]]:
        """Every active experiment."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            body = {"max_results": _PAGE, "view_type": "ACTIVE_ONLY"} | (
                {"page_token": token} if token else {}
            )
            page = self._call("POST", "/api/2.0/mlflow/experiments/search", json=body)
            found += page.get("experiments", [])
            token = page.get("next_page_token")
            if not token:
                return found

    def runs(self, experiment_id: str) -> Iterator[dict[str, Any]]:
        """Every active run of an experiment, oldest first (parents before their children)."""
        token: str | None = None
        while True:
            body = {
                "experiment_ids": [experiment_id],
                "max_results": _PAGE,
                "order_by": ["attributes.start_time ASC"],
            } | ({"page_token": token} if token else {})
            page = self._call("POST", "/api/2.0/mlflow/runs/search", json=body)
            yield from page.get("runs", [])
            token = page.get("next_page_token")
            if not token:
                return

    def metric_history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        """Every point of a metric."""
        points: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params = {"run_id": run_id, "metric_key": key, "max_results": 25_000}
            page = self._call(
                "GET",
                "/api/2.0/mlflow/metrics/get-history",
                params=params | ({"page_token": token} if token else {}),
            )
            points += page.get("metrics", [])
            token = page.get("next_page_token")
            if not token:
                return points

    def artifact_files(self, run_id: str, path: str = "") -> Iterator[tuple[str, int]]:
        """``(path, size)`` of every artifact file of a run, depth first."""
        params = {"run_id": run_id} | ({"path": path} if path else {})
        listing = self._call("GET", "/api/2.0/mlflow/artifacts/list", params=params)
        for entry in listing.get("files", []):
            if entry.get("is_dir"):
                yield from self.artifact_files(run_id, entry["path"])
            else:
                yield entry["path"], int(entry.get("file_size") or 0)

    def registered_models(self) -> list[dict[str, Any]]:
        """Every registered model (name, description, tags, aliases)."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params = {"max_results": _PAGE} | ({"page_token": token} if token else {})
            page = self._call("GET", "/api/2.0/mlflow/registered-models/search", params=params)
            found += page.get("registered_models", [])
            token = page.get("next_page_token")
            if not token:
                return found

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of a registered model, oldest first."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        escaped = name.replace("'", "\\'")
        while True:
            params = {"filter": f"name = '{escaped}'", "max_results": _PAGE} | (
                {"page_token": token} if token else {}
            )
            page = self._call("GET", "/api/2.0/mlflow/model-versions/search", params=params)
            found += page.get("model_versions", [])
            token = page.get("next_page_token")
            if not token:
                return sorted(found, key=lambda v: int(v["version"]))

    def download_uri(self, name: str, version: str) -> str:
        """Where the files of a model version are (``mlflow-artifacts:/...`` on a proxying server)."""
        params = {"name": name, "version": version}
        return str(
            self._call("GET", "/api/2.0/mlflow/model-versions/get-download-uri", params=params)[
                "artifact_uri"
            ]
        )

    def proxied_files(self, path: str) -> Iterator[tuple[str, int]]:
        """``(path, size)`` of every file under ``path`` of the server's artifact proxy, depth first."""
        listing = self._call("GET", "/api/2.0/mlflow-artifacts/artifacts", params={"path": path})
        for entry in listing.get("files", []):
            child = f"{path.rstrip('/')}/{entry['path']}"
            if entry.get("is_dir"):
                yield from self.proxied_files(child)
            else:
                yield child, int(entry.get("file_size") or 0)

    def open_proxied(self, path: str) -> Iterator[bytes]:
        """The bytes of one file of the artifact proxy, in chunks."""
        with self._http.stream("GET", f"/api/2.0/mlflow-artifacts/artifacts/{path}") as response:
            if response.status_code >= 400:
                raise StoreUnavailable(f"MLflow server {self.uri} could not send artifact {path!r}.")
            yield from response.iter_bytes(1 << 20)

    def open_artifact(self, run_id: str, path: str) -> Iterator[bytes]:
        """The bytes of one artifact file, in chunks."""
        with self._http.stream("GET", "/get-artifact", params={"run_id": run_id, "path": path}) as response:
            if response.status_code >= 400:
                raise StoreUnavailable(
                    f"MLflow server {self.uri} could not send artifact {path!r} of {run_id}."
                )
            yield from response.iter_bytes(1 << 20)


def _copy_artifact(
    source: MlflowSource,
    store: Store,
    blobs: Blobs,
    *,
    run_id: str,
    new_id: str,
    path: str,
    screen: Screen | None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="loopml-import-") as folder:
        received = Path(folder) / "artifact"
        with received.open("xb") as out:
            for chunk in source.open_artifact(run_id, path):
                out.write(chunk)
        properties = dict(screen(received, path)) if screen is not None else {}
        ref = blobs.put_file(received, label=path)
    store.artifacts.create(
        type="File",
        name=path,
        uri=ref.uri,
        sha256=ref.sha256,
        size=ref.size,
        run_id=new_id,
        properties=properties,
    )


def _imported_runs(store: Store, experiment_id: str) -> dict[str, Run]:
    runs = every_item(lambda token: store.runs.search([experiment_id], max_results=_PAGE, page_token=token))
    return {r.tags[SOURCE_RUN_TAG]: r for r in runs if SOURCE_RUN_TAG in r.tags}


def imported_run_ids(store: Store) -> dict[str, str]:
    """MLflow run id → loopml run id of every run an import copied (in any experiment)."""
    found: dict[str, str] = {}
    for experiment in store.experiments.list():
        found |= {old: run.run_id for old, run in _imported_runs(store, experiment.experiment_id).items()}
    return found


def _copy_run(
    source: MlflowSource,
    store: Store,
    blobs: Blobs,
    *,
    experiment_id: str,
    run: Mapping[str, Any],
    parents: Mapping[str, str],
    summary: ImportSummary,
    screen: Screen | None,
) -> str:
    info, data = run["info"], run.get("data", {})
    tags = {t["key"]: t.get("value", "") for t in data.get("tags", [])}
    parent = parents.get(tags.get("mlflow.parentRunId", ""))
    if parent:
        tags["mlflow.parentRunId"] = parent
    else:
        tags.pop("mlflow.parentRunId", None)
    tags[SOURCE_RUN_TAG] = info["run_id"]
    created = store.runs.create(
        experiment_id,
        name=info.get("run_name") or None,
        parent_run_id=parent,
        start_time=int(info.get("start_time") or 0) or None,
        tags=tags,
    )
    new_id = created.run_id
    summary.tags += len(tags) - 1
    params = {p["key"]: p.get("value", "") for p in data.get("params", [])}
    items = list(params.items())
    for start in range(0, len(items), 100):
        store.runs.log_batch(new_id, params=dict(items[start : start + 100]))
    summary.params += len(params)
    for key in sorted({m["key"] for m in data.get("metrics", [])}):
        points = [
            Metric(
                key=key,
                value=float(p["value"]),
                step=int(p.get("step") or 0),
                timestamp=int(p.get("timestamp") or 0),
            )
            for p in source.metric_history(info["run_id"], key)
        ]
        for start in range(0, len(points), _PAGE):
            store.runs.log_batch(new_id, metrics=points[start : start + _PAGE])
        summary.metric_points += len(points)
    inputs = run.get("inputs", {}).get("dataset_inputs", [])
    if inputs:
        store.runs.set_reproducibility(new_id, {DATASET_INPUTS: inputs})
    for path, _size in source.artifact_files(info["run_id"]):
        _copy_artifact(source, store, blobs, run_id=info["run_id"], new_id=new_id, path=path, screen=screen)
        summary.artifacts += 1
        summary.artifact_bytes += _size
    store.runs.log_batch(new_id, tags={DONE_TAG: "true"})
    status = info.get("status", "FINISHED")
    if status in ("FINISHED", "FAILED", "KILLED"):
        store.runs.set_status(new_id, RunStatus(status), end_time=int(info.get("end_time") or 0) or None)
    return new_id


def import_mlflow(
    source: MlflowSource,
    store: Store,
    blobs: Blobs,
    *,
    on_run: Callable[[str, str, bool], None] | None = None,
    screen: Screen | None = None,
) -> ImportSummary:
    """Copy every active experiment and run of ``source`` into ``store``; runs already copied are skipped.

    Args:
        source: The MLflow server.
        store: The loopml store written to.
        blobs: The blob store artifacts go to (content-addressed, checksummed).
        on_run: Called after each run with (experiment name, MLflow run id, whether it was copied).
        screen: Judges each artifact file before it is stored (see :data:`Screen`).

    Returns:
        Counts of what was copied.
    """
    summary = ImportSummary()
    for experiment in source.experiments():
        target = store.experiments.get_or_create(experiment["name"])
        summary.experiments += 1
        for tag in experiment.get("tags", []):
            store.experiments.set_tag(target.experiment_id, tag["key"], tag.get("value", ""))
        done = _imported_runs(store, target.experiment_id)
        parents = {old: run.run_id for old, run in done.items()}
        for run in source.runs(experiment["experiment_id"]):
            old_id = run["info"]["run_id"]
            existing = done.get(old_id)
            if existing is not None and existing.tags.get(DONE_TAG) == "true":
                summary.skipped_runs += 1
                copied = False
            else:
                if existing is not None:  # left half-copied by an interrupted import
                    store.runs.delete(existing.run_id)
                parents[old_id] = _copy_run(
                    source,
                    store,
                    blobs,
                    experiment_id=target.experiment_id,
                    run=run,
                    parents=parents,
                    summary=summary,
                    screen=screen,
                )
                summary.runs += 1
                copied = True
            if on_run is not None:
                on_run(experiment["name"], old_id, copied)
    return summary
