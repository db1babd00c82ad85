"""What every engine runs: one accumulator per work unit, merged in unit order.

Statistics are byte-identical whatever the engine or the number of workers because the unit of
work never changes: each unit (a file or a group of Parquet row groups) streams its batches into an
accumulator of its own, and the engine folds those accumulators into one strictly in the order of
the units, never in the order workers finish. Floating-point sums and the quantile compactor then
see the same operations in the same order on every run.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from loopml.data._memory import release_freed_memory
from loopml.data.accumulator import StatisticsAccumulator
from loopml.data.sources import WorkUnit


def accumulate_unit(unit: WorkUnit, batch_rows: int) -> StatisticsAccumulator:
    """Statistics of one unit, one batch at a time (memory bounded by ``batch_rows``)."""
    acc = StatisticsAccumulator()
    for batch in unit.batches(batch_rows=batch_rows):
        acc.update(batch)
        release_freed_memory()
    acc.sources.append(unit.label.split(" (row group")[0])
    return acc


def accumulate_each(units: Sequence[WorkUnit], batch_rows: int) -> list[StatisticsAccumulator]:
    """One accumulator per unit of ``units``, in order (a worker's share of the work)."""
    return [accumulate_unit(unit, batch_rows) for unit in units]


def split_units(units: Sequence[WorkUnit], parts: int) -> list[list[WorkUnit]]:
    """``units`` cut into at most ``parts`` non-empty runs of consecutive units, in order."""
    parts = max(1, min(parts, len(units)))
    bounds = [len(units) * i // parts for i in range(parts + 1)]
    return [list(units[a:b]) for a, b in itertools.pairwise(bounds)]
