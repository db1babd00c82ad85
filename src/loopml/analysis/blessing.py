"""The gate's verdict: passed or failed, with one outcome per threshold, metric and slice."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Blessing", "CheckKind", "CheckOutcome"]


class CheckKind(enum.StrEnum):
    """What a check compared the metric with."""

    LOWER_BOUND = "lower_bound"
    UPPER_BOUND = "upper_bound"
    CHANGE = "change"  # relative to the baseline model
    REFERENCE = "reference"  # e.g. human-level performance on a slice


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOutcome:
    """One comparison of one metric on one slice. ``skipped`` checks (no value, no baseline) pass."""

    metric: str
    slice: str
    kind: CheckKind
    passed: bool
    value: float | None
    bound: float | None = None
    baseline: float | None = None
    skipped: bool = False
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "slice": self.slice,
            "kind": self.kind.value,
            "passed": self.passed,
            "value": self.value,
            "bound": self.bound,
            "baseline": self.baseline,
            "skipped": self.skipped,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckOutcome:
        return cls(
            metric=data["metric"],
            slice=data["slice"],
            kind=CheckKind(data["kind"]),
            passed=bool(data["passed"]),
            value=data.get("value"),
            bound=data.get("bound"),
            baseline=data.get("baseline"),
            skipped=bool(data.get("skipped", False)),
            message=data["message"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Blessing:
    """Whether a candidate model passed every threshold, and why not.

    Example:
        >>> Blessing(outcomes=()).passed
        True
    """

    outcomes: tuple[CheckOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failures(self) -> tuple[CheckOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)

    @property
    def reasons(self) -> list[str]:
        """One sentence per failed check, naming the metric and the slice."""
        return [o.message for o in self.failures]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Blessing:
        return cls(outcomes=tuple(CheckOutcome.from_dict(o) for o in data.get("outcomes", [])))
