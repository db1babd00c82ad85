"""OpenTelemetry traces: a span per inference request with validate / queue / predict / log children,
a caller's W3C traceparent followed, every protocol traced, nothing recorded when tracing is off."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from loopml.errors import InvalidInput
from loopml.serving import AppOptions, ModelSource
from loopml.serving.config import ServeConfig
from loopml.serving.tracing import Tracing, TracingConfig
from tests.serving.conftest import Models
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
