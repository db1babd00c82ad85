"""Who may call each MLflow route: the permission, the target and its rate-limit class.

The security layer turns this table into its rules (:mod:`loopml.server._security`). A target is
read from the JSON body of a POST or the query string of a GET (MLflow puts ids there, not in the
path). This module imports only the security domain, so the layer can import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from loopml.security.auth import Permission
from loopml.security.ratelimit import EndpointClass

__all__ = [
    "ARTIFACTS_PREFIX",
    "MLFLOW_ACCESS",
    "MLFLOW_PREFIX",
    "MLFLOW_V3_PREFIX",
    "MPU_PREFIX",
    "TRACES_SEGMENT",
    "V3_TRACE_EXPERIMENT",
    "VERSIONS_SEGMENT",
    "Access",
]

MLFLOW_PREFIX = "/api/2.0/mlflow"
#: MLflow 3's API (the client creates traces there).
MLFLOW_V3_PREFIX = "/api/3.0/mlflow"
ARTIFACTS_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"
#: MLflow's multipart upload through the artifact proxy.
MPU_PREFIX = "/api/2.0/mlflow-artifacts/mpu"
#: First segment of registered versions' artifact URIs (``mlflow-artifacts:/registered-models/...``).
VERSIONS_SEGMENT = "registered-models"
#: Second segment of traces' artifact URIs
#: (``mlflow-artifacts:/<experiment_id>/traces/<trace_id>/artifacts``).
TRACES_SEGMENT = "traces"


@dataclass(frozen=True, slots=True, kw_only=True)
class Access:
    """What one MLflow route needs.

    Attributes:
        action: Audit name.
        permission: Permission needed (on the target when there is one).
        endpoint_class: Rate-limit class.
        target_kind: ``experiment``, ``experiment_name``, ``run``, ``model``, ``logged_model`` (an
            MLflow logged-model id) or ``trace`` (a trace id; see the security layer's targets).
        target_field: The body (POST) or query (GET) field naming the target; dots name a
            field nested in the body (``trace.trace_info.experiment_id``).
        target_in_path: Whether the target is a path parameter instead.
        mutates: Whether the request changes state (audited).
        creates: Whether the request creates its target (its creator gets an ``owner`` grant).
        alias_field: The body or query field naming a model alias (a production alias needs
            the permission to move production aliases); for a stage transition, the stage
            (``Production`` needs it too).
    """

    action: str
    permission: Permission
    endpoint_class: EndpointClass
    target_kind: str | None = None
    target_field: str | None = None
    target_in_path: bool = False
    mutates: bool = True
    creates: bool = False
    alias_field: str | None = None


_P, _E = Permission, EndpointClass


def _read(action: str, kind: str | None = None, field: str | None = None) -> Access:
    return Access(
        action=f"mlflow.{action}",
        permission=_P.READ,
        endpoint_class=_E.READ,
        target_kind=kind,
        target_field=field,
        mutates=False,
    )


def _write(action: str, permission: Permission, kind: str, field: str) -> Access:
    return Access(
        action=f"mlflow.{action}",
        permission=permission,
        endpoint_class=_E.WRITE,
        target_kind=kind,
        target_field=field,
    )


def _run_write(action: str) -> Access:
    return _write(action, _P.RUNS_WRITE, "run", "run_id")


def _experiment_write(action: str) -> Access:
    return _write(action, _P.EXPERIMENTS_WRITE, "experiment", "experiment_id")


def _logged_model_write(action: str) -> Access:
    """A write to a logged model named in the path: ``runs.write`` on its source run."""
    return Access(
        action=f"mlflow.{action}",
        permission=_P.RUNS_WRITE,
        endpoint_class=_E.WRITE,
        target_kind="logged_model",
        target_field="model_id",
        target_in_path=True,
    )


def _model_write(action: str, *, alias_field: str | None = None) -> Access:
    return Access(
        action=f"mlflow.{action}",
        permission=_P.MODELS_WRITE,
        endpoint_class=_E.WRITE,
        target_kind="model",
        target_field="name",
        alias_field=alias_field,
    )


def _model_read(action: str) -> Access:
    return _read(action, "model", "name")


_REGISTRY_ROUTES: dict[tuple[str, str], Access] = {
    ("POST", "registered-models/create"): Access(
        action="mlflow.registered_models.create",
        permission=_P.MODELS_WRITE,
        endpoint_class=_E.WRITE,
        target_kind="model",
        target_field="name",
        creates=True,
    ),
    ("GET", "registered-models/get"): _model_read("registered_models.get"),
    ("GET", "registered-models/search"): _read("registered_models.search"),
    ("PATCH", "registered-models/update"): _model_write("registered_models.update"),
    ("POST", "registered-models/set-tag"): _model_write("registered_models.set_tag"),
    ("DELETE", "registered-models/delete-tag"): _model_write("registered_models.delete_tag"),
    ("POST", "registered-models/rename"): _model_write("registered_models.rename"),
    ("DELETE", "registered-models/delete"): _model_write("registered_models.delete"),
    ("POST", "registered-models/get-latest-versions"): _model_read("registered_models.get_latest_versions"),
    ("POST", "registered-models/alias"): _model_write("registered_models.set_alias", alias_field="alias"),
    ("DELETE", "registered-models/alias"): _model_write(
        "registered_models.delete_alias", alias_field="alias"
    ),
    ("GET", "registered-models/alias"): _model_read("registered_models.get_by_alias"),
    # the source run is checked in the handler: the caller must see it
    ("POST", "model-versions/create"): _model_write("model_versions.create"),
    ("GET", "model-versions/get"): _model_read("model_versions.get"),
    ("PATCH", "model-versions/update"): _model_write("model_versions.update"),
    ("DELETE", "model-versions/delete"): _model_write("model_versions.delete"),
    # the stage is read like an alias name: ``Production`` needs ``aliases.production``
    ("POST", "model-versions/transition-stage"): _model_write(
        "model_versions.transition_stage", alias_field="stage"
    ),
    ("POST", "model-versions/set-tag"): _model_write("model_versions.set_tag"),
    ("DELETE", "model-versions/delete-tag"): _model_write("model_versions.delete_tag"),
    ("GET", "model-versions/get-download-uri"): _model_read("model_versions.get_download_uri"),
    ("GET", "model-versions/search"): _read("model_versions.search"),
}

_ROUTES: dict[tuple[str, str], Access] = {
    **_REGISTRY_ROUTES,
    ("POST", "experiments/create"): Access(
        action="mlflow.experiments.create",
        permission=_P.EXPERIMENTS_WRITE,
        endpoint_class=_E.WRITE,
        target_kind="experiment_name",
        target_field="name",
        creates=True,
    ),
    ("GET", "experiments/get"): _read("experiments.get", "experiment", "experiment_id"),
    ("GET", "experiments/get-by-name"): _read(
        "experiments.get_by_name", "experiment_name", "experiment_name"
    ),
    ("POST", "experiments/search"): _read("experiments.search"),
    ("POST", "experiments/delete"): _experiment_write("experiments.delete"),
    ("POST", "experiments/restore"): _experiment_write("experiments.restore"),
    ("POST", "experiments/set-experiment-tag"): _experiment_write("experiments.set_tag"),
    ("POST", "experiments/update"): _experiment_write("experiments.update"),
    ("POST", "runs/create"): _write("runs.create", _P.RUNS_WRITE, "experiment", "experiment_id"),
    ("GET", "runs/get"): _read("runs.get", "run", "run_id"),
    ("POST", "runs/update"): _run_write("runs.update"),
    ("POST", "runs/delete"): _run_write("runs.delete"),
    ("POST", "runs/restore"): _run_write("runs.restore"),
    ("POST", "runs/log-parameter"): _run_write("runs.log_parameter"),
    ("POST", "runs/log-metric"): _run_write("runs.log_metric"),
    ("POST", "runs/log-batch"): _run_write("runs.log_batch"),
    ("POST", "runs/log-inputs"): _run_write("runs.log_inputs"),
    ("POST", "runs/log-model"): _run_write("runs.log_model"),
    ("POST", "runs/set-tag"): _run_write("runs.set_tag"),
    ("POST", "runs/delete-tag"): _run_write("runs.delete_tag"),
    ("POST", "runs/search"): _read("runs.search", "experiment", "experiment_ids"),
    ("GET", "metrics/get-history"): _read("metrics.get_history", "run", "run_id"),
    # several runs in the query string: the handler leaves out runs the caller may not see
    ("GET", "metrics/get-history-bulk-interval"): _read("metrics.get_history_bulk_interval"),
    ("GET", "artifacts/list"): _read("artifacts.list_run", "run", "run_id"),
    ("POST", "logged-models/search"): _read("logged_models.search", "experiment", "experiment_ids"),
    ("POST", "logged-models"): _write("logged_models.create", _P.RUNS_WRITE, "run", "source_run_id"),
    # a logged model is named by its id in the path; the handlers hide runs the caller may not see
    ("GET", "logged-models/{model_id}"): _read("logged_models.get"),
    ("PATCH", "logged-models/{model_id}"): Access(
        action="mlflow.logged_models.finalize", permission=_P.RUNS_WRITE, endpoint_class=_E.WRITE
    ),
    ("DELETE", "logged-models/{model_id}"): _logged_model_write("logged_models.delete"),
    ("GET", "logged-models/{model_id}/artifacts/directories"): _read("logged_models.list_artifacts"),
    ("POST", "logged-models/{model_id}/params"): _logged_model_write("logged_models.log_params"),
    ("PATCH", "logged-models/{model_id}/tags"): _logged_model_write("logged_models.set_tags"),
    ("DELETE", "logged-models/{model_id}/tags/{tag_key:path}"): _logged_model_write(
        "logged_models.delete_tag"
    ),
    ("POST", "runs/outputs"): _run_write("runs.log_outputs"),
}

_RUN_FILE = f"{ARTIFACTS_PREFIX}/{{experiment_id}}/{{run_id}}/artifacts/{{path:path}}"
_ARTIFACT_ROUTES: dict[tuple[str, str], Access] = {
    ("PUT", _RUN_FILE): Access(
        action="mlflow.artifacts.upload",
        permission=_P.RUNS_WRITE,
        endpoint_class=_E.UPLOAD,
        target_kind="run",
        target_field="run_id",
        target_in_path=True,
    ),
    ("DELETE", _RUN_FILE): Access(
        action="mlflow.artifacts.delete",
        permission=_P.RUNS_WRITE,
        endpoint_class=_E.WRITE,
        target_kind="run",
        target_field="run_id",
        target_in_path=True,
    ),
    ("GET", _RUN_FILE): Access(
        action="mlflow.artifacts.download",
        permission=_P.READ,
        endpoint_class=_E.READ,
        target_kind="run",
        target_field="run_id",
        target_in_path=True,
        mutates=False,
    ),
    ("GET", f"{ARTIFACTS_PREFIX}/{VERSIONS_SEGMENT}/{{name}}/versions/{{version}}/{{path:path}}"): Access(
        action="mlflow.artifacts.download_model_version",
        permission=_P.READ,
        endpoint_class=_E.READ,
        target_kind="model",
        target_field="name",
        target_in_path=True,
        mutates=False,
    ),
    # the listing names its run or model inside ?path=; its handler hides what the caller may not see
    ("GET", ARTIFACTS_PREFIX): _read("artifacts.list"),
}


def _run_file_write(action: str, endpoint_class: EndpointClass = EndpointClass.WRITE) -> Access:
    """A write to a run's files, the run named in the path."""
    return Access(
        action=f"mlflow.{action}",
        permission=_P.RUNS_WRITE,
        endpoint_class=endpoint_class,
        target_kind="run",
        target_field="run_id",
        target_in_path=True,
    )


_MPU_RUN = f"{MPU_PREFIX}/{{step}}/{{experiment_id}}/{{run_id}}/artifacts"
_MPU_ROUTES: dict[tuple[str, str], Access] = {
    **{
        ("POST", path.replace("{step}", step)): _run_file_write(f"artifacts.multipart_{step}")
        for step in ("create", "complete", "abort")
        for path in (_MPU_RUN, f"{_MPU_RUN}/{{path:path}}")
    },
    (
        "PUT",
        f"{MPU_PREFIX}/parts/{{experiment_id}}/{{run_id}}/{{upload_id}}/{{part_number}}",
    ): _run_file_write("artifacts.multipart_part", _E.UPLOAD),
}


def _trace_access(action: str, *, write: bool, field: str = "request_id") -> Access:
    """A route acting on one trace named in the path: its experiment's grants decide."""
    return Access(
        action=f"mlflow.{action}",
        permission=_P.RUNS_WRITE if write else _P.READ,
        endpoint_class=_E.WRITE if write else _E.READ,
        target_kind="trace",
        target_field=field,
        target_in_path=True,
        mutates=write,
    )


#: The experiment a new MLflow 3 trace names, nested in the body of ``POST /api/3.0/mlflow/traces``.
V3_TRACE_EXPERIMENT = "trace.trace_info.trace_location.mlflow_experiment.experiment_id"

# Tracing: a trace belongs to an experiment; reading it needs ``read`` there, writing ``runs.write``.
_TRACE_ROUTES: dict[tuple[str, str], Access] = {
    ("POST", f"{MLFLOW_PREFIX}/traces"): _write("traces.start", _P.RUNS_WRITE, "experiment", "experiment_id"),
    ("POST", f"{MLFLOW_V3_PREFIX}/traces"): _write(
        "traces.start_v3", _P.RUNS_WRITE, "experiment", V3_TRACE_EXPERIMENT
    ),
    ("PATCH", f"{MLFLOW_PREFIX}/traces/{{request_id}}"): _trace_access("traces.end", write=True),
    ("GET", f"{MLFLOW_PREFIX}/traces/{{request_id}}/info"): _trace_access("traces.get_info", write=False),
    ("GET", f"{MLFLOW_PREFIX}/traces/{{trace_id}}"): _trace_access(
        "traces.get_info_v3", write=False, field="trace_id"
    ),
    ("GET", f"{MLFLOW_V3_PREFIX}/traces/{{trace_id}}"): _trace_access(
        "traces.get_info_v3", write=False, field="trace_id"
    ),
    ("GET", f"{MLFLOW_PREFIX}/traces"): _read("traces.search", "experiment", "experiment_ids"),
    ("POST", f"{MLFLOW_PREFIX}/traces/delete-traces"): _write(
        "traces.delete", _P.RUNS_WRITE, "experiment", "experiment_id"
    ),
    ("PATCH", f"{MLFLOW_PREFIX}/traces/{{request_id}}/tags"): _trace_access("traces.set_tag", write=True),
    ("DELETE", f"{MLFLOW_PREFIX}/traces/{{request_id}}/tags"): _trace_access("traces.delete_tag", write=True),
}
_TRACE_FILE = f"{ARTIFACTS_PREFIX}/{{experiment_id}}/{TRACES_SEGMENT}/{{trace_id}}/artifacts/{{path:path}}"
_TRACE_ROUTES |= {
    ("PUT", _TRACE_FILE): replace(
        _trace_access("traces.upload_data", write=True, field="trace_id"), endpoint_class=_E.UPLOAD
    ),
    ("GET", _TRACE_FILE): _trace_access("traces.download_data", write=False, field="trace_id"),
}

#: ``(method, path template)`` → :class:`Access` of every MLflow route.
MLFLOW_ACCESS: Mapping[tuple[str, str], Access] = {
    **{(method, f"{MLFLOW_PREFIX}/{path}"): access for (method, path), access in _ROUTES.items()},
    **_TRACE_ROUTES,
    **_ARTIFACT_ROUTES,
    **_MPU_ROUTES,
}
