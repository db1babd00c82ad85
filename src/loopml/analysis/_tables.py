"""Tables of evaluation results as rows of text, rendered to HTML or Markdown; the page shell."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from loopml.analysis.blessing import Blessing
from loopml.analysis.fairness import FairnessGap
from loopml.analysis.results import EvaluationResult, MetricValue

__all__ = [
    "blessing_rows",
    "cell",
    "fairness_rows",
    "html_page",
    "html_table",
    "markdown_table",
    "slice_rows",
]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:13px}
th{background:#f3f3f3}
.passed{color:#1e7b34;font-weight:bold}.failed{color:#c0392b;font-weight:bold}
.note{color:#777}.charts{display:flex;flex-wrap:wrap;gap:1rem}
"""


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def cell(m: MetricValue | None) -> str:
    """``0.812 [0.801, 0.823]``, or ``n/a (reason)``."""
    if m is None:
        return ""
    if m.value is None:
        return f"n/a ({m.reason})" if m.reason else "n/a"
    if m.lower is None or m.upper is None:
        return fmt(m.value)
    return f"{m.value:.4g} [{m.lower:.3g}, {m.upper:.3g}]"


def slice_rows(result: EvaluationResult, metrics: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """One row per slice: key, count, then one cell per metric (baseline in parentheses)."""
    columns = ["slice", "count", *metrics]
    rows: list[list[str]] = []
    for s in result.slices:
        if not s.is_evaluated:
            rows.append([s.key, str(s.count), *([""] * len(metrics))])
            rows[-1][2 if metrics else 1] = f"{s.note}"
            continue
        cells = []
        for name in metrics:
            text = cell(s.metrics.get(name))
            base = s.baseline.get(name)
            cells.append(text if base is None else f"{text} (baseline {base:.4g})")
        rows.append([s.key, str(s.count), *cells])
    return columns, rows


def blessing_rows(blessing: Blessing) -> tuple[list[str], list[list[str]]]:
    columns = ["outcome", "metric", "slice", "check", "detail"]
    rows = [
        [
            "skipped" if o.skipped else ("passed" if o.passed else "FAILED"),
            o.metric,
            o.slice,
            o.kind.value,
            o.message,
        ]
        for o in blessing.outcomes
    ]
    return columns, rows


def fairness_rows(gaps: Sequence[FairnessGap]) -> tuple[list[str], list[list[str]]]:
    columns = ["slices of", "metric", "max (slice)", "min (slice)", "difference", "ratio min/max"]
    rows = [
        [g.spec, g.metric, f"{g.max_value:.4g} ({g.max_slice})", f"{g.min_value:.4g} ({g.min_slice})",
         f"{g.difference:.4g}", fmt(g.ratio)]
        for g in gaps
    ]  # fmt: skip
    return columns, rows


def html_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(_md(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def html_page(title: str, body: str) -> str:
    """A self-contained HTML document: inline style, no scripts, no external links."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )
