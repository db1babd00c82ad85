"""The gRPC protocol definition against Triton's compiled one, and the typed/raw tensor coding."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf.descriptor import Descriptor
from tritonclient.grpc import service_pb2 as tpb

from loopml.errors import InvalidInput
from loopml.serving.protocols import grpc_predict_v2_pb2 as pb
from loopml.serving.protocols._grpc_tensors import decode_contents, encode_outputs, request_tensors
from loopml.serving.protocols._v2_tensors import DATATYPES

_MESSAGES = [
    "ServerLiveRequest",
    "ServerLiveResponse",
    "ServerReadyRequest",
    "ServerReadyResponse",
    "ModelReadyRequest",
    "ModelReadyResponse",
    "ServerMetadataRequest",
    "ServerMetadataResponse",
    "ModelMetadataRequest",
    "ModelMetadataResponse",
    "ModelInferRequest",
    "ModelInferResponse",
    "InferParameter",
    "InferTensorContents",
]


def _fields(message: Descriptor) -> dict[str, object]:
    """Every field (nested messages too) as name → (number, type, repeated, message type name)."""
    found: dict[str, object] = {}
    for field in message.fields:
        kind = field.message_type.full_name if field.message_type else None
        repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
        found[field.name] = (field.number, field.type, repeated, kind)
    for nested in message.nested_types:
        found[nested.name] = _fields(nested)
    return found


@pytest.mark.parametrize("name", _MESSAGES)
def test_messages_match_tritons_compiled_protocol(name: str) -> None:
    ours = pb.DESCRIPTOR.message_types_by_name[name]
    theirs = tpb.DESCRIPTOR.message_types_by_name[name]
    assert ours.full_name == theirs.full_name == f"inference.{name}"
    assert _fields(ours) == _fields(theirs)


def test_service_methods_match_what_tritonclient_calls() -> None:
    ours = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    theirs = tpb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert ours.full_name == theirs.full_name == "inference.GRPCInferenceService"
    for method in ours.methods:
        twin = theirs.methods_by_name[method.name]
        assert (method.input_type.full_name, method.output_type.full_name) == (
            twin.input_type.full_name,
            twin.output_type.full_name,
        )
    assert {m.name for m in ours.methods} == {
        "ServerLive",
        "ServerReady",
        "ModelReady",
        "ServerMetadata",
        "ModelMetadata",
        "ModelInfer",
    }


@pytest.mark.parametrize("datatype", [d for d in DATATYPES if d not in ("FP16", "BYTES")])
def test_typed_and_raw_outputs_round_trip_every_datatype(datatype: str) -> None:
    values = np.array([[0, 1, 1], [1, 0, 1]]).astype(DATATYPES[datatype])
    for raw in (False, True):
        response = pb.ModelInferResponse()
        encode_outputs(response, [("out", values)], raw=raw)
        (out,) = response.outputs
        assert (out.datatype, list(out.shape)) == (datatype, [2, 3])
        assert bool(response.raw_output_contents) is raw
        request = pb.ModelInferRequest(
            inputs=[pb.ModelInferRequest.InferInputTensor(name="x", datatype=datatype, shape=[2, 3])],
            raw_input_contents=response.raw_output_contents,
        )
        if not raw:
            request.inputs[0].contents.CopyFrom(out.contents)
        decoded = request_tensors(request)["x"]
        assert decoded.dtype == values.dtype
        np.testing.assert_array_equal(decoded, values)


def test_fp16_outputs_force_raw_for_the_whole_response() -> None:
    response = pb.ModelInferResponse()
    encode_outputs(response, [("a", np.ones(2)), ("b", np.ones(2, dtype=np.float16))], raw=False)
    assert len(response.raw_output_contents) == 2 and not response.outputs[0].HasField("contents")


def test_bytes_outputs_are_utf8() -> None:
    response = pb.ModelInferResponse()
    encode_outputs(response, [("label", np.array(["oui", "né"], dtype=object))], raw=False)
    assert list(response.outputs[0].contents.bytes_contents) == [b"oui", "né".encode()]


@pytest.mark.parametrize(
    ("datatype", "contents", "message"),
    [
        ("UINT8", {"uint_contents": [256]}, "outside the range of UINT8"),
        ("INT16", {"int_contents": [-40000]}, "outside the range of INT16"),
        ("BOOL", {"int_contents": [1]}, "sets int_contents; put its values in bool_contents"),
        ("FP16", {}, "no typed contents field"),
        ("FP32", {"fp32_contents": [1.0, 2.0]}, "(1 values) but fp32_contents holds 2"),
    ],
)
def test_bad_typed_contents_name_the_input(
    datatype: str, contents: dict[str, list[object]], message: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_contents("x", datatype, (1,), pb.InferTensorContents(**contents))
    assert message in str(err.value) and "'x'" in str(err.value)


def test_mixing_raw_and_typed_inputs_is_refused() -> None:
    request = pb.ModelInferRequest(
        inputs=[
            pb.ModelInferRequest.InferInputTensor(
                name="x", datatype="FP64", shape=[1], contents=pb.InferTensorContents(fp64_contents=[1.0])
            )
        ],
        raw_input_contents=[np.ones(1).tobytes()],
    )
    with pytest.raises(InvalidInput, match="send every input one way"):
        request_tensors(request)
