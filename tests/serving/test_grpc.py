"""Open Inference Protocol over gRPC with real clients: ``tritonclient.grpc`` and Triton's own stubs.

``tritonclient.grpc`` sends raw tensors (``raw_input_contents``); typed ``contents`` are sent
with the compiled Triton stubs that ship with tritonclient (a second, independent copy of the
protocol definition).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2 as tpb
from tritonclient.grpc import service_pb2_grpc as tstubs
from tritonclient.utils import InferenceServerException

from loopml.security.audit import AuditLog
from loopml.security.auth import AuthService, Resource, ResourceKind
from loopml.serving import (
    AppOptions,
    DataPlane,
    InferenceResult,
    ModelInput,
    ModelRepository,
    ModelSource,
    ServingMetrics,
    create_app,
    load_served_model,
)
from loopml.serving._auth import RequestAuthenticator
from loopml.serving.background import serve_in_thread
from loopml.serving.grpc_server import GrpcOptions, attach_grpc
from loopml.serving.guards import ModelGuards, QueryLimits
from loopml.store.sql import open_store
from tests.serving.conftest import Models


@dataclass
class Recorded:
    """What the data plane's sink saw: (protocol, principal, request id) per answered request."""

    calls: list[tuple[str, str | None, str]]

    def record(
        self, result: InferenceResult, rows: ModelInput, *, protocol: str, principal: str | None
    ) -> None:
        self.calls.append((protocol, principal, result.request_id))

    def close(self) -> None:
        pass


@dataclass
class Served:
    http_url: str
    grpc_target: str
    metrics: ServingMetrics
    sink: Recorded


@contextmanager
def grpc_serving(
    models: Models,
    *sources: ModelSource,
    authenticator: RequestAuthenticator | None = None,
    options: GrpcOptions | None = None,
    audit: AuditLog | None = None,
    guards: Mapping[str, ModelGuards] | None = None,
) -> Iterator[Served]:
    """REST and gRPC over one data plane, as ``loopml serve --grpc-port`` runs them."""
    sink = Recorded(calls=[])
    plane = DataPlane(
        ModelRepository([load_served_model(s, registry=models.registry) for s in sources]),
        sinks=[sink],
        guards=guards,
    )
    metrics = ServingMetrics()
    app = create_app(plane, metrics=metrics, options=AppOptions(authenticator=authenticator, audit=audit))
    attach_grpc(
        app,
        plane,
        metrics=metrics,
        authenticator=authenticator,
        options=options or GrpcOptions(port=0),
        audit=audit,
    )
    with serve_in_thread(app) as url:
        yield Served(http_url=url, grpc_target=f"127.0.0.1:{app.state.grpc_port}", metrics=metrics, sink=sink)


@pytest.fixture(scope="module")
def served(models: Models) -> Iterator[Served]:
    with grpc_serving(
        models,
        ModelSource(uri="models:/numeric@champion"),
        ModelSource(uri="models:/mixed@champion"),
        ModelSource(uri="models:/price@staging"),
    ) as s:
        yield s


@pytest.fixture
def tc(served: Served) -> Iterator[triton.InferenceServerClient]:
    c = triton.InferenceServerClient(served.grpc_target)
    yield c
    c.close()


