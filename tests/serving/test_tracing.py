"""OpenTelemetry traces: a span per inference request with validate / queue / predict / log children
(a deployment's also route and shadow), a caller's W3C traceparent followed, every protocol traced,
nothing recorded when tracing is off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from loopml.deploy.spec import ABArm, ABSplit, Canary, DeploymentSpec, Shadow
from loopml.errors import InvalidInput
from loopml.serving import AppOptions, DataPlane, ModelRepository, ModelSource, create_app
from loopml.serving.background import serve_in_thread
from loopml.serving.config import ServeConfig
from loopml.serving.deployments import DeploymentRuntime
from loopml.serving.grpc_server import GrpcOptions, attach_grpc
from loopml.serving.metrics import ServingMetrics
from loopml.serving.tracing import Tracing, TracingConfig
from tests.serving.conftest import Models
from tests.serving.deploy_world import World, make_world, row
from tests.serving.test_guards import _serve

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _tracing(exporter: InMemorySpanExporter) -> Tracing:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider)


def _v2(models: Models, rows: int = 2) -> dict[str, object]:
    x = models.numeric_x[:rows]
    return {
        "inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP64", "data": x.reshape(-1).tolist()}]
    }


def test_a_request_span_with_its_stages_as_children_of_the_callers_trace(
    models: Models, exporter: InMemorySpanExporter
) -> None:
    options = AppOptions(tracing=_tracing(exporter))
    with _serve(models, ModelSource(uri="models:/numeric@champion"), options=options) as client:
        r = client.post("/v2/models/numeric/infer", json=_v2(models), headers={"traceparent": TRACEPARENT})
        assert r.status_code == 200
    spans = {s.name: s for s in exporter.get_finished_spans()}
    request = spans["POST v2"]
    assert f"{request.context.trace_id:032x}" == CALLER_TRACE  # continues the caller's trace
    assert f"{request.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert (
        request.attributes["loopml.model"] == "numeric"
        and request.attributes["http.response.status_code"] == 200
    )
    stages = ["validate", "queue", "predict", "log"]
    for name in stages:
        child = spans[name]
        assert (
            child.parent.span_id == request.context.span_id
            and child.context.trace_id == request.context.trace_id
        )
        assert request.start_time <= child.start_time <= child.end_time <= request.end_time, name
    assert spans["predict"].attributes["rows"] == 2
    ordered = sorted(stages, key=lambda n: spans[n].start_time)
    assert ordered == stages


def test_every_protocol_is_traced_and_refusals_carry_their_status(
    models: Models, exporter: InMemorySpanExporter
) -> None:
    options = AppOptions(tracing=_tracing(exporter))
    x = models.numeric_x[:1].tolist()
    with _serve(models, ModelSource(uri="models:/numeric@champion"), options=options) as client:
        assert client.post("/v1/models/numeric:predict", json={"instances": x}).status_code == 200
        assert client.post("/invocations", json={"instances": x}).status_code == 200
        assert client.post("/v2/models/numeric/infer", json={"inputs": []}).status_code == 400
        client.get("/v2/health/ready")  # not an inference: no span
    requests = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert sorted(s.name for s in requests) == ["POST mlflow", "POST tfserving", "POST v2"]
    refused = next(s for s in requests if s.name == "POST v2")
    assert refused.attributes["http.response.status_code"] == 400


def test_off_by_default_and_nothing_recorded(models: Models, exporter: InMemorySpanExporter) -> None:
    with _serve(models, ModelSource(uri="models:/numeric@champion")) as client:
        assert client.post("/v2/models/numeric/infer", json=_v2(models)).status_code == 200
    assert exporter.get_finished_spans() == ()


def test_serve_yaml_tracing_is_checked() -> None:
    config = ServeConfig.from_mapping(
        {
            "models": ["models:/m/1"],
            "tracing": {"otlp_endpoint": "http://127.0.0.1:4318/v1/traces", "sample_ratio": 0.5},
        }
    )
    assert config.tracing == TracingConfig(otlp_endpoint="http://127.0.0.1:4318/v1/traces", sample_ratio=0.5)
    assert Tracing.from_config(config.tracing).enabled
    with pytest.raises(InvalidInput, match=r"tracing\.endpoint"):
        ServeConfig.from_mapping({"models": ["models:/m/1"], "tracing": {"endpoint": "http://x"}})
    with pytest.raises(InvalidInput, match="sample_ratio must be a number from 0 to 1"):
        TracingConfig(otlp_endpoint="http://x", sample_ratio=2)
    with pytest.raises(InvalidInput, match="must be an http"):
        TracingConfig(otlp_endpoint="collector:4318")


@contextmanager
def _serve_deployment(
    world: World, tracing: Tracing, metrics: ServingMetrics | None = None
) -> Iterator[tuple[httpx.Client, str]]:
    """Deployment ``churn`` over REST (the client) and gRPC (the target address)."""
    runtime = DeploymentRuntime(
        ["churn"], service=world.services.deployments, registry=world.services.registry
    )
    runtime.load()
    plane = DataPlane(ModelRepository([]), deployments=runtime)
    metrics = metrics or ServingMetrics()
    app = create_app(plane, metrics=metrics, options=AppOptions(tracing=tracing))
    attach_grpc(app, plane, metrics=metrics, authenticator=None, options=GrpcOptions(port=0))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client, f"127.0.0.1:{app.state.grpc_port}"


def _requests(metrics: ServingMetrics, protocol: str, version: str) -> float:
    labels = {"model": "churn", "version": version, "protocol": protocol, "status": "200"}
    return metrics.registry.get_sample_value("loopml_serving_requests_total", labels) or 0.0


def test_a_canary_answering_every_request_is_the_version_on_its_span_and_in_the_request_counter(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    spec = DeploymentSpec(
        name="churn", primary="models:/churn@champion", canary=Canary(target="models:/churn/2", weight=100)
    )
    metrics = ServingMetrics()
    values = {entry["name"]: entry["data"][0] for entry in row(0)["inputs"]}
    for world in make_world(tmp_path):
        world.services.deployments.create(spec, None, actor="ann")
        with _serve_deployment(world, _tracing(exporter), metrics) as (client, grpc_target):
            assert client.post("/v2/models/churn/infer", json=row(0)).json()["model_version"] == "2"
            assert client.post("/v1/models/churn:predict", json={"instances": [values]}).status_code == 200
            split = {"dataframe_split": {"columns": list(values), "data": [list(values.values())]}}
            assert client.post("/invocations", json=split).status_code == 200
            with triton.InferenceServerClient(grpc_target) as grpc_client:
                inputs = []
                for name, value in values.items():
                    tensor = triton.InferInput(name, [1], "FP64")
                    tensor.set_data_from_numpy(np.array([value]))
                    inputs.append(tensor)
                answer = grpc_client.infer("churn", inputs)
                assert answer.get_response().model_version == "2"
    requests = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert len(requests) == 3  # the REST protocols are traced
    for request in requests:
        assert request.attributes["loopml.route"] == "canary", request.name
        assert request.attributes["loopml.version"] == "2", request.name
    for protocol in ("v2", "tfserving", "mlflow", "grpc"):
        assert _requests(metrics, protocol, "2") == 1, protocol
        assert _requests(metrics, protocol, "1") == 0, protocol  # not the primary's


def test_a_deployment_request_has_the_stages_plus_its_route_and_shadows(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    spec = DeploymentSpec(
        name="churn",
        primary="models:/churn@champion",
        canary=Canary(target="models:/churn/2", weight=50),
        shadows=(Shadow(name="twin", target="models:/churn/1"),),
    )
    for world in make_world(tmp_path):
        world.services.deployments.create(spec, None, actor="ann")
        with _serve_deployment(world, _tracing(exporter)) as (client, _):
            for i in range(12):
                body = {**row(i), "id": f"request-{i}"}
                assert client.post("/v2/models/churn/infer", json=body).status_code == 200
    spans = exporter.get_finished_spans()
    requests = [s for s in spans if s.parent is None]
    assert len(requests) == 12
    routes = set()
    for request in requests:
        children = {
            s.name: s for s in spans if s.parent is not None and s.parent.span_id == request.context.span_id
        }
        stages = ["validate", "route", "queue", "predict", "shadow", "log"]
        assert sorted(children) == sorted(stages)
        assert sorted(stages, key=lambda n: children[n].start_time) == stages
        for child in children.values():
            assert request.start_time <= child.start_time <= child.end_time <= request.end_time, child.name
            assert child.attributes["loopml.deployment"] == "churn"
        route = children["route"].attributes["loopml.route"]
        version = "1" if route == "primary" else "2"
        routes.add(route)
        assert (
            request.attributes["loopml.deployment"] == "churn" and request.attributes["loopml.route"] == route
        )
        for stage in ("route", "validate", "queue", "predict"):
            assert children[stage].attributes["loopml.route"] == route, stage
            assert children[stage].attributes["loopml.version"] == version, stage
        shadow = children["shadow"].attributes
        assert shadow["loopml.shadow"] == "twin" and shadow["loopml.version"] == "1" and shadow["queued"]
    assert routes == {"primary", "canary"}


def test_a_request_split_over_ab_arms_traces_each_arms_stages(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    arms = (
        ABArm(name="a", target="models:/churn/1", weight=50),
        ABArm(name="b", target="models:/churn/2", weight=50),
    )
    spec = DeploymentSpec(name="churn", primary="models:/churn/1", ab=ABSplit(key="a", arms=arms))
    keys = [float(k) for k in range(40)]  # the input field "a" is the A/B key, row by row
    body = {
        "inputs": [
            {
                "name": c,
                "shape": [len(keys)],
                "datatype": "FP64",
                "data": keys if c == "a" else [0.5] * len(keys),
            }
            for c in ("a", "b", "c")
        ]
    }
    metrics = ServingMetrics()
    for world in make_world(tmp_path):
        world.services.deployments.create(spec, None, actor="ann")
        with _serve_deployment(world, _tracing(exporter), metrics) as (client, _):
            assert client.post("/v2/models/churn/infer", json=body).status_code == 200
    spans = exporter.get_finished_spans()
    (request,) = [s for s in spans if s.parent is None]
    assert set(str(request.attributes["loopml.route"]).split(",")) == {"a", "b"}
    assert set(str(request.attributes["loopml.version"]).split(",")) == {"1", "2"}
    assert _requests(metrics, "v2", "1") == _requests(metrics, "v2", "2") == 1  # counted per arm
    predicted = {s.attributes["loopml.route"]: s.attributes for s in spans if s.name == "predict"}
    assert predicted["a"]["loopml.version"] == "1" and predicted["b"]["loopml.version"] == "2"
    assert predicted["a"]["rows"] + predicted["b"]["rows"] == len(keys)
    assert sorted(s.attributes["loopml.route"] for s in spans if s.name == "validate") == ["a", "b"]
    (route,) = [s for s in spans if s.name == "route"]
    assert route.attributes["parts"] == 2
