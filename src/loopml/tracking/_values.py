"""Checks on keys and values logged to a run, done at the call so errors point at the caller's line."""

from __future__ import annotations

import math
import time
from typing import Any

from loopml.store import validation

__all__ = [
    "MAX_KEY_LENGTH",
    "check_key",
    "metric_value",
    "now_ms",
    "param_value",
    "step_value",
    "timestamp_value",
]

MAX_KEY_LENGTH = validation.MAX_KEY_LENGTH


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


def check_key(kind: str, key: object) -> str:
    """Return ``key`` if it is a usable metric, param or tag name (the store's own rules, checked early).

    Raises:
        InvalidInput: naming the kind, the key and what is wrong with it.
    """
    return validation.check_record_key(key, kind=f"{kind} key")


def metric_value(key: str, value: object) -> float:
    """``value`` as a float; NaN and infinities are kept.

    Raises:
        InvalidInput: for strings, booleans, None and anything that is not a real number.
    """
    return validation.check_metric_value(key, value)


def step_value(key: str, step: object) -> int:
    """``step`` as an int (default 0 when None)."""
    return 0 if step is None else validation.check_step(key, step)


def timestamp_value(key: str, timestamp: object) -> int:
    """``timestamp`` (ms since the epoch) as an int, now when None."""
    if timestamp is None:
        return now_ms()
    return validation.check_timestamp(timestamp, what=f"timestamp of metric {key!r}")


def param_value(value: Any) -> str:
    """A param value as the string that is stored (floats keep their repr, NaN included)."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value if isinstance(value, str) else str(value)
