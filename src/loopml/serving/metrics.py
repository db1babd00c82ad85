"""Prometheus software metrics of the model server (one registry per app).

With several workers (``loopml serve --workers N``) every worker writes its counters into the
folder named by ``PROMETHEUS_MULTIPROC_DIR`` (set by the parent before the workers start), and
``/metrics`` on any worker answers the sum over all of them, plus each process's CPU and memory
labelled with its ``pid``: a scrape no longer depends on which worker the connection reached.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROCESS_ENV", "ServingMetrics", "multiprocess_dir"]

#: The environment variable prometheus_client reads, at import, to share metrics between processes.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PID_OF_FILE = re.compile(r"_(\d+)\.db$")


def multiprocess_dir() -> Path | None:
    """The shared metrics folder when this process writes multiprocess metrics, else ``None``.

    prometheus_client decides at import whether values live in memory or in shared files, so the
    folder must be in the environment before the worker process imports it.
    """
    path = os.environ.get(MULTIPROCESS_ENV)
    if path and values.ValueClass is not values.MutexValue:
        return Path(path)
    return None


class _WorkerProcesses(Collector):
    """CPU and memory of every process that writes into the shared folder, labelled by ``pid``."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _pids(self) -> list[int]:
        pids = {int(m.group(1)) for f in self._folder.glob("*.db") if (m := _PID_OF_FILE.search(f.name))}
        return sorted(p for p in pids if Path(f"/proc/{p}").exists())

    def collect(self) -> Iterable[Metric]:
        merged: dict[str, Metric] = {}
        for pid in self._pids():
            for family in ProcessCollector(pid=lambda p=pid: p, registry=None).collect():  # type: ignore[misc]
                target = merged.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type, family.unit)
                )
                for sample in family.samples:
                    labelled = sample._replace(labels={**sample.labels, "pid": str(pid)})
                    target.samples.append(labelled)
        return list(merged.values())


_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

#: Told about each predicted batch: (requests, rows, seconds).
BatchCallback = Callable[[int, int, float], None]


class ServingMetrics:
    """Requests by model/version/protocol/status, latencies, batch sizes, in-flight, process CPU/memory.

    Args:
        registry: Where the metrics live (default: a fresh one, so apps never share counters).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._shared = multiprocess_dir()
        if self._shared is None:
            ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "loopml_serving_requests",
            "Inference requests answered, by model, version (the one that answered; a request split "
            "over A/B arms counts once per arm), protocol and HTTP status.",
            ("model", "version", "protocol", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "loopml_serving_request_seconds",
            "Time to answer an inference request (parse, validate, queue, predict, render).",
            ("model", "protocol"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predict_seconds = Histogram(
            "loopml_serving_predict_seconds",
            "Time one batch spent in the model (transform and predict).",
            ("model",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "loopml_serving_batch_rows",
            "Rows per predicted batch.",
            ("model",),
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "loopml_serving_batch_requests",
            "Requests per predicted batch.",
            ("model",),
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "loopml_serving_in_flight_requests",
            "Inference requests being answered now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.log_dropped = Counter(
            "loopml_serving_prediction_log_dropped",
            "Prediction-log records dropped because the log queue was full.",
            registry=self.registry,
        )
        self.log_written = Counter(
            "loopml_serving_prediction_log_records", "Prediction-log records written.", registry=self.registry
        )
        self.atypical_requests = Counter(
            "loopml_serving_atypical_requests",
            "Requests with at least one atypical row, by the model's policy (log, flag, reject).",
            ["model", "policy"],
            registry=self.registry,
        )
        self.atypical_rows = Counter(
            "loopml_serving_atypical_rows",
            "Atypical request rows by reason (out_of_range, unseen, missing, distance).",
            ["model", "reason"],
            registry=self.registry,
        )
        self.restored_values = Counter(
            "loopml_serving_restored_values",
            "Input values the model's restore: policy repaired, by model, column and repair "
            "(clipped to the training range, fallback for an unseen category).",
            ["model", "column", "repair"],
            registry=self.registry,
        )

        # Input and output metrics (counted by loopml.serving.io_metrics, off the request path).
        self.feature_values = Counter(
            "loopml_serving_feature_values",
            "Input values received, by model and feature.",
            ["model", "feature"],
            registry=self.registry,
        )
        self.feature_missing = Counter(
            "loopml_serving_feature_missing",
            "Missing input values (null, NaN), by model and feature.",
            ["model", "feature"],
            registry=self.registry,
        )
        self.feature_atypical = Counter(
            "loopml_serving_feature_atypical",
            "Atypical input values by model, feature and reason (out_of_range, unseen, missing).",
            ["model", "feature", "reason"],
            registry=self.registry,
        )
        self.feature_string_chars = Counter(
            "loopml_serving_feature_string_chars",
            "Characters of string input values; divided by ..._string_values, the mean length.",
            ["model", "feature"],
            registry=self.registry,
        )
        self.feature_string_values = Counter(
            "loopml_serving_feature_string_values",
            "String input values, by model and feature.",
            ["model", "feature"],
            registry=self.registry,
        )
        self.output_class = Counter(
            "loopml_serving_predicted_class",
            "Predicted labels by model, output and class (at most 100 classes, then _other).",
            ["model", "output", "class"],
            registry=self.registry,
        )
        self.output_score = Histogram(
            "loopml_serving_output_score",
            "Top class probability of each predicted row.",
            ["model", "output"],
            buckets=_SCORE_BUCKETS,
            registry=self.registry,
        )
        self.output_nulls = Counter(
            "loopml_serving_null_outputs",
            "Predicted values that are null or NaN, by model and output.",
            ["model", "output"],
            registry=self.registry,
        )
        self.io_dropped = Counter(
            "loopml_serving_io_metrics_dropped",
            "Requests left out of the input/output metrics because their queue was full.",
            registry=self.registry,
        )
        self.shadow_requests = Counter(
            "loopml_serving_shadow_requests",
            "Copies of requests answered by a deployment's shadow, by status (ok, error).",
            ["deployment", "shadow", "status"],
            registry=self.registry,
        )
        self.shadow_dropped = Counter(
            "loopml_serving_shadow_dropped",
            "Copies of requests not sent to a shadow because the shadow queue was full.",
            ["deployment", "shadow"],
            registry=self.registry,
        )
        self.deployment_swaps = Counter(
            "loopml_serving_deployment_swaps",
            "Routing changes of a deployment taken (ok) or refused because a model did not load (failed).",
            ["deployment", "result"],
            registry=self.registry,
        )

    def batch_observer(self, model: str) -> BatchCallback:
        """A callback for one model's micro-batcher."""
        rows_hist = self.batch_rows.labels(model)
        requests_hist = self.batch_requests.labels(model)
        seconds_hist = self.predict_seconds.labels(model)

        def observe(requests: int, rows: int, seconds: float) -> None:
            requests_hist.observe(requests)
            rows_hist.observe(rows)
            seconds_hist.observe(seconds)

        return observe

    def exposition(self) -> bytes:
        """The text exposition format (summed over every worker when there are several)."""
        if self._shared is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=str(self._shared))  # type: ignore[no-untyped-call]
        merged.register(_WorkerProcesses(self._shared))
        return generate_latest(merged)
