"""Run tables: which columns to show, parent/child nesting, and what differs between runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "COLUMN_KINDS",
    "NestedRun",
    "available_columns",
    "cell",
    "default_columns",
    "differing_params",
    "nest_runs",
    "parse_columns",
]

COLUMN_KINDS = ("metrics", "params", "tags")
MAX_COLUMNS = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class NestedRun:
    """A run in table order: ``depth`` 1 is a child shown under its parent on the same page."""

    run: Any
    depth: int


def parse_columns(text: str | None) -> list[str]:
    """``"metrics.auc,params.lr"`` → the valid column keys, in order, without repeats (at most 50)."""
    seen: list[str] = []
    for part in (text or "").split(","):
        key = part.strip()
        kind, _, name = key.partition(".")
        if kind in COLUMN_KINDS and name and key not in seen:
            seen.append(key)
    return seen[:MAX_COLUMNS]


def default_columns(runs: Sequence[Any], *, per_kind: int = 5) -> list[str]:
    """The first metric and parameter keys the runs of a page hold (sorted)."""
    metrics = sorted({k for r in runs for k in r.metrics})[:per_kind]
    params = sorted({k for r in runs for k in r.params})[:per_kind]
    return [f"metrics.{k}" for k in metrics] + [f"params.{k}" for k in params]


def available_columns(runs: Sequence[Any]) -> list[str]:
    """Every column key the runs of a page could show."""
    keys = {f"metrics.{k}" for r in runs for k in r.metrics}
    keys |= {f"params.{k}" for r in runs for k in r.params}
    keys |= {f"tags.{k}" for r in runs for k in r.tags}
    return sorted(keys)


def cell(run: Any, column: str) -> Any:
    """The value of ``column`` (``metrics.auc``) for a run, None when it has none."""
    kind, _, name = column.partition(".")
    source: Mapping[str, Any] = getattr(run, kind, {}) if kind in COLUMN_KINDS else {}
    return source.get(name)


def nest_runs(runs: Sequence[Any]) -> list[NestedRun]:
    """The page's runs with each child placed right under its parent when both are on the page."""
    on_page = {r.run_id for r in runs}
    children: dict[str, list[Any]] = {}
    for r in runs:
        if r.parent_run_id in on_page:
            children.setdefault(r.parent_run_id, []).append(r)
    ordered: list[NestedRun] = []

    def add(run: Any, depth: int) -> None:
        ordered.append(NestedRun(run=run, depth=min(depth, 5)))
        for child in children.get(run.run_id, []):
            add(child, depth + 1)

    for r in runs:
        if r.parent_run_id not in on_page:
            add(r, 0)
    return ordered


def differing_params(runs: Sequence[Any]) -> list[tuple[str, list[str | None]]]:
    """Parameters whose value is not the same in every run: ``(key, value per run)``, sorted by key."""
    keys = sorted({k for r in runs for k in r.params})
    rows = []
    for key in keys:
        values = [r.params.get(key) for r in runs]
        if len(set(values)) > 1:
            rows.append((key, values))
    return rows
