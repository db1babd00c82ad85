"""The ``local`` engine: a process pool over files / row groups, partial accumulators merged.

Workers come from a ``forkserver`` that preloads the statistics kernel once, with one-thread
BLAS settings (see :mod:`loopml.data.engines.processes`). Each unit gets an accumulator of its
own and they are merged in unit order (see :mod:`loopml.data.engines._work`), so the worker count
never changes a byte of the result. One unit, ``max_workers=1``, or less than
:data:`MIN_PARALLEL_BYTES` of input runs in this process: starting workers costs about a second,
more than it saves on small data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from loopml.data.accumulator import StatisticsAccumulator
from loopml.data.engines._work import accumulate_each, accumulate_unit, split_units
from loopml.data.engines.processes import worker_context, worker_start
from loopml.data.sources import BATCH_ROWS, WorkUnit

__all__ = ["run_local"]

MIN_PARALLEL_BYTES = 128 * 1024 * 1024


def run_local(
    units: Sequence[WorkUnit],
    *,
    max_workers: int | None = None,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> StatisticsAccumulator:
    """Accumulate statistics of ``units`` with up to ``max_workers`` processes (default: CPU count).

    ``progress(done, total)`` is called as groups of units finish.
    """
    workers = max_workers or os.cpu_count() or 1
    small = max_workers is None and sum(u.size_bytes for u in units) < MIN_PARALLEL_BYTES
    total = StatisticsAccumulator()
    if workers <= 1 or len(units) <= 1 or small:
        for unit in units:  # one accumulator per unit, as in workers: the same bytes either way
            total.merge(accumulate_unit(unit, batch_rows))
        if progress is not None:
            progress(1, 1)
        return total
    groups = split_units(units, workers * 2)
    context = worker_context(["loopml.data.engines._work"])
    with worker_start():
        pool = ProcessPoolExecutor(max_workers=min(workers, len(groups)), mp_context=context)
        futures = [pool.submit(accumulate_each, group, batch_rows) for group in groups]
    with pool:
        for done, future in enumerate(futures, start=1):  # in unit order, never completion order
            for part in future.result():
                total.merge(part)
            if progress is not None:
                progress(done, len(futures))
    return total
