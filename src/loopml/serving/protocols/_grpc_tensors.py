"""Open Inference Protocol gRPC tensors: typed ``contents`` and ``raw_*_contents`` to and from NumPy.

The datatypes, shape checks and raw (little-endian, BYTES length-prefixed) coding are the REST
adapter's (:mod:`loopml.serving.protocols._v2_tensors`); this module adds the typed ``contents``
fields of ``InferTensorContents``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.serving.protocols import grpc_predict_v2_pb2 as pb
from loopml.serving.protocols._v2_tensors import (
    check_datatype,
    check_shape,
    datatype_of,
    decode_binary,
    encode_binary,
)

__all__ = ["CONTENTS_FIELD", "decode_contents", "encode_outputs", "request_tensors"]

#: Datatype → the ``InferTensorContents`` field holding its values (FP16 has none: raw only).
CONTENTS_FIELD: dict[str, str] = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_FIELD_DTYPE = {
    "bool_contents": np.bool_,
    "int_contents": np.int32,
    "int64_contents": np.int64,
    "uint_contents": np.uint32,
    "uint64_contents": np.uint64,
    "fp32_contents": np.float32,
    "fp64_contents": np.float64,
}


def decode_contents(
    name: str, datatype: str, shape: tuple[int, ...], contents: pb.InferTensorContents
) -> np.ndarray:
    """The array of an input given in typed ``contents``.

    Raises:
        InvalidInput: FP16 (no typed field), values in another field than the datatype's, a value
            count that does not match the shape, or values outside the datatype's range.
    """
    dtype = check_datatype(name, datatype)
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidInput(
            f"Input {name!r} is {datatype}, which has no typed contents field; send its values in "
            "raw_input_contents (little-endian)."
        )
    others = [f.name for f, _ in contents.ListFields() if f.name != field]
    if others:
        raise InvalidInput(
            f"Input {name!r} is declared {datatype} but sets {', '.join(others)}; put its values in {field}."
        )
    values = getattr(contents, field)
    count = math.prod(shape)
    if len(values) != count:
        raise InvalidInput(
            f"Input {name!r} has shape {list(shape)} ({count} values) but {field} holds {len(values)}; "
            "send one value per element, in row-major order."
        )
    if datatype == "BYTES":
        arr = np.empty(count, dtype=object)
        arr[:] = list(values)
        return arr.reshape(shape)
    wide: np.ndarray = np.array(values, dtype=_FIELD_DTYPE[field])
    if dtype.kind in "iu" and dtype.itemsize < wide.dtype.itemsize and wide.size:
        info = np.iinfo(dtype)
        if wide.min() < info.min or wide.max() > info.max:
            raise InvalidInput(
                f"Input {name!r} holds values outside the range of {datatype} ([{info.min}, {info.max}])."
            )
    return wide.astype(dtype, copy=False).reshape(shape)


def request_tensors(request: pb.ModelInferRequest) -> dict[str, np.ndarray]:
    """Input name → array, from typed ``contents`` or from ``raw_input_contents`` (one per input).

    Raises:
        InvalidInput: a nameless or repeated input, a bad shape or datatype, raw entries that do
            not pair with the inputs, or values that do not fit the declaration, naming the input.
    """
    if not request.inputs:
        raise InvalidInput("The request has no inputs; send one tensor per column or one [n, F] tensor.")
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(
            f"raw_input_contents holds {len(raw)} entries for {len(request.inputs)} inputs; "
            "send one entry per input, in the order of 'inputs'."
        )
    tensors: dict[str, np.ndarray] = {}
    for i, tensor in enumerate(request.inputs):
        name = tensor.name
        if not name:
            raise InvalidInput(f"inputs[{i}] has no name.")
        if name in tensors:
            raise InvalidInput(f"Input {name!r} appears twice in the request.")
        shape = check_shape(name, list(tensor.shape))
        check_datatype(name, tensor.datatype)
        if raw:
            if tensor.HasField("contents"):
                raise InvalidInput(
                    f"Input {name!r} sets contents while the request uses raw_input_contents; "
                    "send every input one way."
                )
            tensors[name] = decode_binary(name, tensor.datatype, shape, raw[i])
        else:
            tensors[name] = decode_contents(name, tensor.datatype, shape, tensor.contents)
    return tensors


def _typed(values: np.ndarray, datatype: str, contents: pb.InferTensorContents) -> None:
    flat = values.reshape(-1)
    field = getattr(contents, CONTENTS_FIELD[datatype])
    if datatype == "BYTES":
        field.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in flat.tolist())
    else:
        field.extend(flat.tolist())


def encode_outputs(
    response: pb.ModelInferResponse, outputs: Sequence[tuple[str, np.ndarray]], *, raw: bool
) -> None:
    """Append ``outputs`` to ``response``: in ``raw_output_contents`` when ``raw`` (or when a
    datatype has no typed field, since a response uses one form for all its outputs), else typed.
    """
    kinds: list[tuple[str, np.ndarray, str]] = [(n, v, datatype_of(v)) for n, v in outputs]
    raw = raw or any(d not in CONTENTS_FIELD for _, _, d in kinds)
    for name, values, datatype in kinds:
        tensor = response.outputs.add(name=name, datatype=datatype, shape=list(values.shape))
        if raw:
            response.raw_output_contents.append(encode_binary(values))
        else:
            _typed(values, datatype, tensor.contents)


def parameter_value(param: pb.InferParameter) -> Any:
    """The Python value of one parameter (None when unset)."""
    which = param.WhichOneof("parameter_choice")
    return getattr(param, which) if which else None