@pytest.fixture
def stub(served: Served) -> Iterator[tstubs.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(served.grpc_target) as channel:
        yield tstubs.GRPCInferenceServiceStub(channel)


def _column_inputs(x: np.ndarray) -> list[triton.InferInput]:
    inputs = []
    for i, name in enumerate("abcd"):
        tensor = triton.InferInput(name, [len(x)], "FP64")
        tensor.set_data_from_numpy(np.ascontiguousarray(x[:, i]))
        inputs.append(tensor)
    return inputs


def _status(err: pytest.ExceptionInfo[InferenceServerException]) -> str:
    return str(err.value.status())


def test_health_and_metadata(tc: triton.InferenceServerClient) -> None:
    assert tc.is_server_live() and tc.is_server_ready()
    assert tc.is_model_ready("numeric") and tc.is_model_ready("numeric", "1")
    server = tc.get_server_metadata()
    assert server.name == "loopml" and server.version
    meta = tc.get_model_metadata("mixed", as_json=True)
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("age", "INT64"),
        ("income", "FP64"),
        ("city", "BYTES"),
    ]
    assert [(o["name"], o["shape"]) for o in meta["outputs"]] == [
        ("predict", ["-1"]),
        ("predict_proba", ["-1", "2"]),
    ]
    assert meta["versions"] == ["1"] and meta["platform"] == "loopml-sklearn"


def test_raw_infer_matches_the_model_and_echoes_the_id(
    tc: triton.InferenceServerClient, models: Models, served: Served
) -> None:
    x = models.numeric_x[:7]
    result = tc.infer("numeric", _column_inputs(x), request_id="req-g1")
    response = result.get_response()
    assert (response.id, response.model_name, response.model_version) == ("req-g1", "numeric", "1")
    assert len(response.raw_output_contents) == 2  # raw in, raw out
    np.testing.assert_array_equal(result.as_numpy("predict"), models.numeric.predict(x))
    np.testing.assert_allclose(result.as_numpy("predict_proba"), models.numeric.predict_proba(x))
    assert ("grpc", None, "req-g1") in served.sink.calls  # the same data plane, the same sinks


def test_requested_outputs_version_and_matrix_tensor(
    tc: triton.InferenceServerClient, models: Models
) -> None:
    x = models.numeric_x[:5]
    tensor = triton.InferInput("input-0", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x.astype(np.float32))
    outputs = [triton.InferRequestedOutput("predict_proba")]
    result = tc.infer("numeric", [tensor], outputs=outputs, model_version="1")
    assert [o.name for o in result.get_response().outputs] == ["predict_proba"]
    assert result.as_numpy("predict") is None
    np.testing.assert_allclose(
        result.as_numpy("predict_proba"), models.numeric.predict_proba(x.astype(np.float32))
    )


def test_bytes_inputs_for_the_column_path(tc: triton.InferenceServerClient, models: Models) -> None:
    frame = models.mixed_frame.head(6)
    age = triton.InferInput("age", [6], "INT64")
    age.set_data_from_numpy(frame["age"].to_numpy())
    income = triton.InferInput("income", [6], "FP64")
    income.set_data_from_numpy(frame["income"].to_numpy())
    city = triton.InferInput("city", [6], "BYTES")
    city.set_data_from_numpy(frame["city"].to_numpy().astype(object))
    result = tc.infer("mixed", [age, income, city])
    expected = models.mixed.predict(models.mixed_transform.transform(frame))
    assert [v.decode() for v in result.as_numpy("predict")] == list(expected)


def _typed(
    name: str, datatype: str, shape: list[int], **contents: object
) -> tpb.ModelInferRequest.InferInputTensor:
    return tpb.ModelInferRequest.InferInputTensor(
        name=name, datatype=datatype, shape=shape, contents=tpb.InferTensorContents(**contents)
    )


