"""Adaptive micro-batching: concurrent requests to one model are predicted together.

A lone request is predicted at once (no added latency). While a batch is being predicted, new
requests queue up and form the next batch, up to ``max_batch_rows`` rows. Once the batcher has
seen concurrency (recent batches held more than one request) it also waits up to ``max_wait_ms``
for the batch to fill: while requests are inside the server on their way to a batcher (read,
parsed or checked by a protocol adapter, see :class:`Arrivals`), or while the batch holds fewer
requests than the largest of the recent batches. A batch as large as those, with nothing more on
its way, goes at once: with 8 clients sending one row each, the eighth request starts the batch
instead of an idle wait for rows that never come. A request is never split across batches; if a
batch of several requests fails on bad values, each request is retried alone so only the faulty
one gets the error.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import dataclasses
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor

import numpy as np

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput, concat_inputs
from loopml.inference.model import ServedModel
from loopml.inference.outputs import SCORES, positive_scores
from loopml.serving import tracing

__all__ = ["Arrivals", "BatchObserver", "MicroBatcher"]

#: Called after each batch with (requests, rows, seconds spent predicting).
BatchObserver = Callable[[int, int, float], None]
_EMA = 0.2  # weight of the newest batch in the running mean of requests per batch
_LOOP_TURNS = 2  # event-loop turns a filling batch yields: read sockets, then start their requests
_RECENT = 8  # batches whose largest request count a filling batch waits for


class Arrivals:
    """Counts the inference requests inside the server that have not reached a batcher yet.

    A protocol adapter wraps each inference request in :meth:`request`; the request stops counting
    when it reaches :meth:`MicroBatcher.predict` (or ends without reaching one: refused, bad
    input). A batcher waits for more requests only while this count says some are on their way.
    Used from the event loop's thread only.

    Example:
        >>> arrivals = Arrivals()
        >>> with arrivals.request():
        ...     arrivals.upstream
        1
        >>> arrivals.upstream
        0
    """

    __slots__ = ("_waiting", "batched", "upstream")

    def __init__(self) -> None:
        self.upstream = 0
        self.batched = 0  # requests that reached any batcher, ever: a filling batch counts its cycle
        self._waiting: set[asyncio.Event] = set()  # filling batches, woken when none is on its way

    @contextlib.contextmanager
    def notify(self, event: asyncio.Event) -> Iterator[None]:
        """Inside the block, set ``event`` as soon as no request is on its way any more."""
        self._waiting.add(event)
        try:
            yield
        finally:
            self._waiting.discard(event)

    def _arrived(self) -> None:
        self.upstream -= 1
        if self.upstream == 0:
            for event in self._waiting:  # the last one went elsewhere (another model) or failed
                event.set()

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Count the request handled inside the block until it reaches a batcher."""
        arrival = _Arrival(self)
        self.upstream += 1
        token = _ARRIVAL.set(arrival)
        try:
            yield
        finally:
            _ARRIVAL.reset(token)
            arrival.reached()


class _Arrival:
    __slots__ = ("_arrivals",)

    def __init__(self, arrivals: Arrivals) -> None:
        self._arrivals: Arrivals | None = arrivals

    def reached(self) -> None:
        if self._arrivals is not None:
            self._arrivals._arrived()
            self._arrivals = None


_ARRIVAL: contextvars.ContextVar[_Arrival | None] = contextvars.ContextVar("loopml_arrival", default=None)


@dataclasses.dataclass(slots=True)
class _Pending:
    rows: ModelInput
    future: asyncio.Future[dict[str, np.ndarray]]
    queued_at: float
    queued_ns: int = 0  # wall clock, for the trace's queue/predict spans (0: not traced)
    batch_ns: tuple[int, int, int] = (0, 0, 0)  # (start, end, requests in the batch)
    seq: int = 0  # Arrivals.batched once this request reached its batcher (0: no arrivals)


def _split(outputs: dict[str, np.ndarray], sizes: list[int]) -> list[dict[str, np.ndarray]]:
    parts: list[dict[str, np.ndarray]] = []
    start = 0
    for size in sizes:
        parts.append({name: values[start : start + size] for name, values in outputs.items()})
        start += size
    return parts


class MicroBatcher:
    """Batches the requests of one model.

    Args:
        model: The served model.
        executor: Where predictions run (default: the event loop's default executor).
        observer: Told about each batch (metrics).
        keep_scores: Add the raw positive-class probabilities of a binary classifier under
            :data:`~loopml.inference.outputs.SCORES` (before the output policy hides or rounds
            them): the caller takes them out before answering (a deployment's release gates).
        arrivals: The requests on their way (shared by the server's batchers); None: a filling
            batch waits up to ``max_wait_ms`` whether or not any request is coming.
    """

    def __init__(
        self,
        model: ServedModel,
        *,
        executor: Executor | None = None,
        observer: BatchObserver | None = None,
        keep_scores: bool = False,
        arrivals: Arrivals | None = None,
    ) -> None:
        self.model = model
        self._arrivals = arrivals
        self._keep_scores = keep_scores
        self._executor = executor
        self._observer = observer
        self._queue: collections.deque[_Pending] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._mean_requests = 1.0
        self._recent: collections.deque[int] = collections.deque(maxlen=_RECENT)  # requests per cycle

    async def predict(self, rows: ModelInput) -> dict[str, np.ndarray]:
        """The post-processed outputs for ``rows``.

        Raises:
            InvalidInput: the model refused the values of this request.
        """
        arrival = _ARRIVAL.get()
        if arrival is not None:
            arrival.reached()
        if self._arrivals is not None:
            self._arrivals.batched += 1
        loop = asyncio.get_running_loop()
        if not self.model.batching.enabled:
            started = tracing.mark()
            outputs = await loop.run_in_executor(self._executor, self._predict_one, rows)
            tracing.record_child("predict", started, rows=rows.n_rows, batch_requests=1)
            return outputs
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = loop.create_task(self._run())
        future: asyncio.Future[dict[str, np.ndarray]] = loop.create_future()
        pending = _Pending(
            rows=rows,
            future=future,
            queued_at=time.perf_counter(),
            queued_ns=tracing.mark(),
            seq=self._arrivals.batched if self._arrivals is not None else 0,
        )
        self._queue.append(pending)
        assert self._wakeup is not None
        self._wakeup.set()
        outputs = await future
        if pending.queued_ns:
            start, end, requests = pending.batch_ns
            tracing.record_child("queue", pending.queued_ns, start)
            tracing.record_child("predict", start, end, rows=rows.n_rows, batch_requests=requests)
        return outputs

    async def close(self) -> None:
        """Stop the worker; queued requests fail with an error saying the server is stopping."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while self._queue:
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("The model server is stopping."))

    def _outputs(self, rows: ModelInput) -> dict[str, np.ndarray]:
        raw = self.model.predict(rows)
        outputs = self.model.postprocess(raw)
        if self._keep_scores:
            scores = positive_scores(raw)
            if scores is not None:
                outputs[SCORES] = scores
        return outputs

    def _predict_one(self, rows: ModelInput) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        outputs = self._outputs(rows)
        if self._observer is not None:
            self._observer(1, rows.n_rows, time.perf_counter() - started)
        return outputs

    def _take(self) -> list[_Pending]:
        limit = self.model.batching.max_batch_rows
        batch = [self._queue.popleft()]
        rows = batch[0].rows.n_rows
        while self._queue and rows + self._queue[0].rows.n_rows <= limit:
            item = self._queue.popleft()
            batch.append(item)
            rows += item.rows.n_rows
        return batch

    async def _fill(self, batch: list[_Pending]) -> tuple[list[_Pending], int]:
        """Wait up to max_wait for more requests, when recent load suggests they are coming; the
        batch and its cycle: the requests that reached this or another batcher meanwhile (a
        deployment's canary takes some of the requests a primary's batch would otherwise wait for).
        """
        settings = self.model.batching
        mark = batch[0].seq - 1  # the requests that reached a batcher before this batch's first

        def cycle() -> int:
            return self._arrivals.batched - mark if self._arrivals else len(batch)

        if self._mean_requests < 1.5 or settings.max_wait_ms <= 0:
            return batch, cycle()
        assert self._wakeup is not None
        deadline = time.perf_counter() + settings.max_wait_ms / 1000
        rows = sum(p.rows.n_rows for p in batch)
        expected = max(self._recent, default=1)
        while rows < settings.max_batch_rows:
            if not self._queue and cycle() >= expected and not await self._coming():
                break
            if not self._queue:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                watch = self._arrivals.notify(self._wakeup) if self._arrivals else contextlib.nullcontext()
                with watch:
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), remaining)
                    except TimeoutError:
                        break
                continue
            if rows + self._queue[0].rows.n_rows > settings.max_batch_rows:
                break
            item = self._queue.popleft()
            batch.append(item)
            rows += item.rows.n_rows
        return batch, cycle()

    async def _coming(self) -> bool:
        """Whether a request inside the server may still join the batch (True without arrivals: wait)."""
        if self._arrivals is None:
            return True
        for _ in range(_LOOP_TURNS):  # let the loop read ready sockets and start their requests
            if self._arrivals.upstream > 0 or self._queue:
                return True
            await asyncio.sleep(0)
        return self._arrivals.upstream > 0 or bool(self._queue)

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch, cycle = await self._fill(self._take())
            self._mean_requests = (1 - _EMA) * self._mean_requests + _EMA * len(batch)
            self._recent.append(cycle)
            live = [p for p in batch if not p.future.cancelled()]
            if not live:
                continue
            traced = any(p.queued_ns for p in live)
            started = time.time_ns() if traced else 0
            results = await loop.run_in_executor(self._executor, self._predict_batch, [p.rows for p in live])
            if traced:
                times = (started, time.time_ns(), len(live))
                for pending in live:
                    pending.batch_ns = times
            for pending, result in zip(live, results, strict=True):
                if pending.future.done():
                    continue
                if isinstance(result, BaseException):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)

    def _predict_batch(self, inputs: list[ModelInput]) -> list[dict[str, np.ndarray] | BaseException]:
        try:
            if len(inputs) == 1:
                return [self._predict_one(inputs[0])]
            started = time.perf_counter()
            rows = concat_inputs(inputs)
            outputs = self._outputs(rows)
            if self._observer is not None:
                self._observer(len(inputs), rows.n_rows, time.perf_counter() - started)
            return list(_split(outputs, [i.n_rows for i in inputs]))
        except InvalidInput as err:
            if len(inputs) == 1:
                return [err]
        except Exception as err:  # surfaced to every caller; the server answers 500
            return [err for _ in inputs]
        answers: list[dict[str, np.ndarray] | BaseException] = []
        for rows_alone in inputs:  # one request's bad values must not fail its neighbours
            try:
                answers.append(self._predict_one(rows_alone))
            except Exception as err:
                answers.append(err)
        return answers
