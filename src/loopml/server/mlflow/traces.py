"""MLflow tracing routes: create, end, get, search, tag and delete traces, and store their span data.

The client records a trace's info through ``/api/2.0/mlflow/traces`` (``/api/3.0`` for MLflow 3's
``StartTraceV3``) and uploads its spans as ``traces.json`` through the artifact proxy, under the
trace's ``mlflow.artifactLocation`` tag. loopml keeps the info in its store and the spans as a
content-addressed blob (checked to be a JSON object before it is stored). Who may read or write
a trace is decided by its experiment's grants (the security layer's ``trace`` target).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import StreamingResponse

from loopml.artifacts import CHUNK_SIZE, BlobStore
from loopml.errors import InvalidInput, InvalidState, NotFound
from loopml.server._deps import Blobs, Config, StoreDep
from loopml.server._streams import consume_body, stream_blob
from loopml.server.mlflow.access import ARTIFACTS_PREFIX, MLFLOW_PREFIX, MLFLOW_V3_PREFIX, TRACES_SEGMENT
from loopml.server.mlflow.errors import MlflowRoute
from loopml.server.mlflow.trace_search import parse_trace_filter, parse_trace_order
from loopml.server.mlflow.trace_wire import (
    ARTIFACT_LOCATION,
    DeleteTraces,
    DeleteTraceTag,
    EndTrace,
    SetTraceTag,
    StartTrace,
    StartTraceV3,
    duration_ms,
    status_of,
    status_of_state,
    trace_info_v2,
    trace_info_v3,
)
from loopml.server.mlflow.tracking import experiment_id_of
from loopml.server.mlflow.wire import KeyValue
from loopml.store.entities import Trace
from loopml.store.repositories import TraceRepository, TraceStore

__all__ = ["TRACE_DATA_FILE", "router"]

router = APIRouter(tags=["mlflow"], route_class=MlflowRoute)
Empty = dict[str, Any]
#: The one file of a trace's artifact folder: its spans, as the client serialises them.
TRACE_DATA_FILE = "traces.json"
_TRACE_FILE = f"{ARTIFACTS_PREFIX}/{{experiment_id}}/{TRACES_SEGMENT}/{{trace_id}}/artifacts/{{path:path}}"
#: Most traces one search returns (MLflow's client asks for 100 by default).
MAX_TRACES_PER_PAGE = 1_000


def _traces(request: Request) -> TraceRepository:
    store = request.app.state.store
    if not isinstance(store, TraceStore):
        raise InvalidState(f"The store {store.url} holds no traces; use a SQL store URL.")
    return store.traces


Traces = Annotated[TraceRepository, Depends(_traces)]


def _pairs(items: list[KeyValue]) -> dict[str, str]:
    """MLflow's key/value list as a mapping; the server's own artifact-location tag is left out."""
    return {i.key: i.value or "" for i in items if i.key != ARTIFACT_LOCATION}


def _new_trace_id() -> str:
    return f"tr-{uuid.uuid4().hex}"


@router.post(f"{MLFLOW_PREFIX}/traces")
def start_trace(body: StartTrace, store: StoreDep, traces: Traces) -> Empty:
    trace = traces.create(
        trace_id=_new_trace_id(),
        experiment_id=experiment_id_of(store, body.experiment_id),
        timestamp_ms=body.timestamp_ms,
        request_metadata=_pairs(body.request_metadata),
        tags=_pairs(body.tags),
    )
    return {"trace_info": trace_info_v2(trace)}


@router.post(f"{MLFLOW_V3_PREFIX}/traces")
def start_trace_v3(body: StartTraceV3, store: StoreDep, traces: Traces) -> Empty:
    info = body.trace.trace_info
    trace = traces.create(
        trace_id=info.trace_id or _new_trace_id(),
        experiment_id=experiment_id_of(store, info.experiment_id),
        timestamp_ms=info.timestamp_ms,
        status=status_of_state(info.state),
        execution_time_ms=duration_ms(info.execution_duration),
        request_metadata=info.trace_metadata,
        tags={k: v for k, v in info.tags.items() if k != ARTIFACT_LOCATION},
        request_preview=info.request_preview,
        response_preview=info.response_preview,
        client_request_id=info.client_request_id,
    )
    return {"trace": {"trace_info": trace_info_v3(trace)}}


@router.patch(f"{MLFLOW_PREFIX}/traces/{{request_id}}")
def end_trace(request_id: str, body: EndTrace, traces: Traces) -> Empty:
    trace = traces.end(
        request_id,
        end_ms=body.timestamp_ms,
        status=status_of(body.status),
        request_metadata=_pairs(body.request_metadata),
        tags=_pairs(body.tags),
    )
    return {"trace_info": trace_info_v2(trace)}


@router.get(f"{MLFLOW_PREFIX}/traces/{{request_id}}/info")
def get_trace_info(request_id: str, traces: Traces) -> Empty:
    return {"trace_info": trace_info_v2(traces.get(request_id))}


@router.get(f"{MLFLOW_PREFIX}/traces/{{trace_id}}")
@router.get(f"{MLFLOW_V3_PREFIX}/traces/{{trace_id}}")
def get_trace_info_v3(trace_id: str, traces: Traces) -> Empty:
    return {"trace": {"trace_info": trace_info_v3(traces.get(trace_id))}}


@router.get(f"{MLFLOW_PREFIX}/traces")
def search_traces(
    store: StoreDep,
    traces: Traces,
    experiment_ids: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies it)
    filter: Annotated[str | None, Query(max_length=10_000)] = None,
    max_results: Annotated[int, Query(ge=1, le=MAX_TRACES_PER_PAGE)] = 100,
    order_by: Annotated[list[str], Query()] = [],  # noqa: B006
    page_token: Annotated[str | None, Query(max_length=100)] = None,
) -> Empty:
    if not experiment_ids:
        raise InvalidInput("Search traces in at least one experiment: pass experiment_ids.")
    page = traces.search(
        [experiment_id_of(store, e) for e in experiment_ids],
        conditions=parse_trace_filter(filter),
        order_by=parse_trace_order(order_by),
        max_results=max_results,
        page_token=page_token,
    )
    out: Empty = {"traces": [trace_info_v2(t) for t in page.items]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


@router.post(f"{MLFLOW_PREFIX}/traces/delete-traces")
def delete_traces(body: DeleteTraces, store: StoreDep, traces: Traces) -> Empty:
    if (body.max_timestamp_millis is None) == (not body.request_ids):
        raise InvalidInput(
            "Delete traces either older than max_timestamp_millis or by request_ids, not both or neither."
        )
    if body.max_traces is not None and (body.request_ids or body.max_traces < 1):
        raise InvalidInput("max_traces (a positive number) goes with max_timestamp_millis, not request_ids.")
    deleted = traces.delete(
        experiment_id_of(store, body.experiment_id),
        max_timestamp_ms=body.max_timestamp_millis,
        max_traces=body.max_traces,
        trace_ids=body.request_ids or None,
    )
    return {"traces_deleted": deleted}


def _check_tag_key(key: str) -> str:
    if key == ARTIFACT_LOCATION:
        raise InvalidInput(
            f"The tag {ARTIFACT_LOCATION!r} is the server's: it says where the trace's spans are."
        )
    return key


@router.patch(f"{MLFLOW_PREFIX}/traces/{{request_id}}/tags")
def set_trace_tag(request_id: str, body: SetTraceTag, traces: Traces) -> Empty:
    traces.set_tag(request_id, _check_tag_key(body.key), body.value)
    return {}


@router.delete(f"{MLFLOW_PREFIX}/traces/{{request_id}}/tags")
def delete_trace_tag(request_id: str, body: DeleteTraceTag, traces: Traces) -> Empty:
    traces.delete_tag(request_id, _check_tag_key(body.key))
    return {}


# --- span data through the artifact proxy ---


def _trace_in(traces: TraceRepository, experiment_id: str, trace_id: str, path: str) -> Trace:
    """The trace whose data file ``path`` of ``experiment_id`` names (its one file: ``traces.json``)."""
    trace = traces.get(trace_id)
    if trace.experiment_id != experiment_id:
        raise NotFound(
            f"Trace {trace_id} is not in experiment {experiment_id}; use its {ARTIFACT_LOCATION} tag."
        )
    if path != TRACE_DATA_FILE:
        raise InvalidInput(f"A trace's artifact folder holds {TRACE_DATA_FILE!r} only; got {path!r:.80}.")
    return trace


def _store_trace_data(blobs: BlobStore, traces: TraceRepository, trace_id: str, body: BinaryIO) -> None:
    """Receive the spans, check they are one JSON object, store them as a blob and record it."""
    with tempfile.TemporaryDirectory(prefix="loopml-trace-") as folder:
        received = Path(folder) / TRACE_DATA_FILE
        with received.open("xb") as out:
            shutil.copyfileobj(body, out, CHUNK_SIZE)
        try:
            with received.open("rb") as f:
                document = json.load(f)
        except (ValueError, UnicodeDecodeError, RecursionError) as err:
            raise InvalidInput(f"The span data of trace {trace_id} is not JSON: {err}.") from err
        if not isinstance(document, dict) or not isinstance(document.get("spans", []), list):
            raise InvalidInput(
                f"The span data of trace {trace_id} must be a JSON object with a 'spans' list."
            )
        ref = blobs.put_file(received, label=f"{trace_id}/{TRACE_DATA_FILE}")
    traces.attach_data(trace_id, sha256=ref.sha256, size=ref.size)


@router.put(_TRACE_FILE)
async def upload_trace_data(
    experiment_id: str,
    trace_id: str,
    path: str,
    request: Request,
    traces: Traces,
    blobs: Blobs,
    config: Config,
) -> Empty:
    def receive(body: BinaryIO) -> None:  # in a worker thread, like every store call
        _trace_in(traces, experiment_id, trace_id, path)
        _store_trace_data(blobs, traces, trace_id, body)

    await consume_body(request, limit=config.max_body_bytes, consumer=receive)
    return {}


@router.get(_TRACE_FILE, response_class=StreamingResponse)
def download_trace_data(
    experiment_id: str, trace_id: str, path: str, traces: Traces, blobs: Blobs
) -> StreamingResponse:
    trace = _trace_in(traces, experiment_id, trace_id, path)
    if trace.data_sha256 is None:
        raise NotFound(f"Trace {trace_id} has no span data yet: the client uploads it when the trace ends.")
    label = f"{trace_id}/{TRACE_DATA_FILE}"
    return stream_blob(
        blobs, trace.data_sha256, label=label, size=trace.data_size, media_type="application/json"
    )
