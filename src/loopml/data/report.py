"""A self-contained HTML report of statistics (optionally against a baseline) with inline SVG plots.

No CDN, no JavaScript, no plotting library: every chart is an ``<svg>`` written here. Numeric
features show their STANDARD histograms side by side; categorical features their top values with
both sides' shares; anomalies are listed first and their features highlighted.

Example:
    >>> import pyarrow as pa
    >>> from loopml.data.compute import compute_statistics
    >>> html_text = render_report(compute_statistics(pa.table({"x": [1.0, 2.0, 2.0]})))
    >>> html_text.startswith("<!DOCTYPE html>") and "<svg" in html_text
    True
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from loopml.data.drift import DriftSkewInfo
from loopml.data.statistics import DatasetStatistics, FeatureStatistics, HistogramType
from loopml.data.validation import ValidationResult

__all__ = ["feature_svgs", "render_report"]

_W, _H = 320, 140
_COLORS = ("#3b6fb6", "#e08a2c")
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
.feature{border:1px solid #ccc;border-radius:6px;padding:8px 12px;margin:12px 0}
.bad{border-color:#c0392b;background:#fdf0ee}.anom{color:#c0392b}
.plots{display:flex;gap:16px;flex-wrap:wrap}.muted{color:#777;font-size:90%}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(x: float) -> str:
    return "-" if isinstance(x, float) and math.isnan(x) else f"{x:.6g}"


def _histogram_svg(f: FeatureStatistics, title: str, color: str) -> str:
    s = f.num_stats
    hist = s.histogram(HistogramType.STANDARD) if s is not None else None
    # the ±inf point buckets (counted in num_pos_inf / num_neg_inf) are not drawn
    buckets = [b for b in hist.buckets if math.isfinite(b.low_value + b.high_value)] if hist else []
    if not buckets:
        return (
            f'<svg width="{_W}" height="{_H}"><text x="10" y="20">{_e(title)}: no finite values</text></svg>'
        )
    top = max(b.sample_count for b in buckets) or 1.0
    width = (_W - 20) / len(buckets)
    bars = []
    for i, b in enumerate(buckets):
        h = (_H - 40) * b.sample_count / top
        bars.append(
            f'<rect x="{10 + i * width:.1f}" y="{_H - 20 - h:.1f}" width="{width - 2:.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>[{_num(b.low_value)}, {_num(b.high_value)}): '
            f"{b.sample_count:.0f}</title></rect>"
        )
    lo, hi = buckets[0].low_value, buckets[-1].high_value
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img">'
        f'<text x="10" y="14" font-size="12">{_e(title)}</text>{"".join(bars)}'
        f'<text x="10" y="{_H - 5}" font-size="10">{_e(_num(lo))}</text>'
        f'<text x="{_W - 10}" y="{_H - 5}" font-size="10" text-anchor="end">{_e(_num(hi))}</text></svg>'
    )


def _top_values_svg(f: FeatureStatistics, base: FeatureStatistics | None) -> str:
    cur = f.string_stats
    if cur is None:
        return ""
    mine = cur.frequencies()
    total = sum(mine.values()) or 1.0
    theirs = base.string_stats.frequencies() if base is not None and base.string_stats is not None else {}
    other_total = sum(theirs.values()) or 1.0
    labels = [v.value for v in cur.top_values[:10]]
    row = 18
    height = 20 + row * len(labels)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W + 120}" height="{height}" role="img">']
    for i, label in enumerate(labels):
        y = 10 + i * row
        a = mine.get(label, 0.0) / total
        parts.append(f'<text x="0" y="{y + 12}" font-size="11">{_e(label[:18])}</text>')
        parts.append(
            f'<rect x="120" y="{y}" width="{a * _W:.1f}" height="7" fill="{_COLORS[0]}">'
            f"<title>{a:.2%}</title></rect>"
        )
        if theirs:
            b = theirs.get(label, 0.0) / other_total
            parts.append(
                f'<rect x="120" y="{y + 8}" width="{b * _W:.1f}" height="7" fill="{_COLORS[1]}">'
                f"<title>baseline {b:.2%}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def feature_svgs(f: FeatureStatistics, base: FeatureStatistics | None) -> list[str]:
    """The SVG charts of one feature (current first, then the baseline's)."""
    if f.num_stats is not None:
        charts = [_histogram_svg(f, "current", _COLORS[0])]
        if base is not None and base.num_stats is not None:
            charts.append(_histogram_svg(base, "baseline", _COLORS[1]))
        return charts
    return [_top_values_svg(f, base)]


def _summary(f: FeatureStatistics) -> str:
    cells = [("type", f.type.value), ("present", f.num_non_missing), ("missing", f.num_missing)]
    if f.num_stats is not None:
        s = f.num_stats
        cells += [
            ("mean", _num(s.mean)),
            ("std_dev", _num(s.std_dev)),
            ("min", _num(s.min)),
            ("median", _num(s.median)),
            ("max", _num(s.max)),
            ("zeros", s.num_zeros),
            ("NaN", s.num_nan),
        ]
    if f.string_stats is not None:
        cells += [("unique", f.string_stats.unique), ("avg_length", f"{f.string_stats.avg_length:.3g}")]
    return (
        "<table><tr>"
        + "".join(f"<th>{_e(k)}</th>" for k, _ in cells)
        + "</tr><tr>"
        + "".join(f"<td>{_e(v)}</td>" for _, v in cells)
        + "</tr></table>"
    )


def render_report(
    stats: DatasetStatistics,
    baseline: DatasetStatistics | None = None,
    *,
    result: ValidationResult | None = None,
    title: str = "loopml data report",
) -> str:
    """The report as one HTML document (no external resources)."""
    anomalies = result.anomalies if result is not None else ()
    by_feature: dict[str, list[str]] = {}
    for a in anomalies:
        by_feature.setdefault(a.feature, []).append(f"{a.kind}: {a.description}")
    body: list[str] = [
        f"<h1>{_e(title)}</h1>",
        f"<p>{stats.num_examples} examples, {len(stats.features)} features"
        + (f"; baseline {baseline.num_examples} examples" if baseline is not None else "")
        + "</p>",
    ]
    if anomalies:
        body.append(
            "<h2 class='anom'>Anomalies</h2><ul>"
            + "".join(
                f"<li class='anom'><b>{_e(a.feature or '(dataset)')}</b> {_e(a.kind)} [{_e(a.severity)}]: "
                f"{_e(a.description)}</li>"
                for a in anomalies
            )
            + "</ul>"
        )
    body.append(_drift_table(result.drift_skew if result is not None else ()))
    for f in stats.features:
        base = baseline.feature(f.name) if baseline is not None else None
        notes = by_feature.get(f.name, [])
        cls = "feature bad" if notes else "feature"
        body.append(
            f"<section class='{cls}' id='f-{_e(f.name)}'><h3>{_e(f.name)}</h3>{_summary(f)}"
            + "".join(f"<p class='anom'>{_e(n)}</p>" for n in notes)
            + "<div class='plots'>"
            + "".join(feature_svgs(f, base))
            + "</div>"
            + "".join(f"<p class='muted'>approximate: {_e(n)}</p>" for n in f.approximate)
            + "</section>"
        )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        + _e(title)
        + "</title><style>"
        + _CSS
        + "</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.2g}"


def _drift_table(rows: Sequence[DriftSkewInfo]) -> str:
    if not rows:
        return ""
    out = [
        "<h2>Drift and skew</h2><table><tr><th>feature</th><th>comparison</th><th>type</th>"
        "<th>magnitude</th><th>threshold</th><th>effective</th><th>p-value</th><th>alpha</th>"
        "<th>n (current / baseline)</th><th>method</th></tr>"
    ]
    for d in rows:
        cls = " class='anom'" if d.is_anomalous else ""
        out.append(
            f"<tr{cls}><td>{_e(d.feature)}</td><td>{_e(d.comparison)}</td><td>{_e(d.type)}</td>"
            f"<td>{d.value:.4g}</td><td>{d.threshold:.4g}</td><td>{d.effective_threshold:.4g}</td>"
            f"<td>{_p(d.p_value)}</td><td>{_p(d.alpha)}</td><td>{d.n_current} / {d.n_baseline}</td>"
            f"<td>{_e(d.method)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)
