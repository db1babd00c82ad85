"""Writes the prediction log off the request path: a bounded queue drained by one thread.

:meth:`PredictionLogger.record` only samples and enqueues (never blocks, never raises); when the
queue is full the record is dropped and counted. The writer thread turns queued requests into
:class:`~loopml.monitor.PredictionRecord` rows and appends them as Parquet, at most every
``flush_interval_s`` seconds. Records still queued when the process is killed (SIGKILL) are lost:
at most ``flush_interval_s`` seconds' worth, or ``capacity`` requests.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from loopml.errors import InvalidInput
from loopml.monitor import PredictionRecord, write_prediction_records
from loopml.serving.dataplane import InferenceResult
from loopml.serving.inputs import ModelInput

__all__ = ["PredictionLogger"]

_log = logging.getLogger("loopml.serving")
_Item = tuple[InferenceResult, ModelInput, str, str | None, dt.datetime]


def _records(item: _Item) -> list[PredictionRecord]:
    result, rows, protocol, principal, when = item
    model = result.model
    columns = {name: values.tolist() for name, values in rows.column_values(model.schema).items()}
    outputs = {name: values.tolist() for name, values in result.outputs.items()}
    latency_ms = result.latency_s * 1000
    return [
        PredictionRecord(
            request_id=result.request_id,
            row=i,
            model=model.name,
            version=model.version,
            time=when,
            protocol=protocol,
            principal=principal,
            latency_ms=latency_ms,
            inputs={name: values[i] for name, values in columns.items()},
            outputs={name: values[i] for name, values in outputs.items()},
        )
        for i in range(rows.n_rows)
    ]


class PredictionLogger:
    """An :class:`~loopml.serving.dataplane.InferenceSink` writing the prediction log.

    Args:
        root: The log's root folder.
        sample_rates: Model name → fraction of requests logged (default 1.0 for every model).
        capacity: Requests the queue holds before new ones are dropped.
        flush_interval_s: Longest time a record waits in memory.
        on_drop: Called once per dropped request (a metrics counter).
        on_write: Called with the number of rows written.
    """

    def __init__(
        self,
        root: Path,
        *,
        sample_rates: Mapping[str, float] | None = None,
        capacity: int = 10_000,
        flush_interval_s: float = 1.0,
        on_drop: Callable[[], None] | None = None,
        on_write: Callable[[int], None] | None = None,
    ) -> None:
        for name, rate in (sample_rates or {}).items():
            if not 0.0 <= rate <= 1.0:
                raise InvalidInput(f"Prediction-log sample rate of {name!r} must be in [0, 1]; got {rate!r}.")
        self.root = Path(root)
        self.dropped = 0
        self._rates = dict(sample_rates or {})
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=capacity)
        self._interval = flush_interval_s
        self._on_drop = on_drop
        self._on_write = on_write
        self._random = random.Random()
        self._thread = threading.Thread(target=self._drain, name="prediction-log", daemon=True)
        self._thread.start()

    def record(
        self, result: InferenceResult, rows: ModelInput, *, protocol: str, principal: str | None
    ) -> None:
        """Enqueue one answered request (sampled); drops and counts it when the queue is full."""
        rate = self._rates.get(result.model.name, 1.0)
        if rate < 1.0 and self._random.random() >= rate:
            return
        try:
            self._queue.put_nowait((result, rows, protocol, principal, dt.datetime.now(dt.UTC)))
        except queue.Full:
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the writer."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            _log.warning("prediction log: queue still full at shutdown; queued records are lost")
            return
        self._thread.join(timeout)

    def _drain(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Item] = []
            deadline = time.monotonic() + self._interval
            while True:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            if batch:
                self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        try:
            records = [r for item in batch for r in _records(item)]
            write_prediction_records(self.root, records)
        except Exception:  # the log must never take the server down; the failure is logged
            _log.exception("prediction log: could not write %d request(s)", len(batch))
            return
        if self._on_write is not None:
            self._on_write(len(records))
