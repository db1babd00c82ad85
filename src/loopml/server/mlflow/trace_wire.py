"""MLflow's trace shapes: request bodies of the tracing API and loopml traces rendered as MLflow messages.

MLflow 3.x clients talk to two shapes: ``TraceInfo`` (the 2.0 API: ``request_id``,
``timestamp_ms``, ``status``, key/value lists) and ``TraceInfoV3`` (the 3.0 API: ``trace_id``,
``request_time`` as RFC 3339, ``execution_duration`` as ``"1.5s"``, ``state``, maps).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from loopml.errors import InvalidInput
from loopml.server.mlflow.access import TRACES_SEGMENT
from loopml.server.mlflow.wire import Body, KeyValue, key_values
from loopml.store.entities import Trace, TraceStatus

__all__ = [
    "ARTIFACT_LOCATION",
    "DeleteTraceTag",
    "DeleteTraces",
    "EndTrace",
    "SetTraceTag",
    "StartTrace",
    "StartTraceV3",
    "TraceInfoV3In",
    "duration_ms",
    "status_of",
    "status_of_state",
    "trace_artifact_uri",
    "trace_info_v2",
    "trace_info_v3",
]

#: The tag telling the client where a trace's span data (``traces.json``) is; the server sets it.
ARTIFACT_LOCATION = "mlflow.artifactLocation"
#: Metadata keys of MLflow 2-style traces holding the request and response previews.
TRACE_INPUTS, TRACE_OUTPUTS = "mlflow.traceInputs", "mlflow.traceOutputs"
_STATES = {
    "STATE_UNSPECIFIED": TraceStatus.UNSPECIFIED,
    "OK": TraceStatus.OK,
    "ERROR": TraceStatus.ERROR,
    "IN_PROGRESS": TraceStatus.IN_PROGRESS,
}
_DURATION = re.compile(r"^(?P<seconds>\d+(?:\.\d{1,9})?)s$")


def status_of(text: str) -> TraceStatus:
    """A 2.0 API status (``OK``, ``ERROR``, ``IN_PROGRESS``, ``TRACE_STATUS_UNSPECIFIED``)."""
    try:
        return TraceStatus(text)
    except ValueError as err:
        raise InvalidInput(
            f"Unknown trace status {text!r}; use one of {', '.join(s.value for s in TraceStatus)}."
        ) from err


def status_of_state(text: str) -> TraceStatus:
    """A 3.0 API state (``OK``, ``ERROR``, ``IN_PROGRESS``, ``STATE_UNSPECIFIED``)."""
    if text not in _STATES:
        raise InvalidInput(f"Unknown trace state {text!r}; use one of {', '.join(_STATES)}.")
    return _STATES[text]


def duration_ms(text: str | None) -> int | None:
    """A protobuf JSON duration (``"0.456s"``) in milliseconds."""
    if text is None:
        return None
    found = _DURATION.match(text)
    if found is None:
        raise InvalidInput(f"execution_duration must be seconds such as '1.5s'; got {text!r:.40}.")
    return round(float(found["seconds"]) * 1000)


def trace_artifact_uri(trace: Trace) -> str:
    """Where the client puts and finds a trace's span data: served by ``/api/2.0/mlflow-artifacts``."""
    return f"mlflow-artifacts:/{trace.experiment_id}/{TRACES_SEGMENT}/{trace.trace_id}/artifacts"


def _tags(trace: Trace) -> dict[str, str]:
    return {**trace.tags, ARTIFACT_LOCATION: trace_artifact_uri(trace)}


def _metadata(trace: Trace) -> dict[str, str]:
    """The request metadata, with the previews of an MLflow 3 trace under their 2.0 keys."""
    previews = {TRACE_INPUTS: trace.request_preview, TRACE_OUTPUTS: trace.response_preview}
    return {**{k: v for k, v in previews.items() if v is not None}, **trace.request_metadata}


