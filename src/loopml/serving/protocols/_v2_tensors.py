"""Open Inference Protocol tensors: datatypes, JSON and binary (``binary_tensor_data``) coding."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from loopml.errors import InvalidInput

__all__ = ["DATATYPES", "datatype_of", "decode_binary", "decode_json", "encode_binary", "json_data"]

#: V2 datatype → NumPy dtype (BYTES: object arrays of bytes or str).
DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_BY_DTYPE = {dtype: name for name, dtype in DATATYPES.items() if name != "BYTES"}
_LENGTH = struct.Struct("<I")


def datatype_of(values: np.ndarray) -> str:
    """The V2 datatype of an array (strings and objects are BYTES)."""
    return _BY_DTYPE.get(values.dtype, "BYTES")


def check_datatype(name: str, datatype: Any) -> np.dtype[Any]:
    """The dtype of a declared datatype.

    Raises:
        InvalidInput: an unknown datatype, listing the valid ones.
    """
    dtype = DATATYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise InvalidInput(
            f"Input {name!r} has datatype {datatype!r}; valid datatypes: {', '.join(DATATYPES)}."
        )
    return dtype


def check_shape(name: str, shape: Any) -> tuple[int, ...]:
    """A declared shape: a list of non-negative integers.

    Raises:
        InvalidInput: anything else.
    """
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**31 for d in shape
    ):
        raise InvalidInput(f"Input {name!r} has shape {shape!r}; a shape is a list of non-negative integers.")
    return tuple(shape)


def _numbers(name: str, datatype: str, dtype: np.dtype[Any], arr: np.ndarray) -> np.ndarray:
    kind = arr.dtype.kind
    if datatype == "BOOL":
        if kind != "b":
            raise InvalidInput(
                f"Input {name!r} is declared BOOL but holds non-boolean values; send true/false."
            )
        return arr
    if kind not in "iuf" or kind == "b":
        what = "strings" if kind == "U" else "non-numeric values"
        raise InvalidInput(f"Input {name!r} is declared {datatype} but holds {what}; send numbers.")
    if dtype.kind in "iu":
        if kind == "f" and (not np.all(np.isfinite(arr)) or not np.all(np.floor(arr) == arr)):
            raise InvalidInput(f"Input {name!r} is declared {datatype} but holds non-integer numbers.")
        info = np.iinfo(dtype)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise InvalidInput(
                f"Input {name!r} holds values outside the range of {datatype} ([{info.min}, {info.max}])."
            )
    return arr.astype(dtype, copy=False)


def decode_json(name: str, datatype: str, shape: tuple[int, ...], data: Any) -> np.ndarray:
    """The array of an input given as JSON ``data`` (flat in row-major order, or nested like ``shape``).

    Raises:
        InvalidInput: the data does not match the shape or datatype, naming the input.
    """
    dtype = check_datatype(name, datatype)
    if not isinstance(data, list):
        data = [data]
    try:
        arr = np.array(data, dtype=object if datatype == "BYTES" else None)
    except (ValueError, TypeError) as err:
        raise InvalidInput(
            f"Input {name!r} has ragged data ({err}); nest it like shape {list(shape)}."
        ) from err
    expected = math.prod(shape)
    if arr.shape == shape:
        pass
    elif arr.ndim == 1 and arr.size == expected:
        arr = arr.reshape(shape)
    else:
        raise InvalidInput(
            f"Input {name!r} has shape {list(shape)} ({expected} values) but its data holds "
            f"{arr.size} value(s) shaped {list(arr.shape)}; send the data flat or nested like the shape."
        )
    if datatype == "BYTES":
        flat = arr.reshape(-1)
        for i, value in enumerate(flat):
            if not isinstance(value, str | bytes):
                raise InvalidInput(
                    f"Input {name!r} is declared BYTES but element {i} is a {type(value).__name__}; "
                    "send strings."
                )
        return arr
    return _numbers(name, datatype, dtype, arr)


def decode_binary(name: str, datatype: str, shape: tuple[int, ...], raw: bytes) -> np.ndarray:
    """The array of an input sent in the binary extension's raw encoding.

    Raises:
        InvalidInput: the byte count does not match the shape, or BYTES lengths overrun the data.
    """
    dtype = check_datatype(name, datatype)
    count = math.prod(shape)
    if datatype != "BYTES":
        if len(raw) != count * dtype.itemsize:
            raise InvalidInput(
                f"Input {name!r} ({datatype}, shape {list(shape)}) needs {count * dtype.itemsize} bytes "
                f"of binary data; got {len(raw)}."
            )
        arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(shape)
        if datatype == "BOOL" and np.any(np.frombuffer(raw, dtype=np.uint8) > 1):
            raise InvalidInput(f"Input {name!r} (BOOL) holds bytes other than 0 and 1.")
        return arr
    items: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidInput(f"Input {name!r} (BYTES) ends inside a 4-byte length prefix.")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise InvalidInput(
                f"Input {name!r} (BYTES) element {len(items)} claims {length} bytes; "
                f"only {len(raw) - offset} remain."
            )
        items.append(raw[offset : offset + length])
        offset += length
    if len(items) != count:
        raise InvalidInput(
            f"Input {name!r} (BYTES, shape {list(shape)}) needs {count} elements; "
            f"the binary data holds {len(items)}."
        )
    arr = np.empty(count, dtype=object)
    arr[:] = items
    return arr.reshape(shape)


def encode_binary(values: np.ndarray) -> bytes:
    """The raw binary encoding of an output (BYTES: 4-byte little-endian length + UTF-8)."""
    if datatype_of(values) != "BYTES":
        return np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()
    parts: list[bytes] = []
    for value in values.reshape(-1):
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def json_data(values: np.ndarray) -> Any:
    """Flat row-major JSON data of an output (an array orjson serialises, or a list)."""
    flat = values.reshape(-1)
    if flat.dtype.kind in "biuf" and flat.dtype != np.float16:
        return np.ascontiguousarray(flat)
    if flat.dtype == np.float16:
        return flat.astype(np.float32)
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat.tolist()]