def test_typed_contents_in_and_out(stub: tstubs.GRPCInferenceServiceStub, models: Models) -> None:
    frame = models.mixed_frame.head(4)
    request = tpb.ModelInferRequest(
        model_name="mixed",
        id="typed-1",
        inputs=[
            _typed("age", "INT64", [4], int64_contents=frame["age"].tolist()),
            _typed("income", "FP64", [4, 1], fp64_contents=frame["income"].tolist()),
            _typed("city", "BYTES", [4], bytes_contents=[c.encode() for c in frame["city"]]),
        ],
    )
    response = stub.ModelInfer(request)
    assert not response.raw_output_contents and response.id == "typed-1"
    predict, proba = response.outputs
    assert (predict.datatype, list(predict.shape)) == ("BYTES", [4])
    expected = models.mixed.predict(models.mixed_transform.transform(frame))
    assert [v.decode() for v in predict.contents.bytes_contents] == list(expected)
    assert (proba.datatype, list(proba.shape)) == ("FP64", [4, 2])
    np.testing.assert_allclose(
        np.array(proba.contents.fp64_contents).reshape(4, 2),
        models.mixed.predict_proba(models.mixed_transform.transform(frame)),
    )
    x = models.numeric_x[:3]
    ints = np.round(x * 10).astype(np.int32)
    numeric = stub.ModelInfer(
        tpb.ModelInferRequest(
            model_name="numeric",
            inputs=[_typed("m", "INT32", [3, 4], int_contents=ints.reshape(-1).tolist())],
            outputs=[tpb.ModelInferRequest.InferRequestedOutputTensor(name="predict")],
        )
    )
    assert numeric.outputs[0].datatype == "INT64"
    assert list(numeric.outputs[0].contents.int64_contents) == models.numeric.predict(ints).tolist()


