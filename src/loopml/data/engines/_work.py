"""The function every engine runs per group of work units: stream batches into one accumulator."""

from __future__ import annotations

from collections.abc import Sequence

from loopml.data.accumulator import StatisticsAccumulator
from loopml.data.sources import WorkUnit


def accumulate(units: Sequence[WorkUnit], batch_rows: int) -> StatisticsAccumulator:
    """Statistics of ``units``, one batch at a time (memory bounded by ``batch_rows``)."""
    acc = StatisticsAccumulator()
    for unit in units:
        for batch in unit.batches(batch_rows=batch_rows):
            acc.update(batch)
        acc.sources.append(unit.label.split(" (row group")[0])
    return acc


def split_units(units: Sequence[WorkUnit], parts: int) -> list[list[WorkUnit]]:
    """Round-robin ``units`` into at most ``parts`` non-empty groups, keeping order within each."""
    groups: list[list[WorkUnit]] = [[] for _ in range(max(1, min(parts, len(units))))]
    for i, unit in enumerate(units):
        groups[i % len(groups)].append(unit)
    return groups
