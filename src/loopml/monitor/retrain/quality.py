"""A data-quality gate read from the monitoring windows of the span to train on.

The span passes when its windows exist, every one is complete (no missing or corrupt log partition)
and the schema anomalies per window stay within a bound. Drift is not a reason to refuse: it is why a
retraining starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from loopml.monitor.records import WindowRecord
from loopml.monitor.retrain.records import QualityVerdict, Span

__all__ = ["WindowQualityGate"]


class WindowQualityGate:
    """Passes a span whose windows are all there, complete, and with few schema anomalies.

    Args:
        windows: A deployment's stored windows.
        max_anomalies: Schema anomalies tolerated in any one window (the metric ``anomalies``).
        min_rows: Logged rows the span must hold.
    """

    def __init__(
        self,
        windows: Callable[[str], Sequence[WindowRecord]],
        *,
        max_anomalies: int | None = None,
        min_rows: int = 1,
    ) -> None:
        self._windows, self._max_anomalies, self._min_rows = windows, max_anomalies, min_rows

    def __call__(self, *, deployment: str, span: Span) -> QualityVerdict:
        inside = [w for w in self._windows(deployment) if span.start <= w.start and w.end <= span.end]
        reasons = [
            f"window {w.start.isoformat()} is incomplete: {'; '.join(w.problems) or 'partitions missing'}"
            for w in inside
            if not w.complete
        ]
        if self._max_anomalies is not None:
            reasons += [
                f"window {w.start.isoformat()} has {w.metrics['anomalies']:g} schema anomalies "
                f"(at most {self._max_anomalies})"
                for w in inside
                if w.metrics.get("anomalies", 0) > self._max_anomalies
            ]
        rows = sum(w.rows for w in inside)
        if rows < self._min_rows:
            reasons.append(f"the span holds {rows} logged row(s); at least {self._min_rows} are needed")
        return QualityVerdict(passed=not reasons, reasons=tuple(reasons))
