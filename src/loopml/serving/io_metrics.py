"""Input and output metrics of every served model, counted off the request path.

The seed's three classes of serving metrics are software (requests, latency: :mod:`.metrics`),
input and output. This sink counts, per model and feature, missing values, atypical values by
reason (when the model scores its inputs) and the characters of string values (their mean length
is ``rate(chars) / rate(values)``); per output, predicted-class counts, a score histogram for
class probabilities and null outputs. :meth:`IOMetrics.record` only enqueues; one thread counts in
batches, so a request never waits for it, and a full queue drops (and counts) instead of blocking.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping

import numpy as np
from prometheus_client import Histogram

from loopml.inference.inputs import ModelInput
from loopml.serving.dataplane import InferenceResult
from loopml.serving.metrics import ServingMetrics

__all__ = ["MAX_CLASSES", "IOMetrics"]

_log = logging.getLogger("loopml.serving")
#: Distinct class labels counted per output; further labels are counted as ``_other`` (bounded
#: label cardinality, whatever the model predicts).
MAX_CLASSES = 100
_OTHER = "_other"


def _missing(values: np.ndarray) -> int:
    if values.dtype.kind == "f":
        return int(np.count_nonzero(np.isnan(values)))
    if values.dtype == object:
        return sum(1 for v in values.tolist() if v is None or (isinstance(v, float) and v != v))
    return 0


def _joined(parts: list[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each name's values of every part, concatenated (parts of another kind or width are
    concatenated apart, so a string column never turns numbers into strings)."""
    groups: dict[tuple[str, str, tuple[int, ...]], list[np.ndarray]] = {}
    for part in parts:
        for key, values in part.items():
            array = np.asarray(values)
            groups.setdefault((key, array.dtype.kind, array.shape[1:]), []).append(array)
    joined: dict[str, np.ndarray] = {}
    for (key, *_), arrays in groups.items():
        values = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        joined[key] = values if key not in joined else np.concatenate([joined[key], values.astype(object)])
    return joined


