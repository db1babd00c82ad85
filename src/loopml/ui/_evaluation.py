"""An evaluation as tables: overall metrics against the baseline, metrics by slice, the checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from loopml.analysis import CheckOutcome, EvaluationResult, MetricValue

__all__ = ["EvaluationView", "MetricCell", "OverallRow", "SliceRow", "evaluation_view", "side_by_side"]

MAX_SLICE_ROWS = 1_000
DEFAULT_METRICS = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricCell:
    """One metric on one slice: its value and interval as text, and whether a check failed on it."""

    text: str
    interval: str
    failed: bool
    undefined: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class OverallRow:
    """A metric over all examples, with the baseline's value and the change when there is a baseline."""

    metric: str
    cell: MetricCell
    baseline: str
    change: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceRow:
    """A slice: its key, the spec it belongs to, its size and a cell per shown metric (or why none)."""

    key: str
    spec: str
    count: int
    cells: list[MetricCell]
    note: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationView:
    """What the evaluation page shows; ``slices`` is cut at :data:`MAX_SLICE_ROWS` (``total_slices``)."""

    overall: list[OverallRow]
    overall_count: int
    metrics: list[str]
    specs: list[str]
    slices: list[SliceRow]
    total_slices: int
    outcomes: list[CheckOutcome]
    passed: bool | None


def _cell(value: MetricValue | None, *, failed: bool) -> MetricCell:
    if value is None:
        return MetricCell(text="", interval="", failed=failed, undefined=False)
    if value.value is None:
        reason = f" ({value.reason})" if value.reason else ""
        return MetricCell(text=f"n/a{reason}", interval="", failed=failed, undefined=True)
    interval = ""
    if value.lower is not None and value.upper is not None:
        interval = f"[{value.lower:.4g}, {value.upper:.4g}]"
    return MetricCell(text=f"{value.value:.4g}", interval=interval, failed=failed, undefined=False)


def evaluation_view(
    result: EvaluationResult, *, metrics: Sequence[str] = (), spec: str | None = None
) -> EvaluationView:
    """Tables of ``result``: the chosen ``metrics`` (known ones; else the first six), slices of ``spec``.

    A cell is flagged when a failed check names its metric and slice.

    Example:
        >>> from loopml.analysis import evaluate
        >>> r = evaluate([0, 1] * 20, y_pred=[0, 1] * 20, task="binary", bootstrap=None)
        >>> v = evaluation_view(r, metrics=["accuracy", "nope"])
        >>> v.metrics, v.overall[0].cell.text, v.passed
        (['accuracy'], '1', None)
    """
    chosen = [m for m in dict.fromkeys(metrics) if m in result.metrics] or list(
        result.metrics[:DEFAULT_METRICS]
    )
    outcomes = list(result.blessing.outcomes) if result.blessing is not None else []
    failed = {(o.slice, o.metric) for o in outcomes if not o.passed}
    overall = result.overall
    rows = []
    for name in result.metrics:
        base, value = overall.baseline.get(name), overall.value(name)
        rows.append(
            OverallRow(
                metric=name,
                cell=_cell(overall.metrics.get(name), failed=(overall.key, name) in failed),
                baseline="" if base is None else f"{base:.4g}",
                change="" if base is None or value is None else f"{value - base:+.4g}",
            )
        )
    picked = [s for s in result.slices[1:] if spec is None or s.spec == spec]
    slices = [
        SliceRow(
            key=s.key,
            spec=s.spec,
            count=s.count,
            cells=[_cell(s.metrics.get(m), failed=(s.key, m) in failed) for m in chosen],
            note=s.note,
        )
        for s in picked[:MAX_SLICE_ROWS]
    ]
    return EvaluationView(
        overall=rows,
        overall_count=overall.count,
        metrics=chosen,
        specs=sorted({s.spec for s in result.slices[1:]}),
        slices=slices,
        total_slices=len(picked),
        outcomes=outcomes,
        passed=None if result.blessing is None else result.blessing.passed,
    )


def side_by_side(
    candidate: Mapping[str, float | None], champion: Mapping[str, float | None]
) -> list[tuple[str, str, str, str]]:
    """Rows ``(metric, candidate, champion, change)`` over the metrics either side has, sorted.

    Example:
        >>> side_by_side({"auc": 0.9, "loss": None}, {"auc": 0.85})
        [('auc', '0.9', '0.85', '+0.05'), ('loss', 'n/a', '—', '')]
    """
    rows = []
    for name in sorted(set(candidate) | set(champion)):
        a, b = candidate.get(name), champion.get(name)
        change = "" if a is None or b is None else f"{a - b:+.4g}"
        rows.append((name, _text(name, candidate), _text(name, champion), change))
    return rows


def _text(name: str, values: Mapping[str, float | None]) -> str:
    if name not in values:
        return "—"
    value = values[name]
    return "n/a" if value is None else f"{value:.4g}"
