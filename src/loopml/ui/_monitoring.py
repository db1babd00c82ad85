"""A deployment's monitoring windows as a table and as chart series (drift, performance, label coverage).

The charts are drawn in the browser from the series built here (:func:`monitor_chart`), served as
JSON and CSV like the metric charts: x is each window's start (seconds since the epoch, UTC), one
series per line, and confidence bands as pairs of bound series.

Example:
    >>> import datetime as dt
    >>> from loopml.monitor.records import WindowRecord, most_moved
    >>> t = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    >>> w = [WindowRecord(deployment="churn", model="churn", version="1", start=t + dt.timedelta(hours=h),
    ...                   end=t + dt.timedelta(hours=h + 1), complete=True, rows=10,
    ...                   metrics={"accuracy": 0.9, "drift.x": 0.1 * h, "drift_features": float(h > 1)})
    ...      for h in range(3)]
    >>> [(r.rows, r.drifted) for r in window_rows(w)]
    [(10, ('drift',)), (10, ()), (10, ())]
    >>> chart = monitor_chart(w, "drift")
    >>> [s.name for s in chart.series], chart.series[0].values
    (['x'], [0.0, 0.1, 0.2])
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.errors import NotFound
from loopml.monitor.records import WindowRecord, most_moved

__all__ = [
    "CHARTS",
    "Band",
    "ChartSeries",
    "MonitorChart",
    "WindowRow",
    "drift_flags",
    "evidence_lines",
    "monitor_chart",
    "performance_metric",
    "window_rows",
]

#: At most this many features get a line in a drift chart (the most drifted ones).
MAX_FEATURES = 8
#: Chart name → title; drift charts take their prefix from the name.
CHARTS: Mapping[str, str] = {
    "drift": "Drift per feature against the previous window (JSD for numbers, L-infinity for categories)",
    "baseline_drift": "Drift per feature against the first window (the baseline)",
    "skew": "Skew per feature against the training statistics",
    "performance": "Realised vs estimated performance, 95 % bands",
    "coverage": "Label coverage (share of rows with a label)",
}
#: Window figures that count the features whose drift test alarmed, and their short names.
_FLAGS = (("drift_features", "drift"), ("baseline_drift_features", "baseline"), ("skew_features", "skew"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    """A value with its 95 % interval (bounds None when the window has none)."""

    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowRow:
    """One window as the table shows it.

    Attributes:
        realised: Accuracy (classifiers) or RMSE (regressors) on the labelled rows.
        estimated: Confidence-based accuracy estimate on every row (classifiers with probabilities).
        drifted: Which comparisons alarmed on at least one feature (``drift``, ``baseline``, ``skew``).
        top_drift: The feature that moved most against the previous window, and how much.
    """

    start: dt.datetime
    end: dt.datetime
    version: str
    rows: int
    complete: bool
    problems: tuple[str, ...]
    label_coverage: float | None
    labelled_rows: int | None
    realised: Band | None
    estimated: Band | None
    drifted: tuple[str, ...]
    top_drift: tuple[str, float] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartSeries:
    """One line of a chart: a value per window (None where the window has none)."""

    name: str
    values: list[float | None]
    is_bound: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorChart:
    """A chart over the windows' start times; ``bands`` pairs (upper, lower) series indices."""

    name: str
    title: str
    label: str
    times: list[float]
    series: list[ChartSeries]
    bands: list[tuple[int, int]] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        """Whether any line has a value in some window."""
        return any(v is not None for s in self.series if not s.is_bound for v in s.values)

    def payload(self) -> dict[str, Any]:
        """The JSON the page script draws (the same shape as a metric chart's, with time on x)."""
        return {
            "key": self.label,
            "title": self.title,
            "x": {"label": "window start (UTC)", "time": True},
            "runs": [
                {"name": s.name, "steps": self.times, "values": s.values, "bound": s.is_bound}
                for s in self.series
            ],
            "bands": [{"upper": u, "lower": lo} for u, lo in self.bands],
        }

    def rows(self) -> tuple[list[str], list[list[Any]]]:
        """CSV header and rows: the window start (ISO 8601) then one column per series."""
        header = ["window_start", *(s.name for s in self.series)]
        body = [
            [dt.datetime.fromtimestamp(t, tz=dt.UTC).isoformat(), *(s.values[i] for s in self.series)]
            for i, t in enumerate(self.times)
        ]
        return header, body


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def performance_metric(records: Sequence[WindowRecord]) -> str:
    """``rmse`` when the windows are a regressor's, else ``accuracy``."""
    return "rmse" if any("rmse" in r.metrics for r in records) else "accuracy"


