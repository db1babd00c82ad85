"""The stored result of monitoring one window of the prediction log.

A :class:`WindowRecord` holds flat, named figures (``metrics``) so that alert rules and retrain
policies read any of them by name, plus the lineage needed to trust it: which model version
answered, which log partitions were read and whether they all were, and which registered versions
of the log those partitions are.

Metric names:

- rates: ``error_rate`` (rows with a null or non-finite prediction), ``atypical_rate`` (rows the
  server flagged), ``requests``, ``latency_p50_ms``, ``latency_p99_ms`` (per request);
- input data: ``drift.<feature>`` (against the previous window), ``baseline_drift.<feature>``
  (against the first window, the fixed baseline), ``skew.<feature>`` (against the training
  statistics): the calibrated comparator's magnitude (Jensen-Shannon divergence on numeric
  deciles, L-infinity on categories); ``drift_features``, ``baseline_drift_features``,
  ``skew_features``: how many features the calibrated test found drifted (significant and over
  the effect floor); ``missing.<feature>`` (fraction missing), ``anomalies`` (schema anomalies);
- predictions: ``prediction_drift`` and ``score_drift`` (against the previous window),
  ``prediction_mean`` (regressors) or ``positive_rate`` / ``class_rate.<class>`` (classifiers);
- performance: ``labelled_rows``, ``label_coverage``, then ``accuracy`` (with ``accuracy_low`` /
  ``accuracy_high``, a 95 % interval), ``auc``, ``log_loss`` for classifiers or ``rmse``, ``mae``
  for regressors; ``estimated_accuracy`` (with ``estimated_accuracy_low`` / ``_high``),
  confidence-based, on every row, before labels, for classifiers with probabilities.

Per-slice figures repeat these names under ``slice.<column>=<value>.<metric>``, drift included:
``slice.<column>=<value>.drift.<feature>`` against the same slice of the previous window (and
``baseline_drift``), with ``slice.<column>=<value>.drift_features``; ``slice_drift_features`` and
``slice_baseline_drift_features`` count the drifted (slice, feature) pairs of the window. A pair is
drifted when its p-value, Holm-corrected over all the window's pairs, is below 0.005 (see
:mod:`loopml.monitor.slice_drift`); both are kept: ``slice.<column>=<value>.drift_pvalue.<feature>``
(the detector's) and ``slice.<column>=<value>.drift_adjusted_pvalue.<feature>`` (corrected).

Example:
    >>> import datetime as dt
    >>> t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    >>> r = WindowRecord(deployment="churn", model="churn", version="3", start=t,
    ...                  end=t + dt.timedelta(hours=1), complete=True, rows=10,
    ...                  metrics={"accuracy": 0.9})
    >>> r.metric("accuracy"), r.metric("auc")
    (0.9, None)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.errors import InvalidInput

__all__ = ["SUMMARY_METRICS", "WindowRecord", "most_moved"]

#: The window figures a summary (`loopml monitor windows`, the HTML report's table) shows first.
SUMMARY_METRICS = (
    "rows",
    "label_coverage",
    "accuracy",
    "estimated_accuracy",
    "rmse",
    "drift_features",
    "slice_drift_features",
    "error_rate",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowRecord:
    """Monitoring figures of one window of one deployment's prediction log.

    Attributes:
        deployment: The deployment (or the model name when monitored without a deployment).
        model: The registered model the log rows name.
        version: The model version that answered most rows of the window.
        start: First instant of the window (UTC, inclusive).
        end: End of the window (UTC, exclusive).
        complete: False when a log partition of the window was missing or unreadable.
        rows: Logged prediction rows in the window.
        metrics: Flat figures by name (see the module docstring).
        window: The window kind it was computed for (``hour``, ``day`` or ``requests:<n>``).
        partitions: The log partitions read (``model=<m>/hour=<h>``).
        problems: Why the window is incomplete, one line per partition.
        versions: Rows per model version in the window.
        log_versions: The registered versions of the log it read (``predictions.<name>@<n>``, one per
            hour, see :mod:`loopml.monitor.log_versions`); empty where no hour was registered yet.
        lineage: The ``MonitorWindow`` execution recording that it read them (``loopml lineage ID``).
        computed_at: When it was computed (UTC).
    """

    deployment: str
    model: str
    version: str
    start: dt.datetime
    end: dt.datetime
    complete: bool
    rows: int
    metrics: Mapping[str, float]
    window: str = "hour"
    partitions: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    versions: Mapping[str, int] = field(default_factory=dict)
    log_versions: tuple[str, ...] = ()
    lineage: str | None = None
    computed_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidInput(
                f"A monitoring window must end after it starts; got start {self.start} and end {self.end}."
            )
        if self.rows < 0:
            raise InvalidInput(f"A monitoring window's rows must be >= 0; got {self.rows}.")

    def to_document(self) -> dict[str, Any]:
        """The record as JSON-ready values (times in ISO 8601, UTC)."""
        return {
            "deployment": self.deployment,
            "model": self.model,
            "version": self.version,
            "window": self.window,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "complete": self.complete,
            "rows": self.rows,
            "metrics": dict(self.metrics),
            "partitions": list(self.partitions),
            "problems": list(self.problems),
            "versions": dict(self.versions),
            "log_versions": list(self.log_versions),
            "lineage": self.lineage,
            "computed_at": None if self.computed_at is None else self.computed_at.isoformat(),
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> WindowRecord:
        """The record :meth:`to_document` wrote (as the monitoring API answers it).

        Raises:
            InvalidInput: a missing or malformed field, named.
        """
        try:
            computed = doc.get("computed_at")
            return cls(
                deployment=str(doc["deployment"]),
                model=str(doc["model"]),
                version=str(doc["version"]),
                window=str(doc.get("window", "hour")),
                start=dt.datetime.fromisoformat(doc["start"]),
                end=dt.datetime.fromisoformat(doc["end"]),
                complete=bool(doc["complete"]),
                rows=int(doc["rows"]),
                metrics={str(k): float(v) for k, v in dict(doc["metrics"]).items()},
                partitions=tuple(doc.get("partitions", ())),
                problems=tuple(doc.get("problems", ())),
                versions={str(k): int(v) for k, v in dict(doc.get("versions") or {}).items()},
                log_versions=tuple(doc.get("log_versions", ())),
                lineage=doc.get("lineage"),
                computed_at=None if computed is None else dt.datetime.fromisoformat(computed),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInput(f"Not a monitoring window document ({type(err).__name__}: {err}).") from err

    def metric(self, name: str) -> float | None:
        """The figure called ``name``, or None when the window has none."""
        return self.metrics.get(name)

    def drifted_slices(self, comparison: str = "drift") -> dict[str, float]:
        """Slices (``"<column>=<value>"``) where ``comparison`` (``drift`` or ``baseline_drift``) found
        drifted features, with how many."""
        suffix = f".{comparison}_features"
        return {
            key[len("slice.") : -len(suffix)]: value
            for key, value in self.metrics.items()
            if key.startswith("slice.") and key.endswith(suffix) and value > 0
        }


def most_moved(records: Sequence[WindowRecord], prefix: str, *, limit: int = 8) -> list[str]:
    """The features with a ``<prefix>.<feature>`` figure, by their largest value over ``records``.

    Example:
        >>> w = WindowRecord(deployment="d", window="hour", start=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        ...                  end=dt.datetime(2026, 3, 1, 1, tzinfo=dt.UTC), model="m", version="1",
        ...                  complete=True, rows=1, metrics={"drift.x": 0.1, "drift.y": 0.3})
        >>> most_moved([w], "drift")
        ['y', 'x']
    """
    peak: dict[str, float] = {}
    for r in records:
        for key, value in r.metrics.items():
            if key.startswith(prefix + ".") and math.isfinite(value):
                name = key[len(prefix) + 1 :]
                peak[name] = max(peak.get(name, 0.0), value)
    return sorted(peak, key=lambda f: (-peak[f], f))[:limit]
