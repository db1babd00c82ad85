"""MLflow tracing with the official client against a live ``loopml server``: trace, get, search, tag."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.config import Settings
from loopml.security.auth import AuthService, Resource, ResourceKind, Role
from loopml.server.background import serve_in_thread
from loopml.store.sql import open_store
from tests.server.mlflow.conftest import MlflowRunner, run_mlflow

pytestmark = pytest.mark.slow

#: mlflow 3.1's span processors export nothing with OpenTelemetry SDK 1.41+ (see requirements.txt).
SDK_CHECK = r"""
from importlib.metadata import version
assert tuple(int(p) for p in version("opentelemetry-sdk").split(".")[:2]) < (1, 41), (
    "mlflow 3.1 exports no trace with opentelemetry-sdk " + version("opentelemetry-sdk")
    + ": rebuild the client venv from tests/server/mlflow/requirements.txt"
)
"""

TRACE = (
    SDK_CHECK
    + r"""
import json, mlflow
from mlflow import MlflowClient

mlflow.set_experiment("traced")

@mlflow.trace
def add(a, b):
    with mlflow.start_span(name="inner") as span:
        span.set_inputs({"a": a})
        span.set_outputs({"sum": a + b})
    return a + b

@mlflow.trace(name="boom")
def fail():
    raise ValueError("no")

add(1, 2)
ok_id = mlflow.get_last_active_trace_id()
try:
    fail()
except ValueError:
    pass
error_id = mlflow.get_last_active_trace_id()
with mlflow.start_run() as run:
    add(3, 4)
run_trace_id = mlflow.get_last_active_trace_id()

client = MlflowClient()
trace = client.get_trace(ok_id)
spans = sorted((s.name, s.parent_id is None, s.inputs, s.outputs) for s in trace.data.spans)
experiment_id = mlflow.get_experiment_by_name("traced").experiment_id
found = mlflow.search_traces(experiment_ids=[experiment_id], return_type="list")
errors = mlflow.search_traces(
    experiment_ids=[experiment_id], filter_string="attributes.status = 'ERROR'", return_type="list"
)
of_run = mlflow.search_traces(experiment_ids=[experiment_id], run_id=run.info.run_id, return_type="list")
oldest = mlflow.search_traces(
    experiment_ids=[experiment_id], order_by=["timestamp_ms ASC"], return_type="list"
)
first = client.search_traces(experiment_ids=[experiment_id], max_results=2)
rest = client.search_traces(experiment_ids=[experiment_id], max_results=2, page_token=first.token)

client.set_trace_tag(ok_id, "reviewed", "yes")
tagged = mlflow.search_traces(
    experiment_ids=[experiment_id], filter_string="tags.reviewed = 'yes'", return_type="list"
)
client.delete_trace_tag(ok_id, "reviewed")
untagged = client.get_trace(ok_id).info.tags