def trace_info_v2(trace: Trace) -> dict[str, Any]:
    """A trace as MLflow's ``TraceInfo`` (2.0 API)."""
    info: dict[str, Any] = {
        "request_id": trace.trace_id,
        "experiment_id": trace.experiment_id,
        "timestamp_ms": trace.timestamp_ms,
        "status": trace.status.value,
        "request_metadata": key_values(_metadata(trace)),
        "tags": key_values(_tags(trace)),
    }
    if trace.execution_time_ms is not None:
        info["execution_time_ms"] = trace.execution_time_ms
    return info


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _rfc3339(ms: int) -> str:
    """Milliseconds since the epoch as protobuf's JSON timestamp (``2023-11-14T22:13:20.123Z``)."""
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def trace_info_v3(trace: Trace) -> dict[str, Any]:
    """A trace as MLflow's ``TraceInfoV3`` (3.0 API)."""
    state = next(name for name, status in _STATES.items() if status is trace.status)
    metadata = dict(trace.request_metadata)
    info: dict[str, Any] = {
        "trace_id": trace.trace_id,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": trace.experiment_id},
        },
        "request_time": _rfc3339(trace.timestamp_ms),
        "state": state,
        "trace_metadata": metadata,
        "tags": _tags(trace),
        "request_preview": trace.request_preview or metadata.get(TRACE_INPUTS),
        "response_preview": trace.response_preview or metadata.get(TRACE_OUTPUTS),
        "client_request_id": trace.client_request_id,
    }
    if trace.execution_time_ms is not None:
        info["execution_duration"] = f"{trace.execution_time_ms / 1000:.3f}s"
    return {k: v for k, v in info.items() if v is not None}


# --- request bodies ---


class StartTrace(Body):
    """``POST /api/2.0/mlflow/traces``."""

    experiment_id: str = Field(max_length=64)
    timestamp_ms: int
    request_metadata: list[KeyValue] = []
    tags: list[KeyValue] = []


class EndTrace(Body):
    """``PATCH /api/2.0/mlflow/traces/{request_id}``."""

    timestamp_ms: int
    status: str
    request_metadata: list[KeyValue] = []
    tags: list[KeyValue] = []


class _ExperimentLocation(Body):
    experiment_id: str = Field(max_length=64)


class _Location(Body):
    type: str = "MLFLOW_EXPERIMENT"
    mlflow_experiment: _ExperimentLocation | None = None


class TraceInfoV3In(Body):
    """MLflow's ``TraceInfoV3`` as a client sends it."""

    trace_id: str | None = Field(default=None, max_length=100)
    client_request_id: str | None = Field(default=None, max_length=250)
    trace_location: _Location
    request_preview: str | None = None
    response_preview: str | None = None
    request_time: datetime
    execution_duration: str | None = None
    state: str = "STATE_UNSPECIFIED"
    trace_metadata: dict[str, str] = {}
    tags: dict[str, str] = {}

    @property
    def experiment_id(self) -> str:
        """The experiment the trace is logged to (only experiment locations are served)."""
        found = self.trace_location.mlflow_experiment
        if self.trace_location.type != "MLFLOW_EXPERIMENT" or found is None:
            raise InvalidInput(
                f"Trace location {self.trace_location.type!r} is not served; log traces to an "
                "experiment (trace_location.mlflow_experiment.experiment_id)."
            )
        return found.experiment_id

    @property
    def timestamp_ms(self) -> int:
        at = self.request_time if self.request_time.tzinfo else self.request_time.replace(tzinfo=UTC)
        return (at - _EPOCH) // timedelta(milliseconds=1)


class _TraceIn(Body):
    trace_info: TraceInfoV3In


class StartTraceV3(Body):
    """``POST /api/3.0/mlflow/traces``."""

    trace: _TraceIn


class SetTraceTag(Body):
    key: str = Field(max_length=250)
    value: str = ""


class DeleteTraceTag(Body):
    key: str = Field(max_length=250)


class DeleteTraces(Body):
    """``POST /api/2.0/mlflow/traces/delete-traces``."""

    experiment_id: str = Field(max_length=64)
    max_timestamp_millis: int | None = None
    max_traces: int | None = None
    request_ids: list[str] | None = None
