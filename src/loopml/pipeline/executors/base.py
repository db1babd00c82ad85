"""The :class:`Executor` protocol: where a step's function body runs."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol

from loopml.pipeline._execution import StepOutcome, StepTask

__all__ = ["Executor"]


class Executor(Protocol):
    """Runs step tasks and hands back futures of their outcomes.

    The runner keeps all store writes to itself; an executor only runs
    :func:`loopml.pipeline._execution.execute_task` somewhere and returns its
    :class:`StepOutcome` (failures included, never raised). Independent steps may be submitted
    before earlier ones finish; an executor decides how many run at once.
    """

    @property
    def name(self) -> str:
        """Short name recorded on the pipeline run (``local``, ``ray``)."""
        ...

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        """Start ``task``; the future resolves to its outcome."""
        ...

    def close(self) -> None:
        """Release workers (idempotent)."""
        ...
