"""V2 tensor coding: every datatype through JSON and the binary extension."""

from __future__ import annotations

import numpy as np
import pytest

from loopml.errors import InvalidInput
from loopml.serving.protocols._v2_tensors import (
    DATATYPES,
    datatype_of,
    decode_binary,
    decode_json,
    encode_binary,
    json_data,
)

_NUMERIC = [d for d in DATATYPES if d not in ("BYTES", "BOOL")]


@pytest.mark.parametrize("datatype", _NUMERIC)
def test_numeric_round_trip(datatype: str) -> None:
    values = np.array([[1, 2, 3], [4, 5, 6]], dtype=DATATYPES[datatype])
    assert datatype_of(values) == datatype
    np.testing.assert_array_equal(decode_binary("x", datatype, (2, 3), encode_binary(values)), values)
    flat = np.asarray(json_data(values)).tolist()
    np.testing.assert_array_equal(decode_json("x", datatype, (2, 3), flat), values)
    np.testing.assert_array_equal(decode_json("x", datatype, (2, 3), values.tolist()), values)


def test_bool_and_bytes_round_trip() -> None:
    flags = np.array([True, False, True])
    np.testing.assert_array_equal(decode_binary("b", "BOOL", (3,), encode_binary(flags)), flags)
    np.testing.assert_array_equal(decode_json("b", "BOOL", (3,), [True, False, True]), flags)
    with pytest.raises(InvalidInput, match="other than 0 and 1"):
        decode_binary("b", "BOOL", (1,), b"\x07")
    text = np.array(["é", "", "abc"], dtype=object)
    decoded = decode_binary("s", "BYTES", (3,), encode_binary(text))
    assert [v.decode() for v in decoded] == ["é", "", "abc"]
    assert decode_json("s", "BYTES", (1, 3), ["é", "", "abc"]).shape == (1, 3)
    with pytest.raises(InvalidInput, match="element 1 is a int"):
        decode_json("s", "BYTES", (2,), ["a", 3])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x05\x00\x00\x00ab", "claims 5 bytes"),
        (b"\x01\x00", "ends inside a 4-byte length prefix"),
        (b"\x01\x00\x00\x00a", "needs 2 elements"),
    ],
)
def test_bytes_binary_bounds(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode_binary("s", "BYTES", (2,), raw)


def test_binary_size_must_match_shape() -> None:
    with pytest.raises(InvalidInput, match="needs 24 bytes"):
        decode_binary("x", "FP64", (3,), b"\x00" * 16)
