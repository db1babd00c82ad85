"""The real :class:`~loopml.monitor.retrain.actions.CandidateEvaluator`: candidate vs champion on
recent labelled data, overall and on guarded slices.

Both models are loaded from the registry (verified, scanned) and score the same labelled rows;
:func:`loopml.analysis.evaluate` compares them slice by slice. The default gate: the candidate may
not be worse than the champion on any guarded slice (``change_tolerance`` 0 on every slice of the
guarded specs, and overall). Slices smaller than ``min_slice_size`` are reported, not judged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from loopml.analysis import MetricThreshold, Predictions
from loopml.analysis import evaluate as evaluate_predictions
from loopml.components.evaluate import score
from loopml.errors import InvalidInput
from loopml.monitor.retrain.records import CandidateEvaluation, Span
from loopml.registry import ModelRegistry

__all__ = ["ChampionChallengerEvaluator", "no_worse_on"]


def no_worse_on(metric: str, slices: Sequence[str], *, tolerance: float = 0.0) -> list[MetricThreshold]:
    """Gates: ``metric`` at most ``tolerance`` below the champion overall and on every slice of ``slices``."""
    return [MetricThreshold(metric=metric, change_tolerance=tolerance, slices=("overall", *slices))]


class ChampionChallengerEvaluator:
    """Scores candidate and champion on the same recent labelled rows and applies the gates.

    Args:
        registry: Loads both models (verification and scanning included).
        data: The labelled rows to judge on, for a deployment and span (features, slice columns, label).
        label: The label column.
        task: ``binary``, ``multiclass`` or ``regression``.
        slices: Slice specs reported (``"SEX"``, ``"SEX * RAC1P"``).
        gates: Thresholds (default: :func:`no_worse_on` accuracy over ``slices``).
        features: The model inputs (default: every column but the label).
        min_slice_size: Smaller slices are reported without metrics (and not judged).
    """

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        data: Callable[[str, Span], pd.DataFrame],
        label: str,
        task: str = "binary",
        slices: Sequence[str] = (),
        gates: Sequence[MetricThreshold] | None = None,
        features: Sequence[str] | None = None,
        min_slice_size: int = 30,
    ) -> None:
        self._registry, self._data, self._label, self._task = registry, data, label, task
        self._slices = tuple(slices)
        self._gates = tuple(gates) if gates is not None else tuple(no_worse_on("accuracy", self._slices))
        self._features, self._min_slice_size = features, min_slice_size

    def evaluate(
        self, *, deployment: str, champion: str | None, candidate: str, span: Span
    ) -> CandidateEvaluation:
        """Judge ``candidate`` against ``champion`` (absolute gates only when there is no champion)."""
        frame = self._data(deployment, span)
        if self._label not in frame.columns:
            raise InvalidInput(f"The evaluation data of {deployment!r} has no label column {self._label!r}.")
        if frame.empty:
            return CandidateEvaluation(blessed=False, reasons=("no labelled rows to evaluate on",))
        features = (
            list(self._features)
            if self._features is not None
            else [c for c in frame.columns if c != self._label]
        )
        inputs = frame[features]
        y_pred, y_score = score(self._registry.load(candidate), inputs, task=self._task)
        baseline = None
        if champion is not None:
            b_pred, b_score = score(self._registry.load(champion), inputs, task=self._task)
            baseline = Predictions(y_pred=b_pred, y_score=b_score)
        gates = [g for g in self._gates if baseline is not None or g.change_tolerance is None]
        result = evaluate_predictions(
            frame[self._label].to_numpy(),
            task=self._task,
            y_pred=y_pred,
            y_score=y_score,
            features=frame,
            slices=self._slices,
            baseline=baseline,
            thresholds=gates,
            bootstrap=None,
            min_slice_size=self._min_slice_size,
        )
        blessing = result.blessing
        metrics: dict[str, Any] = {
            "rows": len(frame),
            "slices": {
                s.key: {
                    "count": s.count,
                    "candidate": {k: v.value for k, v in s.metrics.items()},
                    "champion": dict(s.baseline),
                }
                for s in result.slices
                if s.is_evaluated
            },
        }
        if blessing is None:
            return CandidateEvaluation(blessed=True, reasons=("no gates",), metrics=metrics)
        return CandidateEvaluation(blessed=blessing.passed, reasons=tuple(blessing.reasons), metrics=metrics)
