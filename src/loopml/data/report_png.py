"""The report's per-feature charts as PNG images (for CI logs); needs the ``plots`` extra.

The same charts as the HTML report (:mod:`loopml.data.report`): numeric features show their
STANDARD histogram, with the baseline's beside it when given; categorical features show the
shares of their top values, current and baseline bars side by side. Features with anomalies get a
red title naming the anomaly kinds. Figures are drawn with matplotlib's Agg canvas directly (no
``pyplot``, no global state, no display needed) and written atomically, one file per feature.

Example:
    >>> import pyarrow as pa, tempfile
    >>> from loopml.data.compute import compute_statistics
    >>> stats = compute_statistics(pa.table({"x": [1.0, 2.0, 2.0], "s": ["a", "b", "a"]}))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in write_png_report(stats, out_dir=d)]
    ['x.png', 's.png']
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path

from loopml.errors import require_extra

require_extra("matplotlib", extra="plots", feature="PNG reports")

from matplotlib.axes import Axes  # noqa: E402  (after the friendly missing-extra check)
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from loopml.atomic_write import write_bytes_atomic  # noqa: E402
from loopml.data.statistics import DatasetStatistics, FeatureStatistics, HistogramType  # noqa: E402
from loopml.data.validation import ValidationResult  # noqa: E402

__all__ = ["png_file_name", "render_feature_png", "write_png_report"]

_COLORS = ("#3b6fb6", "#e08a2c")
_BAD = "#c0392b"
_TOP = 10
_DPI = 100


def png_file_name(feature: str) -> str:
    """The file name of a feature's chart: unsafe characters become ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", feature) + ".png"


def _histogram(ax: Axes, f: FeatureStatistics | None, title: str, color: str) -> None:
    ax.set_title(title, fontsize=9)
    s = f.num_stats if f is not None else None
    hist = s.histogram(HistogramType.STANDARD) if s is not None else None
    # the ±inf point buckets (counted in num_pos_inf / num_neg_inf) are not drawn
    buckets = [b for b in hist.buckets if math.isfinite(b.low_value + b.high_value)] if hist else []
    if not buckets:
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    lows = [b.low_value for b in buckets]
    widths = [max(b.high_value - b.low_value, 0.0) for b in buckets]
    if all(w == 0.0 for w in widths):  # one distinct value: a single bar of unit width
        widths = [1.0] * len(widths)
        lows = [lo - 0.5 for lo in lows]
    ax.bar(lows, [b.sample_count for b in buckets], width=widths, align="edge", color=color)
    ax.tick_params(labelsize=7)


def _top_values(ax: Axes, f: FeatureStatistics, base: FeatureStatistics | None) -> None:
    cur = f.string_stats
    if cur is None or not cur.top_values:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    mine = cur.frequencies()
    total = sum(mine.values()) or 1.0
    labels = [v.value for v in cur.top_values[:_TOP]]
    ys = list(range(len(labels)))
    theirs = base.string_stats.frequencies() if base is not None and base.string_stats is not None else {}
    height = 0.4 if theirs else 0.8
    ax.barh(ys, [mine.get(v, 0.0) / total for v in labels], height=height, color=_COLORS[0], label="current")
    if theirs:
        other_total = sum(theirs.values()) or 1.0
        ax.barh(
            [y + height for y in ys],
            [theirs.get(v, 0.0) / other_total for v in labels],
            height=height,
            color=_COLORS[1],
            label="baseline",
        )
        ax.legend(fontsize=7)
    ax.set_yticks([y + (height / 2 if theirs else 0) for y in ys], [v[:24] for v in labels], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("share", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)


def render_feature_png(
    f: FeatureStatistics, base: FeatureStatistics | None = None, *, anomalies: tuple[str, ...] = ()
) -> bytes:
    """One feature's chart as PNG bytes (numeric: histograms; categorical: top-value shares)."""
    numeric = f.num_stats is not None
    two = numeric and base is not None and base.num_stats is not None
    fig = Figure(figsize=(8.0 if two else 5.0, 3.2), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    title = f"{f.name} ({f.type.value}, {f.num_non_missing:,} present, {f.num_missing:,} missing)"
    if anomalies:
        title += "\n" + ", ".join(sorted(set(anomalies)))
    fig.suptitle(title, fontsize=10, color=_BAD if anomalies else "black")
    if numeric:
        axes = fig.subplots(1, 2 if two else 1, squeeze=False, sharex=True)[0]
        _histogram(axes[0], f, "current", _COLORS[0])
        if two:
            _histogram(axes[1], base, "baseline", _COLORS[1])
    else:
        _top_values(fig.subplots(), f, base)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_png_report(
    stats: DatasetStatistics,
    baseline: DatasetStatistics | None = None,
    *,
    out_dir: str | os.PathLike[str],
    result: ValidationResult | None = None,
) -> list[Path]:
    """Write one PNG per feature into ``out_dir`` (created if needed); returns the paths in order."""
    kinds: dict[str, list[str]] = {}
    for a in result.anomalies if result is not None else ():
        kinds.setdefault(a.feature, []).append(str(a.kind))
    root = Path(out_dir)
    written = []
    for f in stats.features:
        base = baseline.feature(f.name) if baseline is not None else None
        image = render_feature_png(f, base, anomalies=tuple(kinds.get(f.name, ())))
        written.append(write_bytes_atomic(root / png_file_name(f.name), image))
    return written
