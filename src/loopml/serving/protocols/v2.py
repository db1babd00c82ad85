"""Open Inference Protocol (KServe V2) over REST, with the binary tensor data extension.

Routes: ``/v2``, ``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{m}[/versions/{v}]``,
``.../ready`` and ``.../infer``. Inputs are either one tensor per signature column (shape ``[n]``
or ``[n, 1]``) or a single ``[n, n_columns]`` tensor in signature order.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loopml import __version__
from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput, from_columns, from_matrix
from loopml.inference.model import ServedModel
from loopml.inference.outputs import PREDICT, PROBABILITIES, TOP_K_LABELS, TOP_K_SCORES
from loopml.inference.schema import ColumnKind
from loopml.serving._answers import mark_answer
from loopml.serving._http import (
    BODY_ADVICE,
    Guard,
    Handler,
    json_response,
    mark_model,
    media_type,
    parse_json,
)
from loopml.serving.dataplane import DataPlane, InferenceResult
from loopml.serving.errors import UnsupportedMediaType
from loopml.serving.protocols._v2_tensors import (
    check_datatype,
    check_shape,
    datatype_of,
    decode_binary,
    decode_json,
    encode_binary,
    json_data,
)
from loopml.web.body_limits import read_body

__all__ = ["HEADER_LENGTH", "V2Request", "model_metadata", "parse_infer_request", "routes"]

HEADER_LENGTH = "inference-header-content-length"
PROTOCOL = "v2"
_KIND_DATATYPE = {
    ColumnKind.FLOAT: "FP64",
    ColumnKind.INT: "INT64",
    ColumnKind.BOOL: "BOOL",
    ColumnKind.STRING: "BYTES",
}
_BINARY_TYPES = frozenset({"application/octet-stream", "application/vnd.sagemaker-triton.binary+json"})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestedOutput:
    """One entry of ``outputs`` in an inference request."""

    name: str
    binary: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class V2Request:
    """A parsed inference request: tensors, id, parameters and the outputs asked for."""

    inputs: dict[str, np.ndarray]
    request_id: str | None
    parameters: dict[str, Any]
    outputs: tuple[RequestedOutput, ...] | None
    binary_output: bool


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object; got {type(value).__name__}.")
    return value


def _split_binary(body: bytes, header_length: str) -> tuple[bytes, bytes]:
    if not header_length.strip().isdigit():
        raise InvalidInput(
            f"Inference-Header-Content-Length must be a number of bytes; got {header_length[:40]!r}."
        )
    size = int(header_length)
    if size > len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length is {size} bytes but the body holds only {len(body)}; "
            "send the JSON header's exact length."
        )
    return body[:size], body[size:]


def _requested_outputs(doc: dict[str, Any], default_binary: bool) -> tuple[RequestedOutput, ...] | None:
    raw = doc.get("outputs")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidInput("'outputs' must be a list of {name, parameters}.")
    found = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput(f"outputs[{i}] must be an object with a string 'name'.")
        params = _object(item.get("parameters"), f"outputs[{i}].parameters")
        if params.get("classification"):
            raise InvalidInput(
                f"outputs[{i}] asks for the classification extension, which this server does not offer; "
                f"request '{PROBABILITIES}' (or '{TOP_K_LABELS}' under a top-k policy) instead."
            )
        binary = params.get("binary_data", default_binary)
        if not isinstance(binary, bool):
            raise InvalidInput(f"outputs[{i}].parameters.binary_data must be true or false.")
        found.append(RequestedOutput(name=item["name"], binary=binary))
    return tuple(found)


def parse_infer_request(body: bytes, *, header_length: str | None) -> V2Request:
    """Parse an inference request body (JSON, or JSON header + binary tensors).

    Raises:
        InvalidInput: malformed JSON, a bad tensor (shape, datatype, data), or binary sizes that do
            not add up, naming the input.
    """
    header, binary = _split_binary(body, header_length) if header_length is not None else (body, b"")
    doc = parse_json(header, what="The inference request")
    if not isinstance(doc, dict):
        raise InvalidInput(f"The inference request must be a JSON object; got {type(doc).__name__}.")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput(f"'id' must be a string; got {type(request_id).__name__}.")
    parameters = _object(doc.get("parameters"), "'parameters'")
    binary_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_output, bool):
        raise InvalidInput("parameters.binary_data_output must be true or false.")
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInput("'inputs' must be a non-empty list of tensors {name, shape, datatype, data}.")
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    for i, item in enumerate(raw_inputs):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput(f"inputs[{i}] must be an object with a string 'name'.")
        name = item["name"]
        if name in inputs:
            raise InvalidInput(f"Input {name!r} appears twice in the request.")
        shape = check_shape(name, item.get("shape"))
        datatype = item.get("datatype")
        check_datatype(name, datatype)
        assert isinstance(datatype, str)  # check_datatype refused anything else
        params = _object(item.get("parameters"), f"Input {name!r} parameters")
        size = params.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise InvalidInput(f"Input {name!r}: binary_data_size must be a non-negative integer.")
            if offset + size > len(binary):
                raise InvalidInput(
                    f"Input {name!r} declares {size} bytes of binary data, but only {len(binary) - offset} "
                    "follow the JSON header."
                )
            inputs[name] = decode_binary(name, datatype, shape, binary[offset : offset + size])
            offset += size
        elif "data" in item:
            inputs[name] = decode_json(name, datatype, shape, item["data"])
        else:
            raise InvalidInput(f"Input {name!r} has neither 'data' nor parameters.binary_data_size.")
    if offset != len(binary):
        raise InvalidInput(
            f"{len(binary) - offset} byte(s) of binary data follow the JSON header that no input claims."
        )
    return V2Request(
        inputs=inputs,
        request_id=request_id,
        parameters=parameters,
        outputs=_requested_outputs(doc, binary_output),
        binary_output=binary_output,
    )


def to_model_input(model: ServedModel, tensors: dict[str, np.ndarray]) -> ModelInput:
    """Map request tensors onto the model's columns (one per column, or one ``[n, F]`` tensor).

    Raises:
        InvalidInput: the tensors fit neither form, naming what is missing or unknown.
    """
    schema = model.schema
    if len(tensors) == 1:
        ((name, tensor),) = tensors.items()
        if name not in schema.names or len(schema.columns) > 1:
            if tensor.ndim == 2 and tensor.shape[1] == len(schema.columns):
                if model.accepts_matrix:
                    return from_matrix(schema, tensor)
                columns = {c: tensor[:, i] for i, c in enumerate(schema.names)}
                return from_columns(schema, columns, as_matrix=False)
            if name not in schema.names:
                raise InvalidInput(
                    f"Input {name!r} with shape {list(tensor.shape)} fits neither form: send one tensor "
                    f"per column {list(schema.names)} (shape [n]) or one tensor of shape "
                    f"[n, {len(schema.columns)}]."
                )
    return from_columns(schema, tensors, as_matrix=model.accepts_matrix)


def _output_datatype(model: ServedModel, name: str) -> str:
    if name in (PROBABILITIES, TOP_K_SCORES):
        return "FP64"
    if model.classes is not None:
        return datatype_of(model.classes)
    spec = model.predictor.package.spec.signature
    if name == PREDICT and spec is not None and spec.outputs:
        from loopml.inference.schema import kind_of_arrow_type

        return _KIND_DATATYPE[kind_of_arrow_type(spec.outputs[0].type)]
    return "FP64"


def model_metadata(model: ServedModel, versions: list[str]) -> dict[str, Any]:
    """The model metadata document."""
    n_classes = len(model.classes) if model.classes is not None else -1
    k = min(model.policy.top_k or 0, n_classes) if n_classes > 0 else -1
    shapes = {PREDICT: [-1], PROBABILITIES: [-1, n_classes], TOP_K_LABELS: [-1, k], TOP_K_SCORES: [-1, k]}
    return {
        "name": model.name,
        "versions": versions,
        "platform": f"loopml-{model.flavor}",
        "inputs": [
            {"name": c.name, "datatype": _KIND_DATATYPE[c.kind], "shape": [-1]} for c in model.schema.columns
        ],
        "outputs": [
            {"name": n, "datatype": _output_datatype(model, n), "shape": shapes[n]}
            for n in model.output_names
        ],
        "parameters": {"source": model.source, "version": model.version},
    }


def render_response(result: InferenceResult, request: V2Request) -> Response:
    """The inference response: JSON, or a JSON header followed by binary outputs."""
    wanted = request.outputs or tuple(
        RequestedOutput(name=n, binary=request.binary_output) for n in result.outputs
    )
    known = list(result.outputs)
    outputs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for out in wanted:
        values = result.outputs.get(out.name)
        if values is None:
            raise InvalidInput(f"Unknown output {out.name!r}; this model returns {known}.")
        entry: dict[str, Any] = {
            "name": out.name,
            "datatype": datatype_of(values),
            "shape": list(values.shape),
        }
        if out.binary:
            blob = encode_binary(values)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = json_data(values)
        outputs.append(entry)
    doc = {
        "model_name": result.model.name,
        "model_version": result.model.version,
        "id": result.request_id,
        "parameters": {},
        "outputs": outputs,
    }
    if not blobs:
        return json_response(doc)
    header = json_response(doc).body
    return Response(
        b"".join([header, *blobs]),
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )


class V2Endpoints:
    """The V2 handlers over one data plane."""

    def __init__(self, plane: DataPlane, *, max_body_bytes: int) -> None:
        self.plane = plane
        self.max_body_bytes = max_body_bytes

    async def server_metadata(self, request: Request) -> Response:
        return json_response({"name": "loopml", "version": __version__, "extensions": ["binary_tensor_data"]})

    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def ready(self, request: Request) -> Response:
        return json_response({"ready": True})

    def _model(self, request: Request) -> ServedModel:
        return mark_model(
            request, self.plane.model(request.path_params["model"], request.path_params.get("version"))
        )

    async def model_metadata(self, request: Request) -> Response:
        model = self._model(request)
        return json_response(model_metadata(model, self.plane.versions(model.name)))

    async def model_ready(self, request: Request) -> Response:
        model = self._model(request)
        return json_response({"name": model.name, "ready": True})

    async def infer(self, request: Request) -> Response:
        model = self._model(request)
        header_length = request.headers.get(HEADER_LENGTH)
        kind = media_type(request)
        if header_length is None and kind and kind != "application/json" and kind not in _BINARY_TYPES:
            raise UnsupportedMediaType(
                f"Content-Type {kind!r} is not accepted; send JSON ('Content-Type: application/json'), "
                "or the binary extension with an Inference-Header-Content-Length header."
            )
        body = await read_body(request, limit=self.max_body_bytes, advice=BODY_ADVICE)
        parsed = parse_infer_request(body, header_length=header_length)
        if parsed.outputs is not None:
            unknown = [o.name for o in parsed.outputs if o.name not in model.output_names]
            if unknown:
                raise InvalidInput(
                    f"Unknown output(s) {unknown}; this model returns {list(model.output_names)}."
                )
        rows = to_model_input(model, parsed.inputs)
        result = await self.plane.infer(
            model,
            rows,
            protocol=PROTOCOL,
            request_id=parsed.request_id,
            principal=request.scope.get("loopml.principal"),
            caller=request.scope.get("loopml.caller"),
            headers=request.headers,
        )
        mark_answer(request, result)
        return render_response(result, parsed)


def routes(plane: DataPlane, *, max_body_bytes: int, guard: Guard) -> list[Route]:
    """The V2 routes, each wrapped by ``guard``."""
    ep = V2Endpoints(plane, max_body_bytes=max_body_bytes)

    def info(handler: Handler) -> Handler:
        return guard(handler, PROTOCOL, False)

    model = "/v2/models/{model}"
    versioned = "/v2/models/{model}/versions/{version}"
    return [
        Route("/v2", info(ep.server_metadata), methods=["GET"]),
        Route("/v2/health/live", info(ep.live), methods=["GET"]),
        Route("/v2/health/ready", info(ep.ready), methods=["GET"]),
        Route(model, info(ep.model_metadata), methods=["GET"]),
        Route(versioned, info(ep.model_metadata), methods=["GET"]),
        Route(f"{model}/ready", info(ep.model_ready), methods=["GET"]),
        Route(f"{versioned}/ready", info(ep.model_ready), methods=["GET"]),
        Route(f"{model}/infer", guard(ep.infer, PROTOCOL, True), methods=["POST"]),
        Route(f"{versioned}/infer", guard(ep.infer, PROTOCOL, True), methods=["POST"]),
    ]
