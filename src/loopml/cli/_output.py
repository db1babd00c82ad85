"""Rendering for humans (rich tables) and scripts (``--json``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

console = Console(highlight=False, soft_wrap=False)


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, enums, mappings and paths into JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
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


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    typer.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table; cells are converted with ``str``."""
    table = Table(title=title, show_lines=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*("" if c is None else str(c) for c in row))
    console.print(table)


def format_ms(ms: int | None) -> str:
    """Milliseconds since the epoch as a local ISO time (empty for None)."""
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).isoformat(sep=" ", timespec="seconds")
