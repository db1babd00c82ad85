"""The evaluation report: one self-contained HTML page (inline SVG charts) and the JSON result."""

from __future__ import annotations

from html import escape
from pathlib import Path

from loopml.analysis._svg import bar_chart, heatmap, line_chart
from loopml.analysis._tables import blessing_rows, fairness_rows, html_page, html_table, slice_rows
from loopml.analysis.blessing import Blessing
from loopml.analysis.results import EvaluationResult
from loopml.atomic_write import write_text_atomic

__all__ = ["render_html", "write_html", "write_json"]

_CHART_METRICS = ("roc_auc", "accuracy", "recall", "precision", "f1", "rmse", "mae", "r2")


def _verdict(blessing: Blessing | None) -> str:
    if blessing is None:
        return '<p class="note">No thresholds were given; the model was not gated.</p>'
    word = (
        '<span class="passed">BLESSED</span>'
        if blessing.passed
        else '<span class="failed">NOT BLESSED</span>'
    )
    reasons = "".join(f"<li>{escape(r)}</li>" for r in blessing.reasons)
    return (
        f"<p>{word}</p>" + (f"<ul>{reasons}</ul>" if reasons else "") + html_table(*blessing_rows(blessing))
    )


def _bars(result: EvaluationResult, spec: str, metric: str) -> str:
    chosen = [s for s in result.slices if s.spec == spec or s.key == "overall"]
    values = [s.metrics.get(metric) for s in chosen]
    return bar_chart(
        f"{metric} by {spec}",
        [s.key if s.is_evaluated else f"{s.key} (n={s.count}, too small)" for s in chosen],
        [None if v is None else v.value for v in values],
        [None if v is None else v.lower for v in values],
        [None if v is None else v.upper for v in values],
        baseline=[s.baseline.get(metric) for s in chosen] if result.has_baseline else None,
    )


def _curves(result: EvaluationResult) -> str:
    c = result.curves
    if c is None:
        return ""
    charts = []
    if c.roc is not None:
        charts.append(line_chart("ROC", c.roc.x, c.roc.y, x_label="false positive rate",
                                 y_label="true positive rate", diagonal=True))  # fmt: skip
    if c.pr is not None:
        charts.append(line_chart("Precision-recall", c.pr.x, c.pr.y, x_label="recall", y_label="precision"))
    if c.calibration is not None:
        charts.append(line_chart("Calibration", c.calibration.x, c.calibration.y, x_label="mean predicted",
                                 y_label="observed frequency", diagonal=True, points=True))  # fmt: skip
    return "<h2>Curves (overall)</h2><div class='charts'>" + "".join(charts) + "</div>"


def _header(result: EvaluationResult) -> str:
    text = (
        f"Task: {result.task.value} · examples: {result.overall.count} · slices: {len(result.slices)}"
        f" · minimum slice size: {result.min_slice_size}"
    )
    if result.bootstrap is not None:
        confidence = f"{result.bootstrap.confidence * 100:g}"
        text += f" · {confidence}% bootstrap intervals from {result.bootstrap.n} replicates"
    return f"<p>{escape(text)}</p>"


def render_html(result: EvaluationResult, *, title: str = "Model evaluation") -> str:
    """The report as one HTML document with no scripts and no external references.

    Example:
        >>> from loopml.analysis.evaluate import evaluate
        >>> r = evaluate([0, 1] * 20, y_score=[0.3, 0.7] * 20, task="binary", bootstrap=None)
        >>> "<svg" in render_html(r)
        True
    """
    overall = result.overall
    chart_metrics = [m for m in _CHART_METRICS if m in result.metrics][:3] or list(result.metrics[:2])
    body = [
        f"<h1>{escape(title)}</h1>",
        _header(result),
        "<h2>Verdict</h2>",
        _verdict(result.blessing),
        "<h2>Metrics by slice</h2>",
        html_table(*slice_rows(result, list(result.metrics))),
    ]  # fmt: skip
    for spec in result.slice_specs[1:]:
        body.append(f"<h3>Slices of {escape(spec)}</h3><div class='charts'>")
        body.extend(_bars(result, spec, m) for m in chart_metrics)
        body.append("</div>")
    if result.fairness:
        body += ["<h2>Fairness gaps</h2>", html_table(*fairness_rows(result.fairness))]
    body.append(_curves(result))
    if overall.confusion_matrix is not None:
        labels = [str(c) for c in result.classes]
        body.append(
            "<h2>Confusion matrix (overall)</h2>"
            + heatmap("Confusion matrix", labels, overall.confusion_matrix)
        )
    if result.small_slices:
        notes = "".join(f"<li>{escape(s.key)}: {escape(s.note or '')}</li>" for s in result.small_slices)
        body.append(f"<h2>Slices too small to evaluate</h2><ul class='note'>{notes}</ul>")
    return html_page(title, "\n".join(body))


def write_html(result: EvaluationResult, path: str | Path, *, title: str = "Model evaluation") -> Path:
    """Write :func:`render_html` to ``path`` atomically."""
    return write_text_atomic(Path(path), render_html(result, title=title))


def write_json(result: EvaluationResult, path: str | Path) -> Path:
    """Write the result as JSON to ``path`` atomically (read back with ``EvaluationResult.load``)."""
    return result.save(path)
