"""Shadow traffic: copies of answered requests sent to shadow models, off the request path.

The request path only *offers* a copy (:meth:`ShadowMirror.offer`, never blocking); a bounded
queue holds the copies and a few worker tasks predict them on the shadows' own thread, so a slow
or failing shadow can neither slow nor fail the primary. A full queue drops the copy and counts it.
Each shadow answer is compared with the primary's output of the same request and handed to the
deployment's :class:`~loopml.deploy.collector.ObservationCollector`; it is never returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from loopml.deploy.collector import ObservationCollector
from loopml.inference.inputs import ModelInput
from loopml.inference.outputs import PREDICT

__all__ = ["MirrorJob", "ShadowMirror", "output_values"]

_log = logging.getLogger("loopml.serving")
#: Outputs per request kept for comparison and distribution gates (the rest of a batch is skipped).
MAX_ROWS_OBSERVED = 32

Predict = Callable[[ModelInput], Awaitable[dict[str, np.ndarray]]]


def output_values(outputs: dict[str, np.ndarray]) -> list[float | str]:
    """The first rows' ``predict`` outputs as plain numbers or strings (what the gates compare)."""
    values = outputs.get(PREDICT)
    if values is None:
        return []
    found: list[float | str] = []
    for v in np.asarray(values)[:MAX_ROWS_OBSERVED].tolist():
        found.append(v if isinstance(v, str) else float(v) if isinstance(v, int | float) else str(v))
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorJob:
    """One copy of a request for one shadow.

    Attributes:
        deployment: The deployment's name.
        shadow: The shadow's name.
        predict: Predicts on the shadow (its batcher, on the shadows' thread).
        rows: The request's rows.
        primary: The primary's outputs of those rows (:func:`output_values`).
        collector: Where the comparison goes.
        done: Called once the job ends, however it ends (releases the shadow model).
    """

    deployment: str
    shadow: str
    predict: Predict
    rows: ModelInput
    primary: list[float | str]
    collector: ObservationCollector
    done: Callable[[], None]


class ShadowMirror:
    """A bounded queue of shadow copies and the tasks that predict them.

    Args:
        capacity: Copies queued at most; further ones are dropped.
        workers: Concurrent shadow predictions (their batcher groups them).
        on_drop: Called with (deployment, shadow) for each dropped copy.
        on_answer: Called with (deployment, shadow, status) after each shadow prediction.
    """

    def __init__(
        self,
        *,
        capacity: int = 1_000,
        workers: int = 64,
        on_drop: Callable[[str, str], None] | None = None,
        on_answer: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.dropped = 0
        self._capacity = capacity
        self._workers_wanted = workers
        self._queue: asyncio.Queue[MirrorJob] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._on_drop = on_drop
        self._on_answer = on_answer

    def offer(self, job: MirrorJob) -> bool:
        """Queue ``job`` if there is room (call from the event loop); False when it was dropped."""
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=self._capacity)
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._work()) for _ in range(self._workers_wanted)]
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self.dropped += 1
            job.done()
            if self._on_drop is not None:
                self._on_drop(job.deployment, job.shadow)
            return False
        return True

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            try:
                await self._run(job)
            finally:
                job.done()
                self._queue.task_done()

    async def _run(self, job: MirrorJob) -> None:
        started = time.perf_counter()
        try:
            outputs = await job.predict(job.rows)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a failing shadow is observed, never propagated
            _log.debug("shadow %s of %s failed: %s", job.shadow, job.deployment, err)
            latency = (time.perf_counter() - started) * 1000
            job.collector.record_mirror(job.shadow, error=True, latency_ms=latency)
            self._answered(job, "error")
            return
        latency = (time.perf_counter() - started) * 1000
        pairs = list(zip(job.primary, output_values(outputs), strict=False))
        job.collector.record_mirror(job.shadow, error=False, latency_ms=latency, pairs=pairs)
        self._answered(job, "ok")

    def _answered(self, job: MirrorJob, status: str) -> None:
        if self._on_answer is not None:
            self._on_answer(job.deployment, job.shadow, status)

    async def close(self) -> None:
        """Stop the workers; queued copies are discarded."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait().done()
