"""Rendering for humans (rich tables) and scripts (``--json``).

JSON has one shape per kind of output: a listing is ``{"items": [...], "next_page_token": ...}``
(:func:`print_listing`), one record is an object, and timestamps are ISO 8601 strings in UTC
(record fields named ``at``, ``*_at``, ``*_time`` or ``timestamp`` hold milliseconds since the epoch).
Piped output is never wrapped at 80 columns, so ids stay whole for ``grep`` and ``cut``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table

_PIPE_WIDTH = 100_000  # no wrapping when the output is not a terminal


class _Console(Console):
    """A console that does not wrap piped output: a pipe gets whole lines, whatever their length."""

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        if self.is_terminal:
            return measured
        return ConsoleDimensions(_PIPE_WIDTH, measured.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = _Console(highlight=False, soft_wrap=False)


def iso_ms(ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO 8601 in UTC (``2026-01-02T03:04:05.006Z``).

    Example:
        >>> iso_ms(0)
        '1970-01-01T00:00:00.000Z'
    """
    if ms is None:
        return None
    stamp = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_time_field(name: str) -> bool:
    return name.endswith(("_at", "_time")) or name in ("at", "timestamp")


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, enums, mappings and paths into JSON-ready values (times as ISO 8601 UTC)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            is_ms = isinstance(item, int) and not isinstance(item, bool) and _is_time_field(f.name)
            out[f.name] = iso_ms(item) if is_ms else to_jsonable(item)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)  # NaN / inf are not JSON; keep them readable
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def print_json(value: Any, *, lines: bool = False) -> None:
    """Print ``value`` as indented JSON on stdout (one line with ``lines``: JSON Lines streams)."""
    typer.echo(json.dumps(to_jsonable(value), indent=None if lines else 2, sort_keys=False))


def print_listing(items: Sequence[Any], next_page_token: str | None = None) -> None:
    """Print a listing as ``{"items": [...], "next_page_token": ...}`` (the one shape of every list)."""
    print_json({"items": list(items), "next_page_token": next_page_token})


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table; cells are converted with ``str``. Ids are never split across lines."""
    table = Table(title=title, show_lines=False)
    for name in columns:
        table.add_column(name, overflow="fold" if console.is_terminal else "ignore")
    for row in rows:
        table.add_row(*("" if c is None else str(c) for c in row))
    console.print(table)


def print_note(text: str) -> None:
    """A summary line under a table, set apart from its border by a blank line."""
    console.print()
    console.print(text, markup=False)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], *, width: int = 60) -> str:
    """A one-line chart of ``values`` (at most ``width`` bars, evenly sampled; NaN as a space).

    Example:
        >>> sparkline([0.0, 0.5, 1.0])
        '▁▅█'
    """
    if len(values) > width:
        values = [values[round(i * (len(values) - 1) / (width - 1))] for i in range(width)]
    finite = [v for v in values if v == v and v not in (float("inf"), float("-inf"))]
    if not finite:
        return " " * len(values)
    low, high = min(finite), max(finite)
    span = high - low
    top = len(_BARS) - 1
    return "".join(
        " " if v not in finite else _BARS[top if span == 0 else round((v - low) / span * top)] for v in values
    )


def format_ms(ms: int | None) -> str:
    """Milliseconds since the epoch as a local ISO time (empty for None)."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).isoformat(sep=" ", timespec="seconds")
