"""A self-contained HTML report of a deployment's monitoring windows, with time-series plots in inline SVG.

Like the data-validation report (:mod:`loopml.data.report`): no CDN, no JavaScript, no plotting
library. Plots: drift per feature over time (against the previous window and the baseline, and
skew against training), drift per slice and feature (and the windows where a slice drifted),
realised accuracy (or RMSE) with its confidence band beside the estimated accuracy and its band,
label coverage, traffic and latency; then incomplete windows with their reasons, and a table of
every window.

Example:
    >>> import datetime as dt
    >>> from loopml.monitor.records import SUMMARY_METRICS, WindowRecord, most_moved
    >>> t = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    >>> w = [WindowRecord(deployment="churn", model="churn", version="1", start=t + dt.timedelta(hours=h),
    ...                   end=t + dt.timedelta(hours=h + 1), complete=True, rows=10,
    ...                   metrics={"accuracy": 0.9, "drift.x": 0.01 * h}) for h in range(3)]
    >>> page = render_monitor_report(w)
    >>> page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 2
    True
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from loopml.monitor.records import SUMMARY_METRICS, WindowRecord, most_moved

__all__ = ["render_monitor_report"]

_W, _H, _PAD = 720, 220, 40
_PALETTE = ("#3b6fb6", "#e08a2c", "#2e9c5a", "#c0392b", "#8e44ad", "#16a085", "#7f8c8d", "#d35400")
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:90%}
td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
.plot{margin:12px 0}.bad{color:#c0392b}.muted{color:#777;font-size:90%}
.legend span{margin-right:14px}
.swatch{display:inline-block;width:12px;height:3px;vertical-align:middle;margin-right:4px}
"""
_MAX_FEATURES = 8


@dataclass(frozen=True, slots=True)
class _Series:
    name: str
    values: list[float | None]
    low: list[float | None] | None = None
    high: list[float | None] | None = None


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def _path(xs: list[float], ys: list[float | None], scale_y: object) -> str:
    parts, pen = [], "M"
    for x, y in zip(xs, ys, strict=True):
        if y is None or not math.isfinite(y):
            pen = "M"
            continue
        parts.append(f"{pen}{x:.1f},{scale_y(y):.1f}")  # type: ignore[operator]
        pen = "L"
    return " ".join(parts)


def _chart(title: str, records: Sequence[WindowRecord], series: Sequence[_Series]) -> str:
    """One line chart over the windows' start times (bands drawn under their lines)."""
    every = [v for s in series for v in _finite([*s.values, *(s.low or []), *(s.high or [])])]
    if not every or not records:
        return f"<p class='muted'>{_e(title)}: no data yet.</p>"
    lo, hi = min(every), max(every)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    times = [r.start.timestamp() for r in records]
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1.0
    xs = [_PAD + (_W - 2 * _PAD) * (t - t0) / span for t in times]

    def scale_y(v: float) -> float:
        return _H - _PAD + (v - lo) / (hi - lo) * (2 * _PAD - _H)

    shapes = []
    for i, s in enumerate(series):
        color = _PALETTE[i % len(_PALETTE)]
        if s.low is not None and s.high is not None:
            upper = [(x, h) for x, h in zip(xs, s.high, strict=True) if h is not None and math.isfinite(h)]
            lower = [(x, lw) for x, lw in zip(xs, s.low, strict=True) if lw is not None and math.isfinite(lw)]
            if upper and lower:
                points = " ".join(f"{x:.1f},{scale_y(y):.1f}" for x, y in [*upper, *reversed(lower)])
                shapes.append(f'<polygon points="{points}" fill="{color}" opacity="0.15"/>')
        shapes.append(
            f'<path d="{_path(xs, s.values, scale_y)}" fill="none" stroke="{color}" stroke-width="2"/>'
        )
        for x, y, r in zip(xs, s.values, records, strict=True):
            if y is not None and math.isfinite(y):
                shapes.append(
                    f'<circle cx="{x:.1f}" cy="{scale_y(y):.1f}" r="2.5" fill="{color}">'
                    f"<title>{_e(s.name)} {_e(r.start.isoformat())}: {y:.4g}</title></circle>"
                )
    first, last = (r.start.strftime("%Y-%m-%d %H:%M") for r in (records[0], records[-1]))
    axis = (
        f'<text x="4" y="{_PAD - 8}" font-size="11">{hi:.4g}</text>'
        f'<text x="4" y="{_H - _PAD + 4}" font-size="11">{lo:.4g}</text>'
        f'<text x="{_PAD}" y="{_H - 10}" font-size="11">{_e(first)}</text>'
        f'<text x="{_W - _PAD}" y="{_H - 10}" font-size="11" text-anchor="end">'
        f"{_e(last)}</text>"
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#999"/>'
    )
    legend = "".join(
        f"<span><i class='swatch' style='background:{_PALETTE[i % len(_PALETTE)]}'></i>{_e(s.name)}</span>"
        for i, s in enumerate(series)
    )
    return (
        f"<div class='plot'><h3>{_e(title)}</h3><svg xmlns='http://www.w3.org/2000/svg' width='{_W}' "
        f"height='{_H}' role='img'>{axis}{''.join(shapes)}</svg><div class='legend'>{legend}</div></div>"
    )


def _metric(records: Sequence[WindowRecord], name: str) -> list[float | None]:
    return [r.metrics.get(name) for r in records]


