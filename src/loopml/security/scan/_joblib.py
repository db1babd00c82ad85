"""Locates the array bytes joblib writes inside its pickle stream, right after each wrapper.

``joblib.dump`` pickles a ``NumpyArrayWrapper`` (shape, dtype, order, alignment) for every array
and writes the array's raw bytes (or, for object arrays, a nested pickle) straight after the
wrapper's BUILD opcode. The walker reads the wrapper's state literally to skip those bytes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

JOBLIB_WRAPPERS = frozenset({"joblib.numpy_pickle.NumpyArrayWrapper"})
_DTYPE_STR = re.compile(r"[<>|=]?([a-zA-Z?])(\d*)\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class JoblibPayload:
    """What follows a wrapper: ``nbytes`` raw bytes (after a padding block if ``aligned``) or a pickle."""

    nbytes: int
    aligned: bool
    is_pickle: bool


def _callee_path(value: object) -> str | None:
    callee = getattr(value, "callee", None)
    path = getattr(callee, "path", None)
    return path if isinstance(path, str) else None


def _dtype_info(dtype: object) -> tuple[int, bool] | None:
    """(itemsize, has_object) of a symbolic ``numpy.dtype(...)`` call with BUILD state, or None."""
    if _callee_path(dtype) != "numpy.dtype":
        return None
    args = getattr(dtype, "args", None)
    state = getattr(dtype, "state", None)
    if not isinstance(args, tuple) or not args or not isinstance(args[0], str):
        return None
    match = _DTYPE_STR.match(args[0])
    if match is None:
        return None
    kind, digits = match.groups()
    if kind == "O":
        return 8, True
    has_object = False
    elsize = -1
    if isinstance(state, tuple) and len(state) >= 6:
        elsize = state[5] if isinstance(state[5], int) else -1
        fields = state[4]
        if isinstance(fields, dict):
            for spec in fields.values():
                sub = _dtype_info(spec[0]) if isinstance(spec, tuple) and spec else None
                if sub is None:
                    return None
                has_object = has_object or sub[1]
    if elsize > 0:
        return elsize, has_object
    if kind in "VUS" or not digits:
        return None
    return int(digits), has_object


def joblib_array_payload(state: object) -> JoblibPayload | None:
    """The payload after a ``NumpyArrayWrapper`` with this BUILD state; None if not literal.

    Example:
        >>> joblib_array_payload({"shape": (2, 3), "dtype": None}) is None
        True
    """
    if not isinstance(state, dict):
        return None
    shape = state.get("shape")
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        return None
    info = _dtype_info(state.get("dtype"))
    if info is None:
        return None
    itemsize, has_object = info
    if has_object:
        return JoblibPayload(nbytes=0, aligned=False, is_pickle=True)
    aligned = state.get("numpy_array_alignment_bytes") is not None
    return JoblibPayload(nbytes=math.prod(shape) * itemsize, aligned=aligned, is_pickle=False)
