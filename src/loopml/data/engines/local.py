"""The ``local`` engine: a process pool over files / row groups, partial accumulators merged.

Workers come from a ``forkserver`` (``spawn`` where that does not exist) that preloads the
statistics kernel once, with ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS``
set to 1 in its environment before NumPy is imported there (BLAS thread pools busy-wait and halve
throughput otherwise; see SCALE-OUT.md). Forking from a clean server keeps pyarrow's threads of
this process out of the children. Each unit gets an accumulator of its own and they are merged
in unit order (see :mod:`loopml.data.engines._work`), so the worker count never changes a byte of
the result. One unit, ``max_workers=1``, or less than
:data:`MIN_PARALLEL_BYTES` of input runs in this process: starting workers costs about a second,
more than it saves on small data.

Workers never import the caller's ``__main__``: the work they run lives in loopml, so a plain
script calling ``compute_statistics(..., max_workers=2)`` needs no ``if __name__ == "__main__":``
guard (multiprocessing would otherwise re-run the script in every worker, which then fails to
start its own pool: ``BrokenProcessPool``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from loopml.data.accumulator import StatisticsAccumulator
from loopml.data.engines._work import accumulate_each, accumulate_unit, split_units
from loopml.data.sources import BATCH_ROWS, WorkUnit

__all__ = ["run_local"]

MIN_PARALLEL_BYTES = 128 * 1024 * 1024
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_ENV_LOCK = threading.Lock()


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Children spawned inside inherit one-thread BLAS settings; this process's env is restored."""
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Workers started inside do not re-import ``__main__`` (they only run loopml code)."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    # callers hold _ENV_LOCK (see run_local), so concurrent pools do not interleave here
    saved: dict[str, object] = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["loopml.data.engines._work"])
        return context
    return multiprocessing.get_context("spawn")


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
    context = _context()
    with _single_threaded_children(), _main_module_hidden():
        pool = ProcessPoolExecutor(max_workers=min(workers, len(groups)), mp_context=context)
        futures = [pool.submit(accumulate_each, group, batch_rows) for group in groups]
    with pool:
        for done, future in enumerate(futures, start=1):  # in unit order, never completion order
            for part in future.result():
                total.merge(part)
            if progress is not None:
                progress(done, len(futures))
    return total