deleted = client.delete_traces(experiment_id, trace_ids=[error_id])
left = [t.info.trace_id for t in mlflow.search_traces(experiment_ids=[experiment_id], return_type="list")]
print(json.dumps({
    "ids": [ok_id, error_id, run_trace_id],
    "state": trace.info.state.value,
    "duration": trace.info.execution_duration is not None,
    "request_preview": trace.info.request_preview,
    "response_preview": trace.info.response_preview,
    "name": trace.info.tags.get("mlflow.traceName"),
    "spans": spans,
    "found": [t.info.trace_id for t in found],
    "found_spans": [len(t.data.spans) for t in found],
    "errors": [t.info.trace_id for t in errors],
    "of_run": [t.info.trace_id for t in of_run],
    "oldest": [t.info.trace_id for t in oldest],
    "pages": [[t.info.trace_id for t in first], [t.info.trace_id for t in rest], rest.token],
    "tagged": [t.info.trace_id for t in tagged],
    "untagged": "reviewed" in untagged,
    "deleted": deleted,
    "left": left,
    "experiment_id": experiment_id,
}))
"""
)


def test_traces_round_trip_with_spans_search_tags_and_deletion(mlflow: MlflowRunner, loopml_url: str) -> None:
    out = mlflow(TRACE)
    ok_id, error_id, run_trace_id = out["ids"]
    assert ok_id.startswith("tr-") and len({ok_id, error_id, run_trace_id}) == 3
    assert out["state"] == "OK" and out["duration"] and out["name"] == "add"
    assert '"a": 1' in out["request_preview"] and out["response_preview"] == "3"
    assert out["spans"] == [["add", True, {"a": 1, "b": 2}, 3], ["inner", False, {"a": 1}, {"sum": 3}]]
    assert out["found"] == [run_trace_id, error_id, ok_id]  # newest first, each with its spans
    assert out["found_spans"] == [2, 1, 2]
    assert out["errors"] == [error_id]
    assert out["of_run"] == [run_trace_id]
    assert out["oldest"] == [ok_id, error_id, run_trace_id]
    assert out["pages"][0] == [run_trace_id, error_id] and out["pages"][1:] == [[ok_id], None]
    assert out["tagged"] == [ok_id] and out["untagged"] is False
    assert out["deleted"] == 1 and out["left"] == [run_trace_id, ok_id]
    # the span data is a content-addressed blob behind the artifact proxy, a JSON object of spans
    data = httpx.get(
        f"{loopml_url}/api/2.0/mlflow-artifacts/artifacts/{out['experiment_id']}/traces/{ok_id}/artifacts/traces.json"
    )
    assert data.status_code == 200 and [s["name"] for s in data.json()["spans"]] == ["add", "inner"]


V3 = r"""
import json, mlflow
from mlflow.entities import Trace, TraceData, TraceInfo
from mlflow.entities.trace_location import TraceLocation
from mlflow.entities.trace_state import TraceState
from mlflow.tracing.client import TracingClient

experiment_id = mlflow.set_experiment("traced-v3").experiment_id
info = TraceInfo(
    trace_id="tr-" + "ab" * 16,
    trace_location=TraceLocation.from_experiment_id(experiment_id),
    request_time=1_700_000_000_123,
    execution_duration=456,
    state=TraceState.OK,
    request_preview='{"q": 1}',
    response_preview="2",
    client_request_id="call-7",
    trace_metadata={"mlflow.trace_schema.version": "3"},
    tags={"team": "ml"},
)
client = TracingClient()
created = client.start_trace_v3(Trace(info, TraceData(spans=[])))
again = client.get_trace_info(created.trace_id, should_query_v3=True)
print(json.dumps({
    "created": [created.trace_id, created.request_time, created.execution_duration, created.state.value],
    "again": [again.trace_id, again.client_request_id, again.request_preview, again.tags.get("team")],
    "location": again.tags.get("mlflow.artifactLocation"),
}))
"""


def test_mlflow_3_traces_are_created_and_read_in_the_3_0_shape(mlflow: MlflowRunner) -> None:
    out = mlflow(V3)
    trace_id = "tr-" + "ab" * 16
    assert out["created"] == [trace_id, 1_700_000_000_123, 456, "OK"]
    assert out["again"] == [trace_id, "call-7", '{"q": 1}', "ml"]
    assert out["location"].startswith("mlflow-artifacts:/") and out["location"].endswith(
        f"/traces/{trace_id}/artifacts"
    )


ERRORS = r"""
import json
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient()
out = {}
for name, call in {
    "missing": lambda: client.get_trace("tr-" + "0" * 32),
    "filter": lambda: client.search_traces(experiment_ids=["0"], filter_string="attributes.colour = 'red'"),
    "order": lambda: client.search_traces(experiment_ids=["0"], order_by=["colour DESC"]),
}.items():
    try:
        call()
        out[name] = None
    except MlflowException as err:
        out[name] = [err.error_code, err.message[:300]]
