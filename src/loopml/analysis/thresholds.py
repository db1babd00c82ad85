"""Gates on metrics: absolute bounds, change against a baseline model, per-slice reference levels."""
# ruff: noqa: RUF002  (the multiplication sign joins crossed slice names on purpose)

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopml.analysis._outcomes import TaskKind
from loopml.analysis.blessing import Blessing, CheckKind, CheckOutcome
from loopml.analysis.metrics import Direction, get_metric, metric_names
from loopml.analysis.results import SliceResult
from loopml.analysis.slicing import OVERALL
from loopml.errors import InvalidInput

__all__ = ["ALL_SLICES", "ChangeMode", "MetricThreshold", "ReferencePerformance", "check_thresholds"]

ALL_SLICES = "*"
_EPS = 1e-12


class ChangeMode(enum.StrEnum):
    """How a change tolerance is measured: in metric units, or as a fraction of the baseline value."""

    ABSOLUTE = "absolute"
    RELATIVE = "relative"


def _direction(metric: str, given: Direction | str | None, what: str) -> Direction:
    direction = Direction(given) if given is not None else get_metric(metric).direction
    if direction is Direction.NONE:
        raise InvalidInput(
            f"{what} on {metric!r} needs `direction` ('higher' or 'lower'): the metric has no better side."
        )
    return direction


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricThreshold:
    """Bounds on one metric, checked on the slices named in ``slices``.

    ``slices`` entries: ``"overall"``, ``"*"`` (every evaluated slice), a spec name (``"SEX"``,
    ``"SEX × RAC1P"``: all its slices) or a slice key (``"SEX=2"``). ``change_tolerance`` is how
    much worse than the baseline the metric may be (in ``change_mode`` units; negative demands an
    improvement); ``direction`` defaults to the metric's own.

    Example:
        >>> MetricThreshold(metric="recall", lower=0.65, slices=("SEX",)).metric
        'recall'
    """

    metric: str
    lower: float | None = None
    upper: float | None = None
    change_tolerance: float | None = None
    change_mode: ChangeMode = ChangeMode.ABSOLUTE
    direction: Direction | None = None
    slices: tuple[str, ...] = (OVERALL,)

    def __post_init__(self) -> None:
        get_metric(self.metric)  # unknown metric -> InvalidInput listing the valid names
        if self.lower is None and self.upper is None and self.change_tolerance is None:
            raise InvalidInput(
                f"Threshold on {self.metric!r} sets no bound; give `lower`, `upper` or `change_tolerance`."
            )
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise InvalidInput(f"Threshold on {self.metric!r}: lower {self.lower} > upper {self.upper}.")
        if self.change_tolerance is not None:
            _direction(self.metric, self.direction, "A change threshold")
        if isinstance(self.slices, str) or not self.slices:
            raise InvalidInput(f"Threshold `slices` must be a non-empty tuple of names. Got {self.slices!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "lower": self.lower,
            "upper": self.upper,
            "change_tolerance": self.change_tolerance,
            "change_mode": self.change_mode.value,
            "direction": None if self.direction is None else self.direction.value,
            "slices": list(self.slices),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricThreshold:
        direction = data.get("direction")
        return cls(
            metric=data["metric"],
            lower=data.get("lower"),
            upper=data.get("upper"),
            change_tolerance=data.get("change_tolerance"),
            change_mode=ChangeMode(data.get("change_mode", "absolute")),
            direction=None if direction is None else Direction(direction),
            slices=tuple(data.get("slices", (OVERALL,))),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferencePerformance:
    """A level the model must reach on one slice, e.g. human performance on one condition.

    Example:
        >>> ReferencePerformance(metric="recall", slice="SEX=2", value=0.7, label="clinicians").value
        0.7
    """

    metric: str
    slice: str
    value: float
    tolerance: float = 0.0
    label: str = "reference"
    direction: Direction | None = None

    def __post_init__(self) -> None:
        _direction(self.metric, self.direction, "A reference performance")

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "slice": self.slice,
            "value": self.value,
            "tolerance": self.tolerance,
            "label": self.label,
            "direction": None if self.direction is None else self.direction.value,
        }


def validate_for_task(
    thresholds: Iterable[MetricThreshold], references: Iterable[ReferencePerformance], task: TaskKind
) -> None:
    """Raise :class:`InvalidInput` for a threshold or reference on a metric of another task."""
    for metric in [t.metric for t in thresholds] + [r.metric for r in references]:
        if task not in get_metric(metric).tasks:
            raise InvalidInput(
                f"Threshold on {metric!r} does not apply to a {task.value} task; "
                f"metrics for it: {', '.join(metric_names(task))}."
            )


def _f(v: float) -> str:
    return f"{v:.4g}"


def _where(key: str) -> str:
    return "overall" if key == OVERALL else f"slice {key}"


def _select(selectors: Sequence[str], slices: Sequence[SliceResult]) -> tuple[list[SliceResult], list[str]]:
    chosen: dict[str, SliceResult] = {}
    unmatched: list[str] = []
    for sel in selectors:
        hits = [s for s in slices if sel == ALL_SLICES or s.key == sel or s.spec == sel]
        if not hits:
            unmatched.append(sel)
        chosen.update((s.key, s) for s in hits)
    return list(chosen.values()), unmatched


def _skip(metric: str, key: str, kind: CheckKind, why: str) -> CheckOutcome:
    return CheckOutcome(
        metric=metric, slice=key, kind=kind, passed=True, value=None, skipped=True,
        message=f"{metric} on {_where(key)} not checked: {why}",
    )  # fmt: skip


def _bounds(t: MetricThreshold, s: SliceResult, value: float) -> list[CheckOutcome]:
    out: list[CheckOutcome] = []
    for kind, bound in ((CheckKind.LOWER_BOUND, t.lower), (CheckKind.UPPER_BOUND, t.upper)):
        if bound is None:
            continue
        low = kind is CheckKind.LOWER_BOUND
        ok = value >= bound - _EPS if low else value <= bound + _EPS
        sign = (">=" if ok else "<") if low else ("<=" if ok else ">")
        name = "lower bound" if low else "upper bound"
        msg = f"{t.metric} on {_where(s.key)} is {_f(value)} {sign} {name} {_f(bound)}"
        out.append(
            CheckOutcome(
                metric=t.metric, slice=s.key, kind=kind, passed=ok, value=value, bound=bound, message=msg
            )
        )
    return out


def _change(t: MetricThreshold, s: SliceResult, value: float, base: float) -> CheckOutcome:
    assert t.change_tolerance is not None
    higher = _direction(t.metric, t.direction, "A change threshold") is Direction.HIGHER
    worse_by = (base - value) if higher else (value - base)
    relative = t.change_mode is ChangeMode.RELATIVE
    allowed = t.change_tolerance * abs(base) if relative else t.change_tolerance
    ok = worse_by <= allowed + _EPS
    verb = ("dropped" if higher else "rose") if worse_by > 0 else ("rose" if higher else "dropped")
    tol = f"{_f(t.change_tolerance * 100)}% of baseline" if relative else _f(t.change_tolerance)
    msg = (
        f"{t.metric} on {_where(s.key)} {verb} by {_f(abs(value - base))} vs baseline "
        f"({_f(base)} → {_f(value)}), allowed {tol}"
    )
    return CheckOutcome(
        metric=t.metric, slice=s.key, kind=CheckKind.CHANGE, passed=ok, value=value,
        bound=base - allowed if higher else base + allowed, baseline=base, message=msg,
    )  # fmt: skip


def _check_one(t: MetricThreshold, s: SliceResult, *, has_baseline: bool) -> list[CheckOutcome]:
    first = CheckKind.LOWER_BOUND if t.lower is not None or t.upper is None else CheckKind.UPPER_BOUND
    if not s.is_evaluated:
        return [_skip(t.metric, s.key, first, s.note or "slice not evaluated")]
    m = s.metrics.get(t.metric)
    if m is None or m.value is None:
        return [_skip(t.metric, s.key, first, (m.reason if m else None) or "no value")]
    out = _bounds(t, s, m.value)
    if t.change_tolerance is not None:
        base = s.baseline.get(t.metric)
        if not has_baseline:
            out.append(_skip(t.metric, s.key, CheckKind.CHANGE, "no baseline model given"))
        elif base is None:
            out.append(_skip(t.metric, s.key, CheckKind.CHANGE, "baseline has no value on this slice"))
        else:
            out.append(_change(t, s, m.value, base))
    return out


def _reference(r: ReferencePerformance, slices: Sequence[SliceResult]) -> CheckOutcome:
    s = next((x for x in slices if x.key == r.slice), None)
    if s is None or not s.is_evaluated:
        why = "no such slice in the data" if s is None else (s.note or "slice not evaluated")
        return _skip(r.metric, r.slice, CheckKind.REFERENCE, why)
    value = s.value(r.metric)
    if value is None:
        return _skip(r.metric, r.slice, CheckKind.REFERENCE, "no value on this slice")
    higher = _direction(r.metric, r.direction, "A reference performance") is Direction.HIGHER
    bound = r.value - r.tolerance if higher else r.value + r.tolerance
    ok = value >= bound - _EPS if higher else value <= bound + _EPS
    side = ("below" if higher else "above") if not ok else "within"
    msg = f"{r.metric} on {_where(r.slice)} is {_f(value)}, {side} {r.label} {_f(r.value)}" + (
        f" (tolerance {_f(r.tolerance)})" if r.tolerance else ""
    )
    return CheckOutcome(
        metric=r.metric, slice=r.slice, kind=CheckKind.REFERENCE, passed=ok, value=value,
        bound=bound, baseline=r.value, message=msg,
    )  # fmt: skip


def check_thresholds(
    slices: Sequence[SliceResult],
    thresholds: Sequence[MetricThreshold] = (),
    references: Sequence[ReferencePerformance] = (),
    *,
    has_baseline: bool,
) -> Blessing:
    """Check every threshold on every slice it selects, and every reference level.

    Slices below the minimum size, undefined metrics and change checks without a baseline are
    recorded as skipped (passing) outcomes with the reason.
    """
    outcomes: list[CheckOutcome] = []
    for t in thresholds:
        chosen, unmatched = _select(t.slices, slices)
        for sel in unmatched:
            outcomes.append(_skip(t.metric, sel, CheckKind.LOWER_BOUND, "no slice matches this name"))
        for s in chosen:
            outcomes.extend(_check_one(t, s, has_baseline=has_baseline))
    outcomes.extend(_reference(r, slices) for r in references)
    return Blessing(outcomes=tuple(outcomes))