def _drift_charts(records: Sequence[WindowRecord]) -> list[str]:
    charts = []
    for prefix, title in (
        ("drift", "Drift per feature against the previous window"),
        ("baseline_drift", "Drift per feature against the baseline (first window)"),
        ("skew", "Skew per feature against the training statistics"),
    ):
        features = most_moved(records, prefix, limit=_MAX_FEATURES)
        if features:
            series = [_Series(f, _metric(records, f"{prefix}.{f}")) for f in features]
            charts.append(_chart(title + " (JSD for numbers, L-infinity for categories)", records, series))
    return charts


def _slice_drift(records: Sequence[WindowRecord]) -> list[str]:
    """The (slice, feature) pairs that moved most, over time; then the windows where a slice drifted."""
    peak: dict[str, float] = {}  # ``slice.<column>=<value>.drift.<feature>`` -> its largest value
    for r in records:
        for key, value in r.metrics.items():
            if key.startswith("slice.") and ".drift." in key and math.isfinite(value):
                peak[key] = max(peak.get(key, 0.0), value)
    top = sorted(peak, key=lambda k: (-peak[k], k))[:_MAX_FEATURES]
    if not top:
        return []
    series = [_Series(k[len("slice.") :].replace(".drift.", " · "), _metric(records, k)) for k in top]
    out = [
        _chart("Drift per slice and feature against the same slice of the previous window", records, series)
    ]
    drifted = [(r, r.drifted_slices()) for r in records]
    rows = "".join(
        f"<tr><td>{_e(r.start.isoformat())}</td><td class='bad'>"
        + _e(", ".join(f"{k} ({v:g} feature{'s' if v != 1 else ''})" for k, v in sorted(found.items())))
        + "</td></tr>"
        for r, found in drifted
        if found
    )
    out.append(
        "<h3>Windows where a slice drifted</h3>"
        + (
            f"<table><tr><th>start</th><th>slices</th></tr>{rows}</table>"
            if rows
            else "<p class='muted'>none</p>"
        )
    )
    return out


def _performance_chart(records: Sequence[WindowRecord]) -> str:
    if any("rmse" in r.metrics for r in records):
        return _chart(
            "Performance: RMSE and MAE on labelled rows",
            records,
            [_Series("rmse", _metric(records, "rmse")), _Series("mae", _metric(records, "mae"))],
        )
    return _chart(
        "Performance: realised accuracy (labelled rows) and estimated accuracy (all rows), 95 % bands",
        records,
        [
            _Series(
                "accuracy",
                _metric(records, "accuracy"),
                _metric(records, "accuracy_low"),
                _metric(records, "accuracy_high"),
            ),
            _Series(
                "estimated accuracy",
                _metric(records, "estimated_accuracy"),
                _metric(records, "estimated_accuracy_low"),
                _metric(records, "estimated_accuracy_high"),
            ),
        ],
    )


def _table(records: Sequence[WindowRecord]) -> str:
    columns = SUMMARY_METRICS
    head = "".join(f"<th>{c}</th>" for c in ("start", "version", "complete", *columns))

    def cell(r: WindowRecord, c: str) -> str:
        v = r.rows if c == "rows" else r.metrics.get(c)
        return "" if v is None else f"{v:.4g}"

    rows = "".join(
        f"<tr><td>{_e(r.start.isoformat())}</td><td>{_e(r.version)}</td>"
        f"<td class='{'' if r.complete else 'bad'}'>{'yes' if r.complete else 'no'}</td>"
        + "".join(f"<td>{cell(r, c)}</td>" for c in columns)
        + "</tr>"
        for r in records
    )
    return f"<h2>Windows</h2><table><tr>{head}</tr>{rows}</table>"


def render_monitor_report(records: Sequence[WindowRecord], *, title: str | None = None) -> str:
    """The report of ``records`` (one deployment, one window kind, oldest first) as one HTML document."""
    ordered = sorted(records, key=lambda r: r.start)
    name = ordered[0].deployment if ordered else "-"
    heading = title or f"loopml monitoring: {name}"
    incomplete = [r for r in ordered if not r.complete]
    body = [
        f"<h1>{_e(heading)}</h1>",
        f"<p>{len(ordered)} windows"
        + (
            f" ({_e(ordered[0].window)}) from {_e(ordered[0].start.isoformat())} "
            f"to {_e(ordered[-1].end.isoformat())}"
            f"; model {_e(ordered[-1].model)}, latest version {_e(ordered[-1].version)}"
            if ordered
            else ""
        )
        + "</p>",
    ]
    if incomplete:
        body.append(
            "<h2 class='bad'>Incomplete windows</h2><ul>"
            + "".join(
                f"<li class='bad'>{_e(r.start.isoformat())}: {_e('; '.join(r.problems))}</li>"
                for r in incomplete
            )
            + "</ul>"
        )
    body.extend(_drift_charts(ordered))
    body.extend(_slice_drift(ordered))
    body.append(_performance_chart(ordered))
    body.append(
        _chart("Label coverage", ordered, [_Series("label coverage", _metric(ordered, "label_coverage"))])
    )
    body.append(
        _chart(
            "Prediction drift against the previous window",
            ordered,
            [
                _Series("prediction", _metric(ordered, "prediction_drift")),
                _Series("score", _metric(ordered, "score_drift")),
            ],
        )
    )
    body.append(
        _chart(
            "Latency (ms, per request)",
            ordered,
            [
                _Series("p50", _metric(ordered, "latency_p50_ms")),
                _Series("p99", _metric(ordered, "latency_p99_ms")),
            ],
        )
    )
    body.append(
        _chart(
            "Error and atypical-input rates",
            ordered,
            [
                _Series("errors", _metric(ordered, "error_rate")),
                _Series("atypical", _metric(ordered, "atypical_rate")),
            ],
        )
    )
    body.append(_table(ordered))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        + _e(heading)
        + "</title><style>"
        + _CSS
        + "</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )
