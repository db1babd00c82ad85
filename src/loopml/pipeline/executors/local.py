"""The local executor: steps run in this process one by one, or in a process pool."""

from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor

from loopml.errors import InvalidInput
from loopml.pipeline._execution import StepOutcome, StepTask, execute_task

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Run steps in this process (``max_workers=1``) or in a pool of worker processes.

    With a pool, independent steps run at the same time, and components must be module-level
    functions of an importable module (workers import them by name); outcomes, errors included,
    come back pickled.

    Args:
        max_workers: 1 for in-process, sequential execution; more for a process pool.

    Example:
        >>> LocalExecutor().name
        'local'
    """

    def __init__(self, *, max_workers: int = 1) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise InvalidInput(f"max_workers must be an integer >= 1. Got {max_workers!r}.")
        self.max_workers = max_workers
        self._pool: ProcessPoolExecutor | None = None

    @property
    def name(self) -> str:
        return "local"

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        """Run ``task`` now (in-process) or hand it to the pool."""
        if self.max_workers == 1:
            future: Future[StepOutcome] = Future()
            future.set_result(execute_task(task))
            return future
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.max_workers)
        return self._pool.submit(execute_task, task)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
