"""The store repositories over the REST API: each method is one HTTP call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from loopml.errors import NotFound
from loopml.store.entities import (
    Artifact,
    Context,
    Event,
    EventType,
    Execution,
    ExecutionState,
    Experiment,
    Metric,
    MetricSeries,
    Page,
    Run,
    RunStatus,
)
from loopml.store.remote import _wire as w
from loopml.store.remote._http import ApiSession
from loopml.store.validation import check_json, check_key

__all__ = [
    "RemoteArtifactRepository",
    "RemoteExperimentRepository",
    "RemoteLineageRepository",
    "RemoteRunRepository",
]


def _seg(value: str) -> str:
    """A path segment, percent-encoded (an empty id still addresses a route and gets 404)."""
    return quote(value, safe="") or "%20"


def _json(value: Mapping[str, Any] | None, what: str) -> dict[str, Any] | None:
    return None if value is None else check_json(value, what=what)


class RemoteExperimentRepository:
    def __init__(self, api: ApiSession) -> None:
        self._api = api

    def create(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        check_key(name, kind="experiment name")  # the store's own message, not the API schema's
        return w.experiment(
            self._api.call("POST", "/experiments", body={"name": name, "tags": w.tags_out(tags)})
        )

    def get(self, experiment_id: str) -> Experiment:
        return w.experiment(self._api.call("GET", f"/experiments/{_seg(experiment_id)}"))

    def get_by_name(self, name: str) -> Experiment:
        return w.experiment(self._api.call("GET", f"/experiments/by-name/{_seg(name)}"))

    def find_by_name(self, name: str) -> Experiment | None:
        try:
            return self.get_by_name(name)
        except NotFound:
            return None

    def get_or_create(self, name: str) -> Experiment:
        check_key(name, kind="experiment name")
        return w.experiment(self._api.call("POST", "/experiments/get-or-create", body={"name": name}))

    def list(self, *, include_deleted: bool = False) -> list[Experiment]:
        found = self._api.call("GET", "/experiments", params={"include_deleted": include_deleted})
        return [w.experiment(e) for e in found["experiments"]]

    def set_tag(self, experiment_id: str, key: str, value: str) -> None:
        tags = w.tags_out({key: value}) or {}
        self._api.call(
            "PUT", f"/experiments/{_seg(experiment_id)}/tags", body={"key": key, "value": tags[key]}
        )

    def rename(self, experiment_id: str, name: str) -> Experiment:
        return w.experiment(
            self._api.call("PATCH", f"/experiments/{_seg(experiment_id)}", body={"name": name})
        )

    def delete(self, experiment_id: str) -> None:
        self._api.call("DELETE", f"/experiments/{_seg(experiment_id)}")

    def restore(self, experiment_id: str) -> None:
        self._api.call("POST", f"/experiments/{_seg(experiment_id)}/restore")


class RemoteRunRepository:
    def __init__(self, api: ApiSession) -> None:
        self._api = api

    def create(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        parent_run_id: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "parent_run_id": parent_run_id,
            "start_time": start_time,
            "tags": w.tags_out(tags),
        }
        return w.run(self._api.call("POST", "/runs", body=body))

    def get(self, run_id: str) -> Run:
        return w.run(self._api.call("GET", f"/runs/{_seg(run_id)}"))

    def set_status(
        self, run_id: str, status: RunStatus, *, end_time: int | None = None, error: str | None = None
    ) -> Run:
        body = {"status": RunStatus(status).value, "end_time": end_time, "error": error}
        return w.run(self._api.call("POST", f"/runs/{_seg(run_id)}/status", body=body))

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        body = {"metrics": w.metrics_out(metrics), "params": w.params_out(params), "tags": w.tags_out(tags)}
        self._api.call("POST", f"/runs/{_seg(run_id)}/log-batch", body=body)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        found = self._api.call("GET", f"/runs/{_seg(run_id)}/metric-history", params={"key": key})
        return [w.metric(p) for p in found["metrics"]]

    def get_metric_histories(self, run_ids: Sequence[str], key: str) -> dict[str, list[Metric]]:
        found: dict[str, list[Metric]] = {}
        for run_id in dict.fromkeys(run_ids):
            try:
                points = self.get_metric_history(run_id, key)
            except NotFound:
                continue
            if points:
                found[run_id] = points
        return found

    def get_metric_series(self, run_ids: Sequence[str], key: str) -> dict[str, MetricSeries]:
        return {
            run_id: MetricSeries(
                steps=[p.step for p in points],
                values=[p.value for p in points],
                timestamps=[p.timestamp for p in points],
            )
            for run_id, points in self.get_metric_histories(run_ids, key).items()
        }

    def set_reproducibility(self, run_id: str, record: Mapping[str, Any]) -> None:
        body = {"record": check_json(record, what="reproducibility record")}
        self._api.call("PUT", f"/runs/{_seg(run_id)}/reproducibility", body=body)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._api.call("DELETE", f"/runs/{_seg(run_id)}/tags/{quote(key, safe='/')}")

    def delete(self, run_id: str) -> None:
        self._api.call("DELETE", f"/runs/{_seg(run_id)}")

    def restore(self, run_id: str) -> None:
        self._api.call("POST", f"/runs/{_seg(run_id)}/restore")

    def search(
        self,
        experiment_ids: Sequence[str],
        *,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page[Run]:
        body = {
            "experiment_ids": list(experiment_ids),
            "filter": filter,
            "order_by": list(order_by),
            "max_results": max_results,
            "page_token": page_token,
            "include_deleted": include_deleted,
        }
        found = self._api.call("POST", "/runs/search", body=body)
        return Page(items=[w.run(r) for r in found["runs"]], next_page_token=found["next_page_token"])


class RemoteArtifactRepository:
    def __init__(self, api: ApiSession) -> None:
        self._api = api

    def create(
        self,
        *,
        type: str,
        name: str,
        uri: str,
        sha256: str | None,
        size: int | None,
        is_reference: bool = False,
        run_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        versioned: bool = False,
    ) -> Artifact:
        body = {
            "type": type,
            "name": name,
            "uri": uri,
            "sha256": sha256,
            "size": size,
            "is_reference": is_reference,
            "run_id": run_id,
            "properties": _json(properties, "artifact properties"),
            "versioned": versioned,
        }
        return w.artifact(self._api.call("POST", "/artifacts", body=body))

    def get(self, artifact_id: str) -> Artifact:
        return w.artifact(self._api.call("GET", f"/artifacts/{_seg(artifact_id)}"))

    def find_version(self, type: str, name: str, version: int | None = None) -> Artifact | None:
        params = {"type": type, "name": name, "version": version}
        found = self._api.call("GET", "/artifacts/find-version", params=params)["artifact"]
        return None if found is None else w.artifact(found)

    def list(
        self,
        *,
        run_id: str | None = None,
        type: str | None = None,
        name: str | None = None,
        sha256: str | None = None,
        id_prefix: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Artifact]:
        params = {
            "run_id": run_id,
            "type": type,
            "name": name,
            "sha256": sha256,
            "id_prefix": id_prefix,
            "max_results": max_results,
            "page_token": page_token,
        }
        found = self._api.call("GET", "/artifacts", params=params)
        return Page(
            items=[w.artifact(a) for a in found["artifacts"]], next_page_token=found["next_page_token"]
        )


class RemoteLineageRepository:
    def __init__(self, api: ApiSession) -> None:
        self._api = api

    def create_execution(
        self,
        *,
        type: str,
        name: str,
        run_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        code_version: str | None = None,
        cache_key: str | None = None,
        state: ExecutionState = ExecutionState.RUNNING,
    ) -> Execution:
        body = {
            "type": type,
            "name": name,
            "run_id": run_id,
            "params": _json(params, "execution params"),
            "properties": _json(properties, "execution properties"),
            "code_version": code_version,
            "cache_key": cache_key,
            "state": ExecutionState(state).value,
        }
        return w.execution(self._api.call("POST", "/executions", body=body))

    def get_execution(self, execution_id: str) -> Execution:
        return w.execution(self._api.call("GET", f"/executions/{_seg(execution_id)}"))

    def find_run_execution(self, run_id: str) -> Execution | None:
        found = self._api.call("GET", f"/executions/by-run/{_seg(run_id)}")["execution"]
        return None if found is None else w.execution(found)

    def finish_execution(
        self,
        execution_id: str,
        state: ExecutionState,
        *,
        error: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Execution:
        body = {
            "state": ExecutionState(state).value,
            "error": error,
            "properties": _json(properties, "execution properties"),
        }
        return w.execution(self._api.call("POST", f"/executions/{_seg(execution_id)}/finish", body=body))

    def find_cached_execution(self, cache_key: str) -> Execution | None:
        found = self._api.call("GET", "/executions/cached", params={"cache_key": cache_key})["execution"]
        return None if found is None else w.execution(found)

    def add_events(self, execution_id: str, events: Iterable[tuple[str, EventType, str]]) -> list[Event]:
        body = {"events": [{"artifact_id": a, "type": EventType(t).value, "role": r} for a, t, r in events]}
        found = self._api.call("POST", f"/executions/{_seg(execution_id)}/events", body=body)
        return [w.event(e) for e in found["events"]]

    def list_events(self, *, execution_id: str | None = None, artifact_id: str | None = None) -> list[Event]:
        params = {"execution_id": execution_id, "artifact_id": artifact_id}
        return [w.event(e) for e in self._api.call("GET", "/events", params=params)["events"]]

    def create_context(self, *, type: str, name: str, properties: Mapping[str, Any] | None = None) -> Context:
        body = {"type": type, "name": name, "properties": _json(properties, "context properties")}
        return w.context(self._api.call("POST", "/contexts", body=body))

    def get_context(self, context_id: str) -> Context:
        return w.context(self._api.call("GET", f"/contexts/{_seg(context_id)}"))

    def find_context(self, type: str, name: str) -> Context | None:
        found = self._api.call("GET", "/contexts/find", params={"type": type, "name": name})["context"]
        return None if found is None else w.context(found)

    def attach(
        self, context_id: str, *, execution_ids: Iterable[str] = (), artifact_ids: Iterable[str] = ()
    ) -> None:
        body = {"execution_ids": list(execution_ids), "artifact_ids": list(artifact_ids)}
        self._api.call("POST", f"/contexts/{_seg(context_id)}/attach", body=body)

    def list_context_executions(self, context_id: str) -> list[Execution]:
        found = self._api.call("GET", f"/contexts/{_seg(context_id)}/executions")
        return [w.execution(e) for e in found["executions"]]

    def list_context_artifacts(self, context_id: str) -> list[Artifact]:
        found = self._api.call("GET", f"/contexts/{_seg(context_id)}/artifacts")
        return [w.artifact(a) for a in found["artifacts"]]

    def list_contexts(self, *, type: str | None = None) -> list[Context]:
        return [w.context(c) for c in self._api.call("GET", "/contexts", params={"type": type})["contexts"]]
