"""One monitoring window of a deployment as a record: its span, completeness, row count and metrics.

Example:
    >>> from datetime import UTC, datetime
    >>> r = WindowRecord(deployment="churn", model="churn", version="3",
    ...     start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC),
    ...     complete=True, rows=1000, metrics={"accuracy": 0.91, "drift.age": 0.01})
    >>> r.metrics["accuracy"]
    0.91
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["WindowRecord"]


@dataclass(frozen=True)
class WindowRecord:
    """The metrics of one window of a deployment's prediction log.

    Attributes:
        deployment: The deployment the predictions went through.
        model: The registered model that answered.
        version: Its version.
        start: Window start (inclusive).
        end: Window end (exclusive).
        complete: False when a log partition was missing or corrupt.
        rows: Predictions in the window.
        metrics: ``drift.<feature>``, ``accuracy``, ``estimated_accuracy``, ``error_rate``,
            ``atypical_rate``, ``label_coverage``, ``labelled_rows``, ``latency_p99_ms`` ...
    """

    deployment: str
    model: str
    version: str
    start: datetime
    end: datetime
    complete: bool
    rows: int
    metrics: Mapping[str, float]
