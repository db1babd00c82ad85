"""How a canary is rolled out: the step schedule, how long each step is held, and the gate thresholds.

Example:
    >>> policy = RolloutPolicy()
    >>> policy.steps, policy.max_undecided_intervals
    ((5.0, 25.0, 50.0, 100.0), 6)
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass

from loopml.errors import InvalidInput

__all__ = ["GateThresholds", "OnlineMetric", "RolloutPolicy"]


class OnlineMetric(enum.StrEnum):
    """The online metric computed from labelled outcomes."""

    ACCURACY = "accuracy"
    AUC = "auc"
    RMSE = "rmse"


def _positive(value: object, *, field: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):  # type: ignore[operator]
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidInput(f"`{field}` must be a finite number {bound}. Got {value!r:.40}.")
    return float(value)  # type: ignore[arg-type]


def _count(value: object, *, field: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"`{field}` must be an integer >= {minimum}. Got {value!r:.40}.")
    return value


def _probability(value: object, *, field: str) -> float:
    p = _positive(value, field=field)
    if p >= 1:
        raise InvalidInput(f"`{field}` must be in (0, 1). Got {value!r:.40}.")
    return p


@dataclass(frozen=True, slots=True, kw_only=True)
class GateThresholds:
    """What each gate tolerates (canary minus primary, in the direction that is worse).

    Attributes:
        min_samples: Fewest requests per route in the window before the software and shift gates judge.
        min_labels: Fewest labelled outcomes per route before the online-metric gate judges.
        alpha: Significance of the one-sided test a ``fail`` needs (per gate, per analysis).
        confidence: Confidence of the bound a ``pass`` needs (non-inferiority within tolerance).
        max_error_rate_increase: Tolerated increase of the error rate (absolute, 0.01 = 1 point).
        max_p99_increase_ms: Tolerated increase of the p99 latency, in milliseconds.
        max_prediction_drift: Jensen-Shannon threshold of the canary's prediction distribution.
        max_atypical_increase: Tolerated increase of the share of atypical-input flags.
        metric: The online metric, or None to skip the gate (no labels expected).
        max_metric_degradation: Tolerated loss of the online metric (absolute).
        min_shadow_agreement: Agreement rate below which a shadow is reported as disagreeing.
        label_key_field: The input feature whose values feedback labels are keyed by (labels
            posted with ``key_field``, e.g. a customer id); they join to the rows with that value,
            after the labels by request id. None: labels by request id only.
    """

    min_samples: int = 200
    min_labels: int = 100
    alpha: float = 0.005
    confidence: float = 0.95
    max_error_rate_increase: float = 0.01
    max_p99_increase_ms: float = 20.0
    max_prediction_drift: float = 0.05
    max_atypical_increase: float = 0.02
    metric: OnlineMetric | None = None
    max_metric_degradation: float = 0.02
    min_shadow_agreement: float = 0.95
    label_key_field: str | None = None

    def __post_init__(self) -> None:
        _count(self.min_samples, field="gates.min_samples", minimum=1)
        _count(self.min_labels, field="gates.min_labels", minimum=1)
        _probability(self.alpha, field="gates.alpha")
        _probability(self.confidence, field="gates.confidence")
        for name in (
            "max_error_rate_increase",
            "max_p99_increase_ms",
            "max_prediction_drift",
            "max_atypical_increase",
            "max_metric_degradation",
        ):
            object.__setattr__(
                self, name, _positive(getattr(self, name), field=f"gates.{name}", allow_zero=True)
            )
        _probability(self.min_shadow_agreement, field="gates.min_shadow_agreement")
        if self.label_key_field is not None and (
            not isinstance(self.label_key_field, str) or not self.label_key_field
        ):
            raise InvalidInput(
                f"`gates.label_key_field` must name an input feature (the key feedback labels are "
                f"posted by). Got {self.label_key_field!r:.40}."
            )
        if self.metric is not None:
            try:
                object.__setattr__(self, "metric", OnlineMetric(self.metric))
            except ValueError as err:
                valid = ", ".join(m.value for m in OnlineMetric)
                raise InvalidInput(
                    f"`gates.metric` must be one of {valid}. Got {self.metric!r:.40}."
                ) from err


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutPolicy:
    """The step schedule and the rules of each analysis.

    Attributes:
        steps: Canary weights in percent, increasing, the last one 100 (then the alias is promoted).
        hold_s: Each step is held at least this long (seconds since it started)...
        min_requests: ...and until the canary answered at least this many requests at that step.
        interval_s: Seconds between two analyses.
        max_undecided_intervals: Consecutive analyses ending in ``no-data`` or ``inconclusive`` after
            the hold is over that are tolerated; the next one fails the rollout. Never a silent pass.
        gates: Thresholds of the gates.
    """

    steps: tuple[float, ...] = (5.0, 25.0, 50.0, 100.0)
    hold_s: float = 300.0
    min_requests: int = 500
    interval_s: float = 60.0
    max_undecided_intervals: int = 6
    gates: GateThresholds = GateThresholds()

    def __post_init__(self) -> None:
        if not self.steps:
            raise InvalidInput("`policy.steps` needs at least one step (e.g. [5, 25, 50, 100]).")
        steps = []
        for s in self.steps:
            w = _positive(s, field="policy.steps[]")
            if w > 100:
                raise InvalidInput(f"`policy.steps` are percents from 0 to 100. Got {s}.")
            steps.append(w)
        if any(b <= a for a, b in itertools.pairwise(steps)) or steps[-1] != 100:
            raise InvalidInput(
                f"`policy.steps` must increase and end at 100, e.g. [5, 25, 50, 100]. Got {list(self.steps)}."
            )
        object.__setattr__(self, "steps", tuple(steps))
        object.__setattr__(self, "hold_s", _positive(self.hold_s, field="policy.hold_s", allow_zero=True))
        _count(self.min_requests, field="policy.min_requests")
        object.__setattr__(self, "interval_s", _positive(self.interval_s, field="policy.interval_s"))
        _count(self.max_undecided_intervals, field="policy.max_undecided_intervals")