def _observe_all(histogram: Histogram, values: np.ndarray) -> None:
    """``histogram.observe`` each value, one increment per bucket (a flush observes thousands).

    prometheus_client has no bulk observe; this adds to the child's buckets and sum as ``observe``
    does (the first bucket whose upper bound is >= the value), and falls back to ``observe``
    per value should those attributes ever change.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets, total = getattr(histogram, "_buckets", None), getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for value in values.tolist():
            histogram.observe(value)
        return
    counts = np.bincount(
        np.searchsorted(np.asarray(bounds, dtype=float), values, side="left"), minlength=len(bounds)
    )
    for bucket, count in zip(buckets, counts.tolist(), strict=False):
        if count:
            bucket.inc(count)
    total.inc(float(values.sum()))


def _label_counts(values: np.ndarray) -> list[tuple[str, int]]:
    """Each distinct label (as text) and its count; the values are sorted as they are, which is
    several times faster than sorting their strings, and made text once each."""
    try:
        labels, counts = np.unique(values, return_counts=True)
    except TypeError:  # labels of mixed types do not sort together: compare their text
        labels, counts = np.unique(values.astype(str), return_counts=True)
    return [(str(label), count) for label, count in zip(labels.tolist(), counts.tolist(), strict=True)]


def _string_chars(values: np.ndarray) -> tuple[int, int]:
    """(characters, string values) of an object or unicode column."""
    if values.dtype.kind == "U":
        return int(np.char.str_len(values).sum()), len(values)
    strings = [v for v in values.tolist() if isinstance(v, str)]
    return sum(len(s) for s in strings), len(strings)


class IOMetrics:
    """An :class:`~loopml.serving.dataplane.InferenceSink` counting input and output metrics.

    Args:
        metrics: The server's metrics (the families this sink increments live there).
        capacity: Requests the queue holds before new ones are dropped (and counted).
        flush_interval_s: How often the counting thread wakes up.
    """

    def __init__(
        self, metrics: ServingMetrics, *, capacity: int = 10_000, flush_interval_s: float = 0.5
    ) -> None:
        self._metrics = metrics
        self._queue: queue.Queue[tuple[InferenceResult, ModelInput]] = queue.Queue(maxsize=capacity)
        self._classes: dict[tuple[str, str], set[str]] = {}
        self._stopping = threading.Event()
        self._interval = flush_interval_s
        self._thread = threading.Thread(target=self._drain, name="io-metrics", daemon=True)
        self._thread.start()

    def record(
        self, result: InferenceResult, rows: ModelInput, *, protocol: str, principal: str | None
    ) -> None:
        """Enqueue one answered request; drop and count it when the queue is full."""
        try:
            self._queue.put_nowait((result, rows))
        except queue.Full:
            self._metrics.io_dropped.inc()

    def close(self) -> None:
        """Count what is queued and stop."""
        self._stopping.set()
        self._thread.join(10)

    def flush(self) -> None:
        """Count everything queued now (tests; the thread does this by itself)."""
        batch: list[tuple[InferenceResult, ModelInput]] = []
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        groups: dict[int, list[tuple[InferenceResult, ModelInput]]] = {}
        for item in batch:
            groups.setdefault(id(item[0].model), []).append(item)
        for items in groups.values():
            try:
                self._count(items)
            except Exception:  # metrics must never take the server down; the failure is logged
                _log.exception("input/output metrics: could not count requests to %s", items[0][0].model.name)

    def _drain(self) -> None:
        while True:
            stopping = self._stopping.wait(self._interval)
            self.flush()
            if stopping:
                return

    def _count(self, items: list[tuple[InferenceResult, ModelInput]]) -> None:
        """Count the requests one model answered since the last flush, in bulk (one increment per
        feature and output, not per request: at 1,000 requests/s, per-request counting cost more
        CPU than parsing the requests)."""
        m = self._metrics
        model = items[0][0].model
        name = model.name
        matrices = [rows.matrix for _, rows in items if rows.matrix is not None]
        if len(matrices) == len(items):  # the NumPy path: one concatenation, then column views
            matrix = np.concatenate(matrices)
            inputs = {feature: matrix[:, i] for i, feature in enumerate(model.schema.names)}
        else:
            inputs = _joined([rows.column_values(model.schema) for _, rows in items])
        for feature, values in inputs.items():
            m.feature_values.labels(name, feature).inc(len(values))
            missing = _missing(values)
            if missing:
                m.feature_missing.labels(name, feature).inc(missing)
            if values.dtype == object or values.dtype.kind == "U":
                chars, strings = _string_chars(values)
                if strings:
                    m.feature_string_chars.labels(name, feature).inc(chars)
                    m.feature_string_values.labels(name, feature).inc(strings)
        atypical: dict[tuple[str, str], int] = {}
        for result, _ in items:
            for row_flags in result.flags:
                for flag in row_flags:  # "out_of_range:age", "unseen:city", "distance"
                    reason, _, feature = flag.partition(":")
                    if feature:
                        atypical[feature, reason] = atypical.get((feature, reason), 0) + 1
        for (feature, reason), count in atypical.items():
            m.feature_atypical.labels(name, feature, reason).inc(count)
        for output, values in _joined([result.outputs for result, _ in items]).items():
            self._count_output(name, output, values)

    def _count_output(self, model: str, output: str, values: np.ndarray) -> None:
        m = self._metrics
        if values.ndim == 2 and values.dtype.kind == "f":  # class probabilities: the top score
            scores = values.max(axis=1) if values.shape[1] else np.array([])
            nulls = int(np.count_nonzero(np.isnan(scores)))
            _observe_all(m.output_score.labels(model, output), scores[~np.isnan(scores)])
        elif values.ndim == 1 and values.dtype.kind in "iubUO":  # labels
            nulls = _missing(values) if values.dtype == object else 0
            present = values[np.array([v is not None for v in values.tolist()])] if nulls else values
            for label, count in _label_counts(present):
                m.output_class.labels(model, output, self._class_label(model, output, label)).inc(count)
        else:  # regression values and anything else: only nulls are counted
            nulls = _missing(values.reshape(-1)) if values.size else 0
        if nulls:
            m.output_nulls.labels(model, output).inc(nulls)

    def _class_label(self, model: str, output: str, label: str) -> str:
        seen = self._classes.setdefault((model, output), set())
        if label in seen:
            return label
        if len(seen) >= MAX_CLASSES:
            return _OTHER
        seen.add(label)
        return label