def _band(record: WindowRecord, name: str) -> Band | None:
    value = _finite(record.metrics.get(name))
    if value is None:
        return None
    low, high = (_finite(record.metrics.get(f"{name}_{end}")) for end in ("low", "high"))
    return Band(value=value, low=low, high=high)


def drift_flags(record: WindowRecord) -> tuple[str, ...]:
    """Which comparisons alarmed on at least one feature: ``drift``, ``baseline``, ``skew``."""
    return tuple(short for name, short in _FLAGS if (record.metrics.get(name) or 0) > 0)


def _top_drift(record: WindowRecord) -> tuple[str, float] | None:
    moved = [(k[6:], v) for k, v in record.metrics.items() if k.startswith("drift.") and math.isfinite(v)]
    return max(moved, key=lambda kv: (kv[1], kv[0])) if moved else None


def window_rows(records: Sequence[WindowRecord]) -> list[WindowRow]:
    """The windows, newest first, with the figures the table shows."""
    metric = performance_metric(records)
    rows = []
    for r in sorted(records, key=lambda w: w.start, reverse=True):
        labelled = r.metrics.get("labelled_rows")
        rows.append(
            WindowRow(
                start=r.start,
                end=r.end,
                version=r.version,
                rows=r.rows,
                complete=r.complete,
                problems=r.problems,
                label_coverage=_finite(r.metrics.get("label_coverage")),
                labelled_rows=None if labelled is None else int(labelled),
                realised=_band(r, metric),
                estimated=_band(r, "estimated_accuracy") if metric == "accuracy" else None,
                drifted=drift_flags(r),
                top_drift=_top_drift(r),
            )
        )
    return rows


def _values(records: Sequence[WindowRecord], name: str) -> list[float | None]:
    return [_finite(r.metrics.get(name)) for r in records]


def monitor_chart(records: Sequence[WindowRecord], name: str) -> MonitorChart:
    """The chart ``name`` (one of :data:`CHARTS`) over ``records``, oldest window first.

    Raises:
        NotFound: an unknown chart name (the known ones are listed).
    """
    if name not in CHARTS:
        raise NotFound(f"No monitoring chart {name!r}; the charts are {', '.join(CHARTS)}.")
    ordered = sorted(records, key=lambda r: r.start)
    times = [r.start.timestamp() for r in ordered]
    bands: list[tuple[int, int]] = []
    if name == "coverage":
        series = [ChartSeries(name="label coverage", values=_values(ordered, "label_coverage"))]
        label = "share of rows"
    elif name == "performance":
        label = performance_metric(ordered)
        series = []
        for metric, shown in ((label, f"realised {label}"), ("estimated_accuracy", "estimated accuracy")):
            if metric == "estimated_accuracy" and label != "accuracy":
                continue
            bands.append((len(series) + 1, len(series) + 2))
            series += [
                ChartSeries(name=shown, values=_values(ordered, metric)),
                ChartSeries(name=f"{shown} (high)", values=_values(ordered, f"{metric}_high"), is_bound=True),
                ChartSeries(name=f"{shown} (low)", values=_values(ordered, f"{metric}_low"), is_bound=True),
            ]
    else:
        label = "distance"
        series = [
            ChartSeries(name=f, values=_values(ordered, f"{name}.{f}"))
            for f in most_moved(ordered, name, limit=MAX_FEATURES)
        ]
    return MonitorChart(name=name, title=CHARTS[name], label=label, times=times, series=series, bands=bands)


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


_EVIDENCE = ("comparison", "threshold", "baseline", "for", "value", "resolved_value")


def evidence_lines(evidence: Mapping[str, Any]) -> list[tuple[str, str]]:
    """An alert's evidence as (what, value) lines: the rule's comparison, threshold, baseline and
    value first, then each breaching window, then whatever else the alert recorded (by name).

    Example:
        >>> for line in evidence_lines({"threshold": 0.1, "value": 0.34251, "error": "pipeline failed",
        ...                             "windows": [{"start": "00:00", "end": "01:00", "value": 0.3}]}):
        ...     print(*line)
        threshold 0.1
        value 0.3425
        window 00:00 to 01:00: 0.3
        error pipeline failed
    """
    lines = [(key, _shown(evidence[key])) for key in _EVIDENCE if evidence.get(key) is not None]
    windows = evidence.get("windows")
    for w in windows if isinstance(windows, list) else ():
        if isinstance(w, Mapping):
            lines.append(
                ("window", f"{w.get('start', '?')} to {w.get('end', '?')}: {_shown(w.get('value'))}")
            )
    lines += [
        (key, _shown(value))
        for key, value in sorted(evidence.items())
        if key not in _EVIDENCE and key != "windows" and value is not None
    ]
    return lines
