"""New row ids (32-char uuid4 hex) and timestamps (milliseconds since the epoch)."""

from __future__ import annotations

import time
import uuid

__all__ = ["new_id", "now_ms"]


def new_id() -> str:
    """A new 32-character hexadecimal id."""
    return uuid.uuid4().hex


def now_ms() -> int:
    """The current time in milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000
