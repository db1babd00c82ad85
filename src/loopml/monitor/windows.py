"""Monitoring windows: how the prediction log is cut (hourly, daily, every N requests) and what is measured.

A window is a half-open time interval ``[start, end)`` of one model's prediction log. Hourly and
daily windows are aligned on UTC hours and days (a day reads its 24 hour partitions, whose input
statistics merge); count windows (``requests:N``) start at the first row of every N-th request.

Example:
    >>> import datetime as dt
    >>> spec = WindowSpec.parse("day")
    >>> t = dt.datetime(2026, 3, 1, 15, 30, tzinfo=dt.UTC)
    >>> [b.isoformat() for b in spec.bounds(t)]
    ['2026-03-01T00:00:00+00:00', '2026-03-02T00:00:00+00:00']
    >>> WindowSpec.parse("requests:1000").requests
    1000
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from loopml.errors import InvalidInput

__all__ = ["MonitorConfig", "WindowSpec", "parse_span"]

_KINDS = ("hour", "day")
_COUNT = re.compile(r"^requests:([1-9][0-9]*)$")
_SPAN = re.compile(r"^([0-9]+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_span(text: str) -> dt.timedelta:
    """A span like ``90s``, ``30m``, ``12h`` or ``7d``.

    Raises:
        InvalidInput: anything else.

    Example:
        >>> parse_span("7d")
        datetime.timedelta(days=7)
    """
    found = _SPAN.match(text.strip().lower())
    if found is None:
        raise InvalidInput(f"A span is a number and a unit s, m, h or d (e.g. 7d); got {text!r}.")
    return dt.timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowSpec:
    """How the log is cut: ``hour``, ``day`` or ``requests:N``.

    Attributes:
        name: The spelling (stored with each window).
        requests: N for count windows, else None.
    """

    name: str
    requests: int | None = None

    @classmethod
    def parse(cls, text: str) -> WindowSpec:
        """Read ``hour``, ``day`` or ``requests:N``.

        Raises:
            InvalidInput: anything else (the valid spellings are listed).
        """
        value = text.strip().lower()
        if value in _KINDS:
            return cls(name=value)
        found = _COUNT.match(value)
        if found is None:
            raise InvalidInput(
                f"A monitoring window is 'hour', 'day' or 'requests:N' (N >= 1); got {text!r}."
            )
        return cls(name=value, requests=int(found.group(1)))

    @property
    def is_count(self) -> bool:
        """Whether windows hold N requests each (rather than a span of time)."""
        return self.requests is not None

    @property
    def length(self) -> dt.timedelta:
        """The span of a time window.

        Raises:
            InvalidInput: for count windows, which have no fixed span.
        """
        if self.requests is not None:
            raise InvalidInput(f"Window {self.name!r} holds a number of requests, not a span of time.")
        return dt.timedelta(hours=1) if self.name == "hour" else dt.timedelta(days=1)

    def bounds(self, when: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The time window holding ``when`` (UTC)."""
        t = when.astimezone(dt.UTC)
        start = t.replace(minute=0, second=0, microsecond=0)
        if self.name == "day":
            start = start.replace(hour=0)
        return start, start + self.length


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorConfig:
    """What monitoring computes for one deployment.

    Attributes:
        window: How the log is cut.
        slice_column: An input feature whose values (the 20 most frequent) get their own figures.
        slice_columns: More such features (``("SEX", "RAC1P")``); each value's figures include
            drift per feature against the same slice of the previous window and of the baseline.
        key_field: Labels keyed by this input feature join too (besides request ids).
        label_horizon: How long after a window ends late labels still update it.
        settle: How long after a window ends it is first computed (log writers flush first).
        max_slices: At most this many slice values.
    """

    window: WindowSpec = field(default_factory=lambda: WindowSpec(name="hour"))
    slice_column: str | None = None
    slice_columns: tuple[str, ...] = ()
    key_field: str | None = None
    label_horizon: dt.timedelta = dt.timedelta(days=7)
    settle: dt.timedelta = dt.timedelta(minutes=1)
    max_slices: int = 20

    def __post_init__(self) -> None:
        if self.label_horizon < dt.timedelta(0) or self.settle < dt.timedelta(0):
            raise InvalidInput(
                f"label_horizon and settle must be >= 0; got {self.label_horizon} and {self.settle}."
            )
        if self.max_slices < 1:
            raise InvalidInput(f"max_slices must be >= 1; got {self.max_slices}.")

    @property
    def slices(self) -> tuple[str, ...]:
        """Every slice feature: ``slice_column`` then ``slice_columns``, each once."""
        first = (self.slice_column,) if self.slice_column else ()
        return tuple(dict.fromkeys((*first, *self.slice_columns)))
