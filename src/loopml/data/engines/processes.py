"""Worker processes for the local engines: a preloading ``forkserver`` started cleanly.

Workers come from a ``forkserver`` (``spawn`` where that does not exist) that imports the given
modules once, so each worker starts without re-importing them; forking from a clean server keeps
this process's threads (pyarrow's pools, a caller's OpenMP) out of the children. While a pool
starts inside :func:`worker_start`, ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` are 1 in the environment the children inherit (BLAS thread pools busy-wait
and halve throughput otherwise; see SCALE-OUT.md), pyarrow's jemalloc starts no background
thread in the server (a thread of the forking process must not hold an allocator lock), and
``__main__`` is hidden from them: the work they run lives in loopml, so a plain script starting a
pool needs no ``if __name__ == "__main__":`` guard (multiprocessing would otherwise re-run the
script in every worker, which then fails to start its own pool: ``BrokenProcessPool``).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = ["worker_context", "worker_start"]

_THREAD_VARS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# pyarrow's bundled jemalloc starts a background thread on import; a server that forks workers must
# not hold one (a thread holding an allocator lock at fork time deadlocks the child)
_FORK_SAFE_VARS = {"JE_ARROW_MALLOC_CONF": "background_thread:false"}
_START_LOCK = threading.Lock()


def worker_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """The start context for worker processes, preloading ``preload`` (module names) once."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))
        return context
    return multiprocessing.get_context("spawn")


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    wanted = _THREAD_VARS | {k: v for k, v in _FORK_SAFE_VARS.items() if k not in os.environ}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
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
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved: dict[str, object] = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


@contextmanager
def worker_start() -> Iterator[None]:
    """Start a process pool inside this block: one-thread BLAS children that never see ``__main__``.

    This process's environment and ``__main__`` are restored on exit; one block at a time.
    """
    with _START_LOCK, _single_threaded_children(), _main_module_hidden():
        yield
