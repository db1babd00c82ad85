"""Fairness gaps: how far a metric spreads across the slices of one feature (or feature cross)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from loopml.analysis.results import EvaluationResult, SliceResult

__all__ = [
    "FairnessGap",
    "disparate_impact",
    "equal_opportunity_difference",
    "fairness_gap",
    "fairness_gaps",
]

DEFAULT_FAIRNESS_METRICS = ("positive_rate", "recall", "false_positive_rate", "accuracy", "mae")


@dataclass(frozen=True, slots=True, kw_only=True)
class FairnessGap:
    """The spread of ``metric`` over the slices of ``spec`` (slices below the minimum size excluded).

    ``difference`` is max - min; ``ratio`` is min / max (``None`` when max is 0). For
    ``positive_rate`` the ratio is the disparate impact; for ``recall`` the difference is the
    equal-opportunity difference.
    """

    spec: str
    metric: str
    n_slices: int
    max_slice: str
    max_value: float
    min_slice: str
    min_value: float

    @property
    def difference(self) -> float:
        return self.max_value - self.min_value

    @property
    def ratio(self) -> float | None:
        return None if self.max_value == 0 else self.min_value / self.max_value

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "metric": self.metric,
            "n_slices": self.n_slices,
            "max_slice": self.max_slice,
            "max_value": self.max_value,
            "min_slice": self.min_slice,
            "min_value": self.min_value,
            "difference": self.difference,
            "ratio": self.ratio,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FairnessGap:
        return cls(
            spec=data["spec"],
            metric=data["metric"],
            n_slices=int(data["n_slices"]),
            max_slice=data["max_slice"],
            max_value=float(data["max_value"]),
            min_slice=data["min_slice"],
            min_value=float(data["min_value"]),
        )


def _gap(spec: str, metric: str, slices: Sequence[SliceResult]) -> FairnessGap | None:
    values = [(s.key, v) for s in slices if s.spec == spec and (v := s.value(metric)) is not None]
    if len(values) < 2:
        return None
    hi = max(values, key=lambda kv: kv[1])
    lo = min(values, key=lambda kv: kv[1])
    return FairnessGap(
        spec=spec,
        metric=metric,
        n_slices=len(values),
        max_slice=hi[0],
        max_value=hi[1],
        min_slice=lo[0],
        min_value=lo[1],
    )


def compute_gaps(
    slices: Sequence[SliceResult], specs: Sequence[str], metrics: Sequence[str]
) -> tuple[FairnessGap, ...]:
    """Gaps of each metric over each spec's slices (pairs with fewer than two valued slices dropped)."""
    out = [_gap(spec, metric, slices) for spec in specs for metric in metrics]
    return tuple(g for g in out if g is not None)


def fairness_gap(result: EvaluationResult, spec: str, metric: str) -> FairnessGap:
    """The gap of ``metric`` across the slices of ``spec`` (e.g. ``"SEX"``).

    Raises:
        InvalidInput: the spec is not in the result, or fewer than two of its slices have the metric.
    """
    specs = sorted({s.spec for s in result.slices} - {"overall"})
    if spec not in specs:
        raise InvalidInput(
            f"No slices of {spec!r} in this evaluation; sliced by: {', '.join(specs) or '(none)'}."
        )
    if metric not in result.metrics:
        raise InvalidInput(f"Metric {metric!r} was not computed; computed: {', '.join(result.metrics)}.")
    gap = _gap(spec, metric, result.slices)
    if gap is None:
        raise InvalidInput(
            f"Fewer than two slices of {spec!r} have a value of {metric!r} (too small or undefined); "
            "lower `min_slice_size` or pick another metric."
        )
    return gap


def fairness_gaps(
    result: EvaluationResult, *, metrics: Sequence[str] | None = None
) -> tuple[FairnessGap, ...]:
    """Gaps for every sliced spec of ``result`` and each of ``metrics`` (default: common fairness metrics)."""
    chosen = [m for m in (metrics or DEFAULT_FAIRNESS_METRICS) if m in result.metrics]
    specs = list(dict.fromkeys(s.spec for s in result.slices if s.spec != "overall"))
    return compute_gaps(result.slices, specs, chosen)


def disparate_impact(result: EvaluationResult, spec: str) -> float | None:
    """Lowest over highest positive rate across the slices of ``spec`` (1.0 is parity)."""
    return fairness_gap(result, spec, "positive_rate").ratio


def equal_opportunity_difference(result: EvaluationResult, spec: str) -> float:
    """Highest minus lowest recall (true positive rate) across the slices of ``spec`` (0.0 is parity)."""
    return fairness_gap(result, spec, "recall").difference
