"""Shadow traffic: copies of answered requests sent to shadow models, off the request path.

The request path only *offers* a copy (:meth:`ShadowMirror.offer`, never blocking); a bounded
queue holds the copies and one task predicts them in bulk on the shadows' own thread (the copies
waiting for one shadow model are predicted as one batch), so a slow or failing shadow can neither
slow nor fail the primary, and the event loop spends a few microseconds per copy. A full queue
drops the copy and counts it.
Each shadow answer is compared with the primary's output of the same request and handed to the
deployment's :class:`~loopml.deploy.collector.ObservationCollector`; it is never returned.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from loopml.deploy.collector import ObservationCollector
from loopml.inference.inputs import ModelInput, concat_inputs
from loopml.inference.model import ServedModel
from loopml.inference.outputs import PREDICT

__all__ = ["MirrorJob", "ShadowMirror", "output_values", "predict_copies"]

_log = logging.getLogger("loopml.serving")
#: Outputs per request kept for comparison and distribution gates (the rest of a batch is skipped).
MAX_ROWS_OBSERVED = 32

Answer = dict[str, np.ndarray] | BaseException


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
        model: The shadow's model.
        rows: The request's rows.
        primary: The primary's outputs of those rows (:func:`output_values`).
        collector: Where the comparison goes.
        done: Called once the job ends, however it ends (releases the shadow model).
    """

    deployment: str
    shadow: str
    model: ServedModel
    rows: ModelInput
    primary: list[float | str]
    collector: ObservationCollector
    done: Callable[[], None]


def predict_copies(model: ServedModel, inputs: list[ModelInput]) -> list[Answer]:
    """Post-processed outputs of ``model`` for each of ``inputs``, predicted as one batch.

    When the batch fails, each input is predicted alone so only the faulty ones get an error.
    """
    try:
        outputs = model.postprocess(model.predict(concat_inputs(inputs)))
    except Exception:  # a shadow's failure is its own; attribute it copy by copy
        answers: list[Answer] = []
        for rows in inputs:
            try:
                answers.append(model.postprocess(model.predict(rows)))
            except Exception as err:
                answers.append(err)
        return answers
    found: list[Answer] = []
    start = 0
    for rows in inputs:
        found.append({name: values[start : start + rows.n_rows] for name, values in outputs.items()})
        start += rows.n_rows
    return found


class ShadowMirror:
    """A bounded queue of shadow copies and the task that predicts them.

    Args:
        executor: Where shadow predictions run (its own thread; default: the loop's executor).
        capacity: Copies queued at most; further ones are dropped.
        max_batch_rows: Rows predicted together at most.
        on_drop: Called with (deployment, shadow) for each dropped copy.
        on_answer: Called with (deployment, shadow, status) after each shadow prediction.
    """

    def __init__(
        self,
        *,
        executor: Executor | None = None,
        capacity: int = 1_000,
        max_batch_rows: int = 512,
        on_drop: Callable[[str, str], None] | None = None,
        on_answer: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.dropped = 0
        self._executor = executor
        self._capacity = capacity
        self._max_rows = max_batch_rows
        self._queue: collections.deque[MirrorJob] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_drop = on_drop
        self._on_answer = on_answer

    def offer(self, job: MirrorJob) -> bool:
        """Queue ``job`` if there is room (call from the event loop); False when it was dropped."""
        if len(self._queue) >= self._capacity:
            self.dropped += 1
            job.done()
            if self._on_drop is not None:
                self._on_drop(job.deployment, job.shadow)
            return False
        self._queue.append(job)
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._work())
        assert self._wakeup is not None
        self._wakeup.set()
        return True

    def _take(self) -> dict[int, list[MirrorJob]]:
        groups: dict[int, list[MirrorJob]] = {}
        rows = 0
        while self._queue and rows < self._max_rows:
            job = self._queue.popleft()
            groups.setdefault(id(job.model), []).append(job)
            rows += job.rows.n_rows
        return groups

    async def _work(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            for jobs in self._take().values():
                try:
                    started = time.perf_counter()
                    answers = await loop.run_in_executor(
                        self._executor, predict_copies, jobs[0].model, [j.rows for j in jobs]
                    )
                    latency_ms = (time.perf_counter() - started) * 1000
                    for job, answer in zip(jobs, answers, strict=True):
                        self._observe(job, answer, latency_ms)
                finally:
                    for job in jobs:
                        job.done()

    def _observe(self, job: MirrorJob, answer: Answer, latency_ms: float) -> None:
        if isinstance(answer, BaseException):
            _log.debug("shadow %s of %s failed: %s", job.shadow, job.deployment, answer)
            job.collector.record_mirror(job.shadow, error=True, latency_ms=latency_ms)
            status = "error"
        else:
            pairs = list(zip(job.primary, output_values(answer), strict=False))
            job.collector.record_mirror(job.shadow, error=False, latency_ms=latency_ms, pairs=pairs)
            status = "ok"
        if self._on_answer is not None:
            self._on_answer(job.deployment, job.shadow, status)

    async def close(self) -> None:
        """Stop the task; queued copies are discarded."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue:
            self._queue.popleft().done()
