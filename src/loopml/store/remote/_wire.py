"""Entities from and to the server's JSON (the inverse of ``loopml.server.schemas``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.store.entities import (
    Artifact,
    Context,
    Event,
    EventType,
    Execution,
    ExecutionState,
    Experiment,
    LifecycleStage,
    Metric,
    Run,
    RunStatus,
)
from loopml.store.validation import (
    check_metric_value,
    check_param_value,
    check_record_key,
    check_step,
    check_tag_value,
    check_timestamp,
)

__all__ = [
    "artifact",
    "context",
    "event",
    "execution",
    "experiment",
    "float_in",
    "float_out",
    "metric",
    "metrics_out",
    "params_out",
    "run",
    "tags_out",
]

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def float_in(value: Any) -> float:
    return _SPECIAL[value] if isinstance(value, str) else float(value)


def float_out(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def experiment(d: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=d["experiment_id"],
        name=d["name"],
        lifecycle_stage=LifecycleStage(d["lifecycle_stage"]),
        created_at=d["created_at"],
        tags=dict(d["tags"]),
    )


def run(d: Mapping[str, Any]) -> Run:
    return Run(
        run_id=d["run_id"],
        experiment_id=d["experiment_id"],
        name=d["name"],
        status=RunStatus(d["status"]),
        start_time=d["start_time"],
        end_time=d["end_time"],
        parent_run_id=d["parent_run_id"],
        lifecycle_stage=LifecycleStage(d["lifecycle_stage"]),
        params=dict(d["params"]),
        metrics={k: float_in(v) for k, v in d["metrics"].items()},
        tags=dict(d["tags"]),
        error=d["error"],
        reproducibility=dict(d["reproducibility"]),
    )


def metric(d: Mapping[str, Any]) -> Metric:
    return Metric(key=d["key"], value=float_in(d["value"]), step=d["step"], timestamp=d["timestamp"])


def metrics_out(points: Sequence[Metric]) -> list[dict[str, Any]]:
    """Check metric points as the store does (types do not survive JSON) and encode them."""
    out = []
    for p in points:
        key = check_record_key(p.key, kind="metric key")
        out.append(
            {
                "key": key,
                "value": float_out(check_metric_value(key, p.value)),
                "step": check_step(key, p.step),
                "timestamp": check_timestamp(p.timestamp, what=f"timestamp of metric {key!r}"),
            }
        )
    return out


def params_out(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if params is None:
        return None
    return {check_record_key(k, kind="param key"): check_param_value(k, v) for k, v in params.items()}


def tags_out(tags: Mapping[str, Any] | None) -> dict[str, str] | None:
    if tags is None:
        return None
    return {check_record_key(k, kind="tag key"): check_tag_value(k, v) for k, v in tags.items()}


def artifact(d: Mapping[str, Any]) -> Artifact:
    return Artifact(
        artifact_id=d["artifact_id"],
        type=d["type"],
        name=d["name"],
        uri=d["uri"],
        sha256=d["sha256"],
        size=d["size"],
        is_reference=d["is_reference"],
        version=d["version"],
        run_id=d["run_id"],
        properties=dict(d["properties"]),
        created_at=d["created_at"],
    )


def execution(d: Mapping[str, Any]) -> Execution:
    return Execution(
        execution_id=d["execution_id"],
        type=d["type"],
        name=d["name"],
        state=ExecutionState(d["state"]),
        started_at=d["started_at"],
        ended_at=d["ended_at"],
        run_id=d["run_id"],
        params=dict(d["params"]),
        properties=dict(d["properties"]),
        code_version=d["code_version"],
        cache_key=d["cache_key"],
        error=d["error"],
    )


def event(d: Mapping[str, Any]) -> Event:
    return Event(
        execution_id=d["execution_id"],
        artifact_id=d["artifact_id"],
        type=EventType(d["type"]),
        role=d["role"],
        timestamp=d["timestamp"],
    )


def context(d: Mapping[str, Any]) -> Context:
    return Context(
        context_id=d["context_id"],
        type=d["type"],
        name=d["name"],
        properties=dict(d["properties"]),
        created_at=d["created_at"],
    )
