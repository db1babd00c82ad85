"""Parsing of human durations (``30d``, ``12h``) and points in time (``1h`` ago or ISO 8601)."""

from __future__ import annotations

import datetime as dt
import re

from loopml.errors import InvalidInput

__all__ = ["parse_duration", "parse_since"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str) -> dt.timedelta:
    """Parse ``<number><unit>`` with unit ``s``, ``m``, ``h``, ``d`` or ``w``.

    Raises:
        InvalidInput: naming the value and the accepted form.

    Example:
        >>> parse_duration("30d")
        datetime.timedelta(days=30)
    """
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise InvalidInput(
            f"Duration {text!r} is not understood; write a positive number and a unit "
            "s, m, h, d or w, e.g. '30d' or '12h'."
        )
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_since(text: str, *, now_ms: int) -> int:
    """A point in time as milliseconds since the epoch: ``1h`` (ago) or an ISO 8601 time (UTC if naive).

    Raises:
        InvalidInput: naming the value and the accepted forms.

    Example:
        >>> parse_since("1m", now_ms=120_000)
        60000
        >>> parse_since("1970-01-01T00:01:00Z", now_ms=0)
        60000
    """
    if _DURATION.match(text):
        return now_ms - int(parse_duration(text).total_seconds() * 1000)
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"Time {text!r} is not understood; give a duration ago like '1h' or '7d', "
            "or an ISO time like '2026-11-28T09:00:00Z'."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)
