"""Writes the prediction log off the request path: a bounded queue drained by one thread.

:meth:`PredictionLogger.record` only samples and enqueues (never blocks, never raises); when the
queue is full the record is dropped and counted. The writer thread concatenates the queued
requests' columns into log tables (:func:`~loopml.monitor.prediction_table`) and appends them as
Parquet, at most every
``flush_interval_s`` seconds. Records still queued when the process is killed (SIGKILL) are lost:
at most ``flush_interval_s`` seconds' worth, or ``capacity`` requests.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa

from loopml.errors import InvalidInput
from loopml.inference.inputs import ModelInput
from loopml.monitor import prediction_table, write_prediction_table
from loopml.serving.dataplane import InferenceResult

__all__ = ["PredictionLogger"]

_log = logging.getLogger("loopml.serving")
_Item = tuple[InferenceResult, ModelInput, str, str | None, np.datetime64]


def _table(items: list[_Item]) -> pa.Table:
    """One log table for requests one model version answered (columns concatenated, no per-row work)."""
    model = items[0][0].model
    matrices = [rows.matrix for _, rows, _, _, _ in items if rows.matrix is not None]
    if len(matrices) == len(items):  # the NumPy path: one concatenation, then column views
        # one copy, column-major, so each column goes to Arrow without another
        matrix = np.concatenate(
            matrices, out=np.empty((sum(len(m) for m in matrices), len(model.schema.names)), order="F")
        )
        columns = {name: matrix[:, i] for i, name in enumerate(model.schema.names)}
    else:
        parts = [rows.column_values(model.schema) for _, rows, _, _, _ in items]
        columns = {name: np.concatenate([part[name] for part in parts]) for name in model.schema.names}
    return prediction_table(
        model=model.name,
        version=model.version,
        model_versions=model.registered_versions,
        request_ids=[result.request_id for result, *_ in items],
        times=np.array([when for *_, when in items]),
        protocols=[protocol for _, _, protocol, _, _ in items],
        principals=[principal for _, _, _, principal, _ in items],
        latency_ms=[result.latency_s * 1000 for result, *_ in items],
        sizes=[rows.n_rows for _, rows, _, _, _ in items],
        inputs=columns,
        outputs={name: np.concatenate([r.outputs[name] for r, *_ in items]) for name in items[0][0].outputs},
        flags=[f for r, rows, *_ in items for f in (r.flags or ((),) * rows.n_rows)]
        if any(r.flags for r, *_ in items)
        else None,
        row_numbers=np.concatenate(
            [r.positions if r.positions is not None else np.arange(rows.n_rows) for r, rows, *_ in items]
        )
        if any(r.positions is not None for r, *_ in items)
        else None,
    )


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
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=capacity)
        self._stopping = threading.Event()
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
            self._queue.put_nowait((result, rows, protocol, principal, np.datetime64(time.time_ns(), "ns")))
        except queue.Full:
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the writer."""
        self._stopping.set()
        self._thread.join(timeout)

    def _drain(self) -> None:
        # The writer sleeps between flushes instead of waiting on the queue, so requests never
        # wake it (one wake-up per request would hand the GIL back and forth with the server).
        while True:
            stopping = self._stopping.wait(self._interval)
            batch: list[_Item] = []
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[_Item]) -> None:
        # Routes of one deployment answer under its name: a canary of another registered model may
        # have the primary's version number, so the registered versions tell them apart.
        groups: dict[tuple[str, str, tuple[str, ...]], list[_Item]] = {}
        for item in batch:
            model = item[0].model
            groups.setdefault((model.name, model.version, model.registered_versions), []).append(item)
        for items in groups.values():
            try:
                table = _table(items)
                write_prediction_table(self.root, table)
            except Exception:  # the log must never take the server down; the failure is logged
                _log.exception("prediction log: could not write %d request(s)", len(items))
                continue
            if self._on_write is not None:
                self._on_write(table.num_rows)
