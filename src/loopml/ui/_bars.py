"""Bar charts drawn as server-side SVG: a numeric histogram or the top values of a string feature."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Bar", "BarChart", "bar_chart"]

WIDTH = 320
HEIGHT = 90


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """One bar: its box, and the label and count its tooltip names."""

    x: float
    y: float
    width: float
    height: float
    label: str
    count: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BarChart:
    """Bars scaled into ``width`` by ``height``, with the axis labels under the first and last bar."""

    width: int
    height: int
    bars: list[Bar]
    first: str
    last: str
    peak: float


def bar_chart(items: Sequence[tuple[str, float]], *, width: int = WIDTH, height: int = HEIGHT) -> BarChart:
    """Scale ``(label, count)`` pairs into bars of equal width, the tallest filling ``height``.

    Example:
        >>> c = bar_chart([("a", 1.0), ("b", 4.0)], width=100, height=40)
        >>> [round(b.height) for b in c.bars], c.peak
        ([10, 40], 4.0)
    """
    peak = max((count for _, count in items), default=0.0)
    step = width / len(items) if items else width
    bars = []
    for i, (label, count) in enumerate(items):
        h = 0.0 if peak <= 0 else height * count / peak
        bars.append(Bar(x=i * step, y=height - h, width=max(step - 1, 1), height=h, label=label, count=count))
    first = items[0][0] if items else ""
    last = items[-1][0] if items else ""
    return BarChart(width=width, height=height, bars=bars, first=first, last=last, peak=peak)
