"""Min/max downsampling of a metric history: a chart of a million steps keeps every spike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopml.errors import InvalidInput

__all__ = ["Series", "downsample"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """Points to draw: ``steps[i]`` and ``values[i]``; ``total`` points were logged in all.

    Attributes:
        steps: The x values, ascending.
        values: The y values.
        total: How many points the full history holds.
        downsampled: Whether points were dropped (each bucket kept its minimum and maximum).
    """

    steps: list[int]
    values: list[float]
    total: int
    downsampled: bool


def downsample(points: Sequence[tuple[int, float]], *, max_points: int) -> Series:
    """Keep at most about ``max_points`` points: the minimum and maximum of each of equal-width buckets.

    ``points`` are ``(step, value)`` pairs in any order. Buckets split the step range evenly into
    ``max_points // 2`` parts; each bucket contributes its lowest and highest value in step order,
    so every extreme of the full history is still drawn.

    Raises:
        InvalidInput: ``max_points`` below 2.

    Example:
        >>> s = downsample([(i, float(i % 7)) for i in range(1000)], max_points=20)
        >>> len(s.steps) <= 20, max(s.values), min(s.values)
        (True, 6.0, 0.0)
    """
    if max_points < 2:
        raise InvalidInput(f"max_points must be at least 2; got {max_points}.")
    ordered = sorted(points)
    if len(ordered) <= max_points:
        return Series(
            steps=[s for s, _ in ordered],
            values=[v for _, v in ordered],
            total=len(ordered),
            downsampled=False,
        )
    buckets = max_points // 2
    first, last = ordered[0][0], ordered[-1][0]
    width = (last - first) / buckets or 1.0
    kept: list[tuple[int, float]] = []
    current = -1
    low: tuple[int, float] | None = None
    high: tuple[int, float] | None = None
    for step, value in ordered:
        bucket = min(int((step - first) / width), buckets - 1)
        if bucket != current:
            kept.extend(_pair(low, high))
            current, low, high = bucket, (step, value), (step, value)
            continue
        if low is None or value < low[1]:
            low = (step, value)
        if high is None or value > high[1]:
            high = (step, value)
    kept.extend(_pair(low, high))
    return Series(
        steps=[s for s, _ in kept], values=[v for _, v in kept], total=len(ordered), downsampled=True
    )


def _pair(low: tuple[int, float] | None, high: tuple[int, float] | None) -> list[tuple[int, float]]:
    if low is None or high is None:
        return []
    if low == high:
        return [low]
    return sorted({low, high})