def _matrix(
    datatype: str = "FP64", shape: tuple[int, ...] = (1, 4), **contents: object
) -> tpb.ModelInferRequest:
    contents = contents or {"fp64_contents": [1.0, 2.0, 3.0, 4.0]}
    return tpb.ModelInferRequest(
        model_name="numeric", inputs=[_typed("m", datatype, list(shape), **contents)]
    )


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (_matrix(shape=(2, 4)), "INVALID_ARGUMENT", "has shape [2, 4] (8 values) but fp64_contents holds 4"),
        (_matrix("FP99"), "INVALID_ARGUMENT", "datatype 'FP99'"),
        (_matrix("INT8", int_contents=[1000, 1, 2, 3]), "INVALID_ARGUMENT", "outside the range of INT8"),
        (_matrix("INT64", fp64_contents=[1.0, 2, 3, 4]), "INVALID_ARGUMENT", "sets fp64_contents"),
        (_matrix("FP16", fp32_contents=[1.0, 2, 3, 4]), "INVALID_ARGUMENT", "raw_input_contents"),
        (_matrix(shape=(1, 3), fp64_contents=[1.0, 2, 3]), "INVALID_ARGUMENT", "fits neither form"),
        (
            tpb.ModelInferRequest(
                model_name="numeric", inputs=[_typed("a", "FP64", [1], fp64_contents=[1.0])]
            ),
            "INVALID_ARGUMENT",
            "Missing input column(s) ['b', 'c', 'd']",
        ),
        (
            tpb.ModelInferRequest(
                model_name="numeric",
                inputs=[tpb.ModelInferRequest.InferInputTensor(name="m", datatype="FP64", shape=[1, 4])],
                raw_input_contents=[b"\0" * 32, b"\0"],
            ),
            "INVALID_ARGUMENT",
            "raw_input_contents holds 2 entries for 1 inputs",
        ),
        (
            tpb.ModelInferRequest(
                model_name="numeric",
                inputs=[tpb.ModelInferRequest.InferInputTensor(name="m", datatype="FP64", shape=[1, 4])],
                raw_input_contents=[b"\0" * 31],
            ),
            "INVALID_ARGUMENT",
            "needs 32 bytes of binary data; got 31",
        ),
        (
            tpb.ModelInferRequest(
                model_name="mixed",
                inputs=[
                    _typed("age", "INT64", [1], int64_contents=[30]),
                    _typed("income", "FP64", [1], fp64_contents=[1.0]),
                    _typed("city", "BYTES", [1], bytes_contents=[b"\xff\xfe"]),
                ],
            ),
            "INVALID_ARGUMENT",
            "not valid UTF-8",
        ),
        (tpb.ModelInferRequest(model_name="numeric"), "INVALID_ARGUMENT", "no inputs"),
        (tpb.ModelInferRequest(model_name=""), "INVALID_ARGUMENT", "names no model"),
        (tpb.ModelInferRequest(model_name="nope"), "NOT_FOUND", "No model named 'nope'"),
        (
            tpb.ModelInferRequest(model_name="numeric", model_version="9"),
            "NOT_FOUND",
            "no served version '9'",
        ),
    ],
)
def test_bad_requests_map_to_status_codes_naming_the_field(
    stub: tstubs.GRPCInferenceServiceStub, request_: tpb.ModelInferRequest, code: str, message: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.ModelInfer(request_)
    assert err.value.code().name == code  # type: ignore[attr-defined]
    assert message in err.value.details()  # type: ignore[attr-defined]


def test_tritonclient_sees_errors_and_the_server_keeps_serving(
    tc: triton.InferenceServerClient, models: Models, served: Served
) -> None:
    with pytest.raises(InferenceServerException) as err:
        tc.infer("nope", _column_inputs(models.numeric_x[:1]))
    assert _status(err) == "StatusCode.NOT_FOUND" and "No model named 'nope'" in err.value.message()
    with pytest.raises(InferenceServerException) as err:
        tc.is_model_ready("numeric", "7")
    assert _status(err) == "StatusCode.NOT_FOUND"
    bad = triton.InferInput("a", [3], "FP64")
    bad.set_data_from_numpy(np.ones(3))
    bad.set_shape([2])  # 3 values declared as 2
    with pytest.raises(InferenceServerException) as err:
        tc.infer("numeric", [bad])
    assert _status(err) == "StatusCode.INVALID_ARGUMENT" and "needs 16 bytes" in err.value.message()
    with pytest.raises(InferenceServerException, match=r"Unknown output\(s\) \['logits'\]"):
        tc.infer(
            "numeric", _column_inputs(models.numeric_x[:1]), outputs=[triton.InferRequestedOutput("logits")]
        )
    assert tc.infer("numeric", _column_inputs(models.numeric_x[:1])).as_numpy("predict") is not None
    exposition = served.metrics.exposition().decode()
    assert (
        'loopml_serving_requests_total{model="numeric",protocol="grpc",status="400",version="1"}'
        in exposition
    )
    assert 'loopml_serving_requests_total{model="nope",protocol="grpc",status="404",version=""}' in exposition


def test_tokens_guard_grpc_methods_and_leave_health_open(models: Models, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'identity.db'}")
    auth = AuthService(store)
    auth.create_user("ana", role="viewer")
    auth.create_user("bob", role="viewer")
    _, ana = auth.create_token("ana")
    _, bob = auth.create_token("bob")
    auth.grant("bob", Resource(kind=ResourceKind.MODEL, key="price"), "read")
    authenticator = RequestAuthenticator(auth, ttl_s=0)
    x = models.numeric_x[:1]
    with (
        grpc_serving(
            models,
            ModelSource(uri="models:/numeric@champion"),
            ModelSource(uri="models:/price@staging"),
            authenticator=authenticator,
        ) as s,
        triton.InferenceServerClient(s.grpc_target) as tc,
    ):
        assert tc.is_server_live() and tc.is_server_ready()
        with pytest.raises(InferenceServerException) as err:
            tc.infer("numeric", _column_inputs(x))
        assert _status(err) == "StatusCode.UNAUTHENTICATED" and "Bearer" in err.value.message()
        with pytest.raises(InferenceServerException) as err:
            tc.get_model_metadata("numeric", headers={"authorization": "Bearer lml_x_y"})
        assert _status(err) == "StatusCode.UNAUTHENTICATED"
        result = tc.infer("numeric", _column_inputs(x), headers={"authorization": f"Bearer {ana}"})
        np.testing.assert_array_equal(result.as_numpy("predict"), models.numeric.predict(x))
        assert s.sink.calls[-1][:2] == ("grpc", "ana")
        with pytest.raises(InferenceServerException) as err:
            tc.is_model_ready("price", headers={"authorization": f"Bearer {ana}"})
        assert _status(err) == "StatusCode.PERMISSION_DENIED" and "no grant" in err.value.message()
        assert tc.is_model_ready("price", headers={"authorization": f"Bearer {bob}"})
        auth.revoke_token(ana)
        with pytest.raises(InferenceServerException) as err:
            tc.get_server_metadata(headers={"authorization": f"Bearer {ana}"})
        assert _status(err) == "StatusCode.UNAUTHENTICATED" and "revoked" in err.value.message()
    store.close()


def test_limits_count_per_token_and_every_refusal_is_audited(models: Models, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'identity.db'}")
    auth, audit = AuthService(store), AuditLog(store)
    for user in ("ana", "bob"):
        auth.create_user(user, role="viewer")
    _, ana = auth.create_token("ana")
    _, ana2 = auth.create_token("ana")
    _, bob = auth.create_token("bob")
    auth.grant("bob", Resource(kind=ResourceKind.MODEL, key="price"), "read")
    x = models.numeric_x[:1]
    with (
        grpc_serving(
            models,
            ModelSource(uri="models:/numeric@champion"),
            ModelSource(uri="models:/price@staging"),
            authenticator=RequestAuthenticator(auth, ttl_s=0),
            audit=audit,
            guards={"numeric": ModelGuards(limits=QueryLimits(per_minute=2))},
        ) as s,
        triton.InferenceServerClient(s.grpc_target) as tc,
    ):

        def infer(token: str) -> None:
            tc.infer("numeric", _column_inputs(x), headers={"authorization": f"Bearer {token}"})

        infer(ana)
        infer(ana)
        with pytest.raises(InferenceServerException) as err:
            infer(ana)
        assert _status(err) == "StatusCode.RESOURCE_EXHAUSTED" and "2 per minute" in err.value.message()
        infer(ana2)  # another token of the same user has its own count, as over REST
        infer(bob)
        with pytest.raises(InferenceServerException) as err:
            tc.get_model_metadata("price", headers={"authorization": f"Bearer {ana}"})
        assert _status(err) == "StatusCode.PERMISSION_DENIED"
        with pytest.raises(InferenceServerException) as err:
            tc.infer("numeric", _column_inputs(x))
        assert _status(err) == "StatusCode.UNAUTHENTICATED"
    denied = [
        (e.actor, e.target, e.status_code, e.client, e.details["method"], e.details["protocol"])
        for e in audit.list()
        if e.action == "serving.predict"
    ]
    assert sorted(denied, key=str) == sorted(
        [
            ("ana", "model:numeric", 429, "127.0.0.1", "ModelInfer", "grpc"),
            ("ana", "model:price", 403, "127.0.0.1", "ModelMetadata", "grpc"),
            (None, "model:numeric", 401, "127.0.0.1", "ModelInfer", "grpc"),
        ],
        key=str,
    )
    store.close()


def test_messages_over_the_body_limit_are_refused(models: Models) -> None:
    options = GrpcOptions(port=0, max_message_bytes=4096)
    with (
        grpc_serving(models, ModelSource(uri="models:/numeric@champion"), options=options) as s,
        triton.InferenceServerClient(s.grpc_target) as tc,
    ):
        x = np.random.default_rng(0).normal(size=(200, 4))  # 6,400 bytes of raw FP64
        tensor = triton.InferInput("m", list(x.shape), "FP64")
        tensor.set_data_from_numpy(x)
        with pytest.raises(InferenceServerException) as err:
            tc.infer("numeric", [tensor])
        assert _status(err) == "StatusCode.RESOURCE_EXHAUSTED"
        tensor = triton.InferInput("m", [2, 4], "FP64")
        tensor.set_data_from_numpy(x[:2])
        assert tc.infer("numeric", [tensor]).as_numpy("predict").shape == (2,)
