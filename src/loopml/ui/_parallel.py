"""Parallel coordinates drawn as server-side SVG: one vertical axis per column, one path per run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ParallelAxis", "ParallelChart", "ParallelLine", "parallel_coordinates"]

WIDTH = 900
HEIGHT = 300
MARGIN_X = 60
MARGIN_TOP = 24
MARGIN_BOTTOM = 34
MAX_AXES = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelAxis:
    """One column as a vertical axis at ``x``: numeric (``low``..``high``) or categories, top to bottom."""

    name: str
    x: float
    is_numeric: bool
    top: str
    bottom: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelLine:
    """One run: an SVG path through its values (a missing value breaks the path)."""

    run_id: str
    label: str
    path: str
    color: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelChart:
    """What the SVG needs: its size, the axes (with their plotting band) and one line per run."""

    width: int
    height: int
    top: int
    bottom: int
    axes: list[ParallelAxis]
    lines: list[ParallelLine]


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _scale(values: Sequence[object]) -> tuple[dict[str, float], bool, str, str]:
    """Each present value's position in [0, 1] (1 is the top), whether numeric, and the end labels."""
    present = [v for v in values if v is not None and v != ""]
    numbers = [_as_number(v) for v in present]
    if present and all(n is not None for n in numbers):
        low, high = min(n for n in numbers if n is not None), max(n for n in numbers if n is not None)
        span = high - low
        where = {
            str(v): (0.5 if span == 0 else ((n or 0.0) - low) / span)
            for v, n in zip(present, numbers, strict=True)
        }
        return where, True, f"{high:.4g}", f"{low:.4g}"
    categories = sorted({str(v) for v in present})
    count = len(categories)
    where = {c: (0.5 if count == 1 else 1 - i / (count - 1)) for i, c in enumerate(categories)}
    return where, False, (categories[0] if categories else ""), (categories[-1] if categories else "")


def parallel_coordinates(
    rows: Sequence[tuple[str, str, Mapping[str, object]]],
    columns: Sequence[str],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> ParallelChart:
    """Lay out ``rows`` (run id, label, values by column) over ``columns`` (at most 16 axes).

    A column whose present values all read as numbers is a numeric axis (highest at the top);
    any other is categorical, its sorted values spread evenly. A run missing a value has its
    path broken there.

    Example:
        >>> c = parallel_coordinates([("a", "A", {"lr": "0.1", "auc": 0.7}),
        ...                           ("b", "B", {"lr": "0.2", "auc": 0.9})], ["lr", "auc"])
        >>> [(ax.name, ax.top, ax.bottom) for ax in c.axes]
        [('lr', '0.2', '0.1'), ('auc', '0.9', '0.7')]
        >>> c.lines[0].path
        'M60.0,266.0 L840.0,266.0'
    """
    shown = list(columns[:MAX_AXES])
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    step = (width - 2 * MARGIN_X) / max(len(shown) - 1, 1)
    axes: list[ParallelAxis] = []
    scales: list[dict[str, float]] = []
    for i, name in enumerate(shown):
        where, numeric, high, low = _scale([values.get(name) for _, _, values in rows])
        scales.append(where)
        axes.append(ParallelAxis(name=name, x=MARGIN_X + i * step, is_numeric=numeric, top=high, bottom=low))
    lines = []
    for n, (run_id, label, values) in enumerate(rows):
        parts: list[str] = []
        pen_down = False
        for axis, where in zip(axes, scales, strict=True):
            value = values.get(axis.name)
            position = None if value is None or value == "" else where.get(str(value))
            if position is None:
                pen_down = False
                continue
            y = bottom - position * (bottom - top)
            parts.append(f"{'L' if pen_down else 'M'}{axis.x:.1f},{y:.1f}")
            pen_down = True
        lines.append(ParallelLine(run_id=run_id, label=label, path=" ".join(parts), color=n % 8))
    return ParallelChart(width=width, height=height, top=top, bottom=bottom, axes=axes, lines=lines)
