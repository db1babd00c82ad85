"""Sliced evaluation of one model: metrics with bootstrap intervals, baseline comparison, verdict."""
# ruff: noqa: RUF001, RUF002  (the multiplication sign joins crossed slice names on purpose)

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.analysis._curves import compute_curves
from loopml.analysis._outcomes import FloatArray, Outcomes, TaskKind, parse_task, prepare_outcomes
from loopml.analysis.bootstrap import BootstrapConfig, bootstrap_intervals
from loopml.analysis.fairness import DEFAULT_FAIRNESS_METRICS, compute_gaps
from loopml.analysis.metrics import Scratch, compute_metric, confusion_matrix, resolve_metrics, why_undefined
from loopml.analysis.results import EvaluationResult, MetricValue, SliceResult
from loopml.analysis.slicing import OVERALL, Slice, SliceSpec, make_slices
from loopml.analysis.thresholds import (
    MetricThreshold,
    ReferencePerformance,
    check_thresholds,
    validate_for_task,
)
from loopml.errors import InvalidInput

__all__ = ["DEFAULT_MIN_SLICE_SIZE", "Predictions", "evaluate"]

DEFAULT_MIN_SLICE_SIZE = 30
_BOOTSTRAP_GROUPS = 2048  # score groups for ranking metrics in bootstrap replicates


@dataclass(frozen=True, slots=True, kw_only=True)
class Predictions:
    """A baseline model's predictions on the same examples: labels/values and/or scores."""

    y_pred: Any = None
    y_score: Any = None


def _spec(item: SliceSpec | str) -> SliceSpec:
    if isinstance(item, SliceSpec):
        return item
    if isinstance(item, str) and item.strip():
        return SliceSpec.cross(*(p.strip() for p in re.split(r"[×*]", item)))
    raise InvalidInput(f"A slice must be a SliceSpec or a feature name such as 'SEX'; got {item!r}.")


def _point(name: str, o: Outcomes, scratch: Scratch | None = None) -> MetricValue:
    reason = why_undefined(name, o)
    if reason is None:
        value = float(compute_metric(name, o, scratch=scratch)[0])
        if math.isfinite(value):
            return MetricValue(value=value)
        reason = "not defined on this slice"
    return MetricValue(value=None, reason=reason)


def _metrics_of(
    o: Outcomes, names: Sequence[str], boot: BootstrapConfig | None, key: str
) -> dict[str, MetricValue]:
    point = Scratch()
    values = {n: _point(n, o, point) for n in names}
    defined = [n for n, v in values.items() if v.value is not None]
    if boot is None or not defined:
        return values
    if o.task is TaskKind.BINARY and o.y_score is not None:
        o = o.take(np.argsort(o.y_score, kind="mergesort"))  # score-sorted: AUC/AP need no reindexing
    scratch = Scratch(max_groups=_BOOTSTRAP_GROUPS)
    ones = np.ones((1, o.n))
    offset = {n: (values[n].value or 0.0) - compute_metric(n, o, ones, scratch=scratch)[0] for n in defined}

    def replicate(weights: FloatArray) -> dict[str, FloatArray]:
        scratch.reset()
        return {n: compute_metric(n, o, weights, scratch=scratch) + offset[n] for n in defined}

    intervals = bootstrap_intervals(replicate, o.n, boot, key=key)
    for n in defined:
        ci = intervals.get(n)
        if ci is not None:
            values[n] = MetricValue(value=values[n].value, lower=ci.lower, upper=ci.upper)
    return values


def _stored_baseline(
    baseline: EvaluationResult | Predictions | None, *, candidate: Outcomes, names: Sequence[str]
) -> dict[str, dict[str, float | None]] | None:
    """Metric values by slice key of a baseline given as an evaluation result, else ``None``."""
    if baseline is None or isinstance(baseline, Predictions):
        return None
    if baseline.task is not candidate.task:
        raise InvalidInput(
            f"The baseline was evaluated as a {baseline.task.value} task, the candidate as "
            f"{candidate.task.value}; compare models of the same task."
        )
    return {s.key: {n: s.value(n) for n in names} for s in baseline.slices}


def _slice_result(
    s: Slice,
    o: Outcomes,
    *,
    names: Sequence[str],
    boot: BootstrapConfig | None,
    min_size: int,
    baseline: Mapping[str, float | None],
) -> SliceResult:
    part = o.take(s.index)
    if part.n < min_size:
        note = f"{part.n} examples, below the minimum slice size {min_size}; no metrics computed"
        return SliceResult(key=s.key, spec=s.spec, conditions=s.conditions, count=part.n, note=note)
    cm = None
    if o.task is not TaskKind.REGRESSION:
        cm = tuple(tuple(r) for r in confusion_matrix(part))
    return SliceResult(
        key=s.key,
        spec=s.spec,
        conditions=s.conditions,
        count=part.n,
        metrics=_metrics_of(part, names, boot, s.key),
        baseline=dict(baseline),
        confusion_matrix=cm,
    )


