"""Reads a ``.npy`` header: plain arrays are raw bytes, object arrays are a pickle after it."""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy_format

from loopml.security.scan._source import ByteSource, StreamProblem
from loopml.security.scan.report import FindingKind

_MAX_HEADER = 1 << 16


@dataclass(frozen=True, slots=True, kw_only=True)
class NpyHeader:
    """The parsed header of a ``.npy`` stream."""

    version: tuple[int, int]
    has_object: bool
    shape: tuple[int, ...]


def read_npy_header(src: ByteSource) -> NpyHeader:
    """Parse the header at the start of ``src`` without importing anything it names.

    Raises:
        StreamProblem: ``parse_error`` or ``truncated`` when the header is malformed.
    """
    magic = src.read(8, what="the .npy magic")
    major, minor = magic[6], magic[7]
    if major == 1:
        (hlen,) = struct.unpack("<H", src.read(2, what="the .npy header length"))
        encoding = "latin-1"
    elif major in (2, 3):
        (hlen,) = struct.unpack("<I", src.read(4, what="the .npy header length"))
        encoding = "utf-8" if major == 3 else "latin-1"
    else:
        raise StreamProblem(FindingKind.PARSE_ERROR, f".npy version {major}.{minor} is unknown", offset=6)
    if hlen > _MAX_HEADER:
        raise StreamProblem(FindingKind.PARSE_ERROR, f".npy header of {hlen} bytes is too long", offset=8)
    text = src.read(hlen, what="the .npy header").decode(encoding, errors="replace")
    try:
        header = ast.literal_eval(text)
        dtype = npy_format.descr_to_dtype(header["descr"])
        shape = tuple(int(n) for n in header["shape"])
    except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError) as err:
        raise StreamProblem(
            FindingKind.PARSE_ERROR, f".npy header is not a valid literal dict: {err}", offset=10
        ) from err
    return NpyHeader(version=(major, minor), has_object=bool(np.dtype(dtype).hasobject), shape=shape)