print(json.dumps(out))
"""


def test_trace_errors_use_mlflow_codes_and_say_what_to_do(mlflow: MlflowRunner, loopml_url: str) -> None:
    out = mlflow(ERRORS)
    assert out["missing"][0] == "RESOURCE_DOES_NOT_EXIST" and "No trace with id" in out["missing"][1]
    assert (
        out["filter"][0] == "INVALID_PARAMETER_VALUE"
        and "Unknown trace attribute 'attributes.colour'" in out["filter"][1]
    )
    assert out["order"][0] == "INVALID_PARAMETER_VALUE" and "timestamp_ms" in out["order"][1]
    # the client never sends the server's artifact-location tag; other callers are refused it
    tag = httpx.patch(
        f"{loopml_url}/api/2.0/mlflow/traces/tr-{'0' * 32}/tags",
        json={"key": "mlflow.artifactLocation", "value": "mlflow-artifacts:/elsewhere"},
    )
    assert tag.status_code == 400 and tag.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "mlflow.artifactLocation" in tag.json()["message"]


# --- grants ---

OWN_TRACE = (
    SDK_CHECK
    + r"""
import json, mlflow
mlflow.set_experiment("private-traces")

@mlflow.trace
def secret(x):
    return x * 2

secret(21)
experiment_id = mlflow.get_experiment_by_name("private-traces").experiment_id
print(json.dumps([mlflow.get_last_active_trace_id(), experiment_id]))
"""
)

READ_TRACE = r"""
import json
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.tracing.client import TracingClient
out = {}
client = MlflowClient()
for name, call in {
    "get": lambda: client.get_trace("%(trace)s").info.trace_id,
    "search": lambda: [t.info.trace_id for t in client.search_traces(experiment_ids=["%(experiment)s"])],
    "tag": lambda: client.set_trace_tag("%(trace)s", "k", "v"),
    "start": lambda: TracingClient().start_trace("%(experiment)s", 0, {}, {}).experiment_id,
    "delete": lambda: client.delete_traces("%(experiment)s", trace_ids=["%(trace)s"]),
}.items():
    try:
        out[name] = ["ok", call()]
    except MlflowException as err:
        out[name] = [err.error_code, err.get_http_status_code()]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("mlflow-traces-auth")
    store = open_store(Settings(home=home).resolved_store_url())
    auth = AuthService(store)
    tokens = {}
    for name, role in (("ed", Role.EDITOR), ("other", Role.EDITOR)):
        auth.create_user(name, role=role)
        tokens[name] = auth.create_token(name)[1]
    store.close()
    with serve_in_thread(Settings(home=home), auth_enabled=True) as url:
        yield url, tokens, home


def test_traces_follow_their_experiment_s_grants_and_denials_are_audited(
    mlflow_python: Path, secured: tuple[str, dict[str, str], Path]
) -> None:
    url, tokens, home = secured
    as_ed, as_other = ({"MLFLOW_TRACKING_TOKEN": tokens[u]} for u in ("ed", "other"))
    trace_id, experiment_id = run_mlflow(mlflow_python, OWN_TRACE, uri=url, env=as_ed)
    store = open_store(Settings(home=home).resolved_store_url())
    try:
        AuthService(store).grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key=experiment_id), "write")
        values = {"trace": trace_id, "experiment": experiment_id}
        theirs = run_mlflow(mlflow_python, READ_TRACE % values, uri=url, env=as_other)
        refused = store.identity.list_audit_events(actor="other", limit=50)
        untouched = [(t.trace_id, dict(t.tags)) for t in store.traces.search([experiment_id]).items]
        mine = run_mlflow(mlflow_python, READ_TRACE % values, uri=url, env=as_ed)
    finally:
        store.close()
    assert theirs == {
        name: ["PERMISSION_DENIED", 403] for name in ("get", "search", "tag", "start", "delete")
    }
    assert untouched == [(trace_id, {"mlflow.traceName": "secret"})]
    denied = {e.action: e.target for e in refused if e.result == "forbidden"}
    assert denied == {
        "mlflow.traces.get_info": f"trace:{trace_id}",
        "mlflow.traces.search": f"experiment:{experiment_id}",
        "mlflow.traces.set_tag": f"trace:{trace_id}",
        "mlflow.traces.start": f"experiment:{experiment_id}",
        "mlflow.traces.delete": f"experiment:{experiment_id}",
    }
    assert mine == {
        "get": ["ok", trace_id],
        "search": ["ok", [trace_id]],
        "tag": ["ok", None],
        "start": ["ok", experiment_id],
        "delete": ["ok", 1],
    }