def evaluate(
    y_true: Any,
    *,
    task: TaskKind | str,
    y_pred: Any = None,
    y_score: Any = None,
    features: pd.DataFrame | None = None,
    slices: Sequence[SliceSpec | str] = (),
    metrics: Sequence[str] | None = None,
    min_slice_size: int = DEFAULT_MIN_SLICE_SIZE,
    bootstrap: BootstrapConfig | None = BootstrapConfig(),
    baseline: EvaluationResult | Predictions | None = None,
    thresholds: Sequence[MetricThreshold] = (),
    reference_performance: Sequence[ReferencePerformance] = (),
    classes: Sequence[Any] | None = None,
    pos_label: Any = None,
    decision_threshold: float = 0.5,
    fairness_metrics: Sequence[str] | None = None,
    properties: Mapping[str, Any] | None = None,
) -> EvaluationResult:
    """Evaluate predictions overall and per slice, compare with a baseline, and gate on thresholds.

    Args:
        y_true: True labels (classification) or values (regression), one per example.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        y_pred: Predicted labels or values. Derived from ``y_score`` for classifiers when omitted.
        y_score: Probabilities: P(positive) for binary, one column per class for multiclass.
        features: Columns to slice by, one row per example.
        slices: Slice specs, or feature names (``"SEX"``, ``"SEX × RAC1P"`` for a cross).
        metrics: Metric names (default: every metric of the task the predictions allow).
        min_slice_size: Slices with fewer examples are reported without metrics.
        bootstrap: Confidence interval settings; ``None`` for point estimates only.
        baseline: The current champion: its :class:`EvaluationResult` on the same data, or its
            :class:`Predictions` on these examples.
        thresholds: Gates producing the result's :class:`~loopml.analysis.blessing.Blessing`.
        reference_performance: Per-slice levels to reach (e.g. human performance).
        classes: Multiclass label order matching the columns of ``y_score``.
        pos_label: The positive label of a binary task (default 1, else the largest label).
        decision_threshold: Binary cut-off on ``y_score`` when ``y_pred`` is omitted.
        fairness_metrics: Metrics whose gaps across slices are reported.
        properties: Free-form metadata stored with the result (model name, data version ...).

    Returns:
        The evaluation; ``result.blessing`` is set when thresholds or references were given.

    Raises:
        InvalidInput: mismatched lengths, a missing slice column, an unknown metric, a threshold on
            a metric of another task.

    Example:
        >>> r = evaluate([0, 1, 1, 0] * 10, y_score=[0.2, 0.9, 0.6, 0.4] * 10, task="binary", bootstrap=None)
        >>> r.overall.metrics["accuracy"].value
        1.0
    """
    kind = parse_task(task)
    if min_slice_size < 1:
        raise InvalidInput(f"`min_slice_size` must be at least 1. Got {min_slice_size}.")
    o = prepare_outcomes(
        y_true, task=kind, y_pred=y_pred, y_score=y_score, classes=classes,
        pos_label=pos_label, decision_threshold=decision_threshold,
    )  # fmt: skip
    validate_for_task(thresholds, reference_performance, kind)
    has_scores = o.y_score is not None
    gated = [t.metric for t in thresholds] + [r.metric for r in reference_performance]
    names = resolve_metrics(metrics, kind, has_scores=has_scores)
    names += resolve_metrics([g for g in gated if g not in names], kind, has_scores=has_scores)
    specs = [_spec(s) for s in slices]
    parts = make_slices(features, specs, n=o.n)
    by_key = _stored_baseline(baseline, candidate=o, names=names)
    base_o = None
    if isinstance(baseline, Predictions):
        base_o = prepare_outcomes(
            y_true, task=kind, y_pred=baseline.y_pred, y_score=baseline.y_score, classes=classes,
            pos_label=pos_label, decision_threshold=decision_threshold,
        )  # fmt: skip
    results = []
    for s in parts:
        if base_o is not None:
            part = base_o.take(s.index)
            base = {n: _point(n, part).value for n in names} if part.n >= min_slice_size else {}
        else:
            base = {} if by_key is None else by_key.get(s.key, {})
        results.append(
            _slice_result(s, o, names=names, boot=bootstrap, min_size=min_slice_size, baseline=base)
        )
    has_baseline = baseline is not None
    blessing = None
    if thresholds or reference_performance:
        blessing = check_thresholds(results, thresholds, reference_performance, has_baseline=has_baseline)
    spec_names = list(dict.fromkeys(s.name for s in specs if s.features))
    fair = [m for m in (fairness_metrics or DEFAULT_FAIRNESS_METRICS) if m in names]
    return EvaluationResult(
        task=kind,
        classes=o.classes,
        metrics=tuple(names),
        slices=tuple(results),
        slice_specs=(OVERALL, *spec_names),
        min_slice_size=min_slice_size,
        bootstrap=bootstrap,
        curves=compute_curves(o),
        blessing=blessing,
        fairness=compute_gaps(results, spec_names, fair),
        has_baseline=has_baseline,
        properties=dict(properties or {}),
    )
