"""MLflow's JSON shapes: request bodies (pydantic) and loopml entities rendered as MLflow objects."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loopml.store.entities import Experiment, Metric, Run, RunStatus
from loopml.tracking.mlflow_import import DATASET_INPUTS

__all__ = [
    "DATASET_INPUTS",
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "Body",
    "KeyValue",
    "MetricIn",
    "experiment_json",
    "key_values",
    "metric_json",
    "run_artifact_uri",
    "run_info_json",
    "run_json",
]

#: The id MLflow's fluent API uses when no experiment was set; loopml maps it to "Default".
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
#: MLflow statuses a loopml run status does not have (SCHEDULED) are refused on update.
RUN_STATUSES = tuple(s.value for s in RunStatus)


class Body(BaseModel):
    """Base of MLflow request bodies: unknown fields are ignored (clients of newer versions send more)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class KeyValue(Body):
    key: str = Field(max_length=1_000)
    value: str | None = None


class MetricIn(Body):
    key: str = Field(max_length=1_000)
    value: float | str
    timestamp: int = 0
    step: int = 0


def key_values(items: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` as MLflow's ``[{"key": "k", "value": "v"}]``."""
    return [{"key": k, "value": v} for k, v in items.items()]


def run_artifact_uri(experiment_id: str, run_id: str) -> str:
    """Where MLflow clients put a run's artifacts: served by ``/api/2.0/mlflow-artifacts``."""
    return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    """An experiment as MLflow's ``Experiment`` message."""
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": f"mlflow-artifacts:/{experiment.experiment_id}",
        "lifecycle_stage": experiment.lifecycle_stage.value,
        "creation_time": experiment.created_at,
        "last_update_time": experiment.created_at,
        "tags": key_values(experiment.tags),
    }


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def metric_json(metric: Metric) -> dict[str, Any]:
    """One metric point as MLflow's ``Metric`` message."""
    return {
        "key": metric.key,
        "value": _float(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }


def run_info_json(run: Run) -> dict[str, Any]:
    """A run's MLflow ``RunInfo``: the user comes from the ``mlflow.user`` tag."""
    info: dict[str, Any] = {
        "run_id": run.run_id,
        "run_uuid": run.run_id,
        "run_name": run.tags.get("mlflow.runName", run.name),
        "experiment_id": run.experiment_id,
        "user_id": run.tags.get("mlflow.user", ""),
        "status": run.status.value,
        "start_time": run.start_time,
        "artifact_uri": run_artifact_uri(run.experiment_id, run.run_id),
        "lifecycle_stage": run.lifecycle_stage.value,
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def run_json(run: Run) -> dict[str, Any]:
    """A run as MLflow's ``Run`` message (latest metric values; their step and time are not kept)."""
    tags = dict(run.tags)
    tags.setdefault("mlflow.runName", run.name)
    if run.parent_run_id:
        tags.setdefault("mlflow.parentRunId", run.parent_run_id)
    metrics = [
        {"key": k, "value": _float(v), "timestamp": run.end_time or run.start_time, "step": 0}
        for k, v in run.metrics.items()
    ]
    return {
        "info": run_info_json(run),
        "data": {"metrics": metrics, "params": key_values(run.params), "tags": key_values(tags)},
        "inputs": {"dataset_inputs": list(run.reproducibility.get(DATASET_INPUTS, []))},
    }
