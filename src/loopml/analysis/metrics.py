"""Metrics by name: what each computes, for which tasks, and which direction is better.

Every metric is computed from per-example weights, one row of weights per replicate, so the
point estimate (weights all 1) and every bootstrap replicate share one vectorised code path.
Multiclass precision, recall, F1, FPR, FNR, ROC-AUC and PR-AUC are macro averages over the
classes present (one-vs-rest), as scikit-learn's ``average="macro"``.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.analysis._outcomes import FloatArray, Outcomes, TaskKind, parse_task
from loopml.errors import InvalidInput

__all__ = [
    "CALIBRATION_BINS",
    "Direction",
    "MetricSpec",
    "Scratch",
    "calibration_inputs",
    "compute_metric",
    "confusion_matrix",
    "default_metrics",
    "get_metric",
    "metric_names",
    "resolve_metrics",
    "why_undefined",
]

CALIBRATION_BINS = 10
_BIN = TaskKind.BINARY
_MULTI = TaskKind.MULTICLASS
_REG = TaskKind.REGRESSION
_CLS = frozenset({_BIN, _MULTI})


class Direction(enum.StrEnum):
    """Which way a metric improves."""

    HIGHER = "higher"
    LOWER = "lower"
    NONE = "none"  # neither (e.g. the positive rate); change thresholds must name a direction


Compute = Callable[[Outcomes, FloatArray, "Scratch"], FloatArray]
Check = Callable[[Outcomes], "str | None"]


@dataclass(slots=True)
class Scratch:
    """Intermediate sums shared by the metrics of one data set and one weight matrix.

    Pass one to several :func:`compute_metric` calls on the same outcomes and weights so that
    confusion counts and score-group sums are computed once; call :meth:`reset` for new weights.
    With ``max_groups`` set, ranking metrics (ROC-AUC, PR-AUC) treat runs of neighbouring scores
    as ties, at most ``max_groups`` of them (as TFMA's fixed threshold count): one pass over the
    weights instead of many; bootstrap replicates use it and correct the offset it causes.
    """

    max_groups: int | None = None  # bootstrap: merge neighbouring scores into at most this many groups
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.values:
            self.values[key] = make()
        return self.values[key]

    def reset(self) -> None:
        self.values.clear()


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSpec:
    """A named metric: its direction, the tasks it applies to, whether it needs scores."""

    name: str
    description: str
    direction: Direction
    tasks: frozenset[TaskKind]
    needs_scores: bool = False
    compute: Compute
    undefined: Check | None = None  # says why the metric is undefined on some data, else None


def _div(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _present(o: Outcomes) -> npt.NDArray[np.bool_]:
    k = len(o.classes)
    seen = np.zeros(k, dtype=bool)
    seen[np.unique(np.concatenate([o.y_true, o.y_pred]).astype(np.intp))] = True
    return seen


def _onehot(codes: FloatArray, k: int) -> FloatArray:
    out = np.zeros((codes.shape[0], k))
    out[np.arange(codes.shape[0]), codes.astype(np.intp)] = 1.0
    return out


def _counts(o: Outcomes, w: FloatArray, s: Scratch) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(tp, fp, fn, tn) per replicate; for multiclass, per replicate and class (B, K)."""
    return s.get("counts", lambda: _count(o, w))  # type: ignore[no-any-return]


def _count(o: Outcomes, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    if o.task is _BIN:
        t, p = o.y_true, o.y_pred
        c = w @ np.stack([t * p, (1 - t) * p, t * (1 - p), (1 - t) * (1 - p)], axis=1)
        return c[:, 0], c[:, 1], c[:, 2], c[:, 3]
    k = len(o.classes)
    t, p = _onehot(o.y_true, k), _onehot(o.y_pred, k)
    c = w @ np.concatenate([t * p, p, t], axis=1)
    tp, pred_k, true_k = c[:, :k], c[:, k : 2 * k], c[:, 2 * k :]
    total = w.sum(axis=1, keepdims=True)
    return tp, pred_k - tp, true_k - tp, total - pred_k - true_k + tp


def _macro(o: Outcomes, per_class: FloatArray) -> FloatArray:
    """Binary: as is. Multiclass: mean over present classes, undefined classes counted as 0."""
    if o.task is _BIN:
        return per_class
    present = _present(o)
    return np.asarray(np.nan_to_num(per_class[:, present], nan=0.0).mean(axis=1))


def _total(w: FloatArray, s: Scratch) -> FloatArray:
    return s.get("total", lambda: w.sum(axis=1))  # type: ignore[no-any-return]


def _accuracy(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    return _div(w @ (o.y_true == o.y_pred).astype(np.float64), _total(w, s))


def _precision(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    tp, fp, _, _ = _counts(o, w, s)
    return _macro(o, _div(tp, tp + fp))


def _recall(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    tp, _, fn, _ = _counts(o, w, s)
    return _macro(o, _div(tp, tp + fn))


def _f1(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    tp, fp, fn, _ = _counts(o, w, s)
    return _macro(o, _div(2 * tp, 2 * tp + fp + fn))


def _fpr(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    _, fp, _, tn = _counts(o, w, s)
    return _macro(o, _div(fp, fp + tn))


def _fnr(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    tp, _, fn, _ = _counts(o, w, s)
    return _macro(o, _div(fn, fn + tp))


def _positive_rate(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    return _div(w @ o.y_pred, _total(w, s))


def _group_sums(
    t: FloatArray, score: FloatArray, w: FloatArray, max_groups: int | None
) -> tuple[FloatArray, FloatArray]:
    """Weighted positives and negatives per distinct score, in ascending score order, shape (B, G)."""
    if score.size == 0:
        return np.zeros((w.shape[0], 0)), np.zeros((w.shape[0], 0))
    if score.size > 1 and bool(np.all(score[1:] >= score[:-1])):
        ws, ts, s = w, t, score  # already sorted (evaluate sorts binary slices by score)
    else:
        order = np.argsort(score, kind="mergesort")
        ws, ts, s = w[:, order], t[order], score[order]
    starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
    if max_groups is not None and starts.size > max_groups:
        targets = np.linspace(0, s.size, max_groups, endpoint=False)
        starts = starts[np.unique(np.minimum(np.searchsorted(starts, targets), starts.size - 1))]
    if starts.size == s.size:
        pos, total = ws * ts, ws
    else:
        pos, total = np.add.reduceat(ws * ts, starts, axis=1), np.add.reduceat(ws, starts, axis=1)
    return pos, total - pos


def _auc(pos: FloatArray, neg: FloatArray) -> FloatArray:
    below = np.cumsum(neg, axis=1) - neg
    return _div((pos * (below + 0.5 * neg)).sum(axis=1), pos.sum(axis=1) * neg.sum(axis=1))


def _ap(pos: FloatArray, neg: FloatArray) -> FloatArray:
    tps = np.cumsum(pos[:, ::-1], axis=1)  # descending thresholds
    fps = np.cumsum(neg[:, ::-1], axis=1)
    total = tps[:, -1:] if tps.size else np.zeros((pos.shape[0], 1))
    precision = np.nan_to_num(_div(tps, tps + fps), nan=0.0)
    recall = _div(tps, np.broadcast_to(total, tps.shape))
    steps = np.diff(np.concatenate([np.zeros((pos.shape[0], 1)), recall], axis=1), axis=1)
    return np.where(total[:, 0] > 0, (steps * precision).sum(axis=1), np.nan)


def _ovr(fn: Callable[[FloatArray, FloatArray], FloatArray]) -> Compute:
    def compute(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
        assert o.y_score is not None
        score = o.y_score
        if o.task is _BIN:
            return fn(*s.get("groups", lambda: _group_sums(o.y_true, score, w, s.max_groups)))
        per = []
        for c in (int(c) for c in np.unique(o.y_true)):
            truth = (o.y_true == c).astype(np.float64)
            groups = s.get(f"groups{c}", functools.partial(_group_sums, truth, score[:, c], w, s.max_groups))
            per.append(fn(*groups))
        return np.asarray(np.nanmean(np.stack(per, 1), axis=1)) if per else np.full(w.shape[0], np.nan)

    return compute


def _log_loss(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    assert o.y_score is not None
    eps = np.finfo(np.float64).eps
    if o.task is _BIN:
        p = np.clip(o.y_score, eps, 1 - eps)
        loss = -(o.y_true * np.log(p) + (1 - o.y_true) * np.log(1 - p))
    else:
        p = np.clip(o.y_score[np.arange(o.n), o.y_true.astype(np.intp)], eps, 1 - eps)
        loss = -np.log(p)
    return _div(w @ loss, _total(w, s))


def calibration_inputs(o: Outcomes) -> tuple[FloatArray, FloatArray]:
    """(confidence, outcome) per example: P(positive) and the label for binary; top-label for multiclass."""
    assert o.y_score is not None
    if o.task is _BIN:
        return o.y_score, o.y_true
    top = np.argmax(o.y_score, axis=1)
    return o.y_score.max(axis=1), (top == o.y_true.astype(np.intp)).astype(np.float64)


def _ece(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    conf, hit = calibration_inputs(o)
    bins = _onehot(
        np.minimum((conf * CALIBRATION_BINS).astype(np.intp), CALIBRATION_BINS - 1), CALIBRATION_BINS
    )
    gap = np.abs(w @ (bins * (hit - conf)[:, None])).sum(axis=1)
    return _div(gap, _total(w, s))


def _err(o: Outcomes) -> FloatArray:
    return o.y_pred - o.y_true


def _rmse(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    return np.sqrt(_div(w @ _err(o) ** 2, _total(w, s)))


def _mae(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    return _div(w @ np.abs(_err(o)), _total(w, s))


def _mape(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    ape = np.abs(_err(o)) / np.maximum(np.abs(o.y_true), np.finfo(np.float64).eps)
    return _div(w @ ape, _total(w, s))


def _r2(o: Outcomes, w: FloatArray, s: Scratch) -> FloatArray:
    sw = _total(w, s)
    mean = _div(w @ o.y_true, sw)
    ss_tot = w @ o.y_true**2 - sw * mean**2
    ss_res = w @ _err(o) ** 2
    return 1.0 - _div(ss_res, np.where(ss_tot > 1e-12 * np.maximum(sw, 1), ss_tot, 0.0))


def _needs_both_classes(o: Outcomes) -> str | None:
    if o.task is _BIN and np.unique(o.y_true).size < 2:
        return "only one class among the labels of this slice"
    return None


def _needs(label: str, what: Callable[[Outcomes], bool]) -> Check:
    def check(o: Outcomes) -> str | None:
        return None if o.task is not _BIN or what(o) else label

    return check


def _constant(o: Outcomes) -> str | None:
    return "the labels are constant on this slice" if np.ptp(o.y_true) == 0 else None


def _spec(
    name: str,
    description: str,
    direction: Direction,
    tasks: Iterable[TaskKind],
    compute: Compute,
    *,
    needs_scores: bool = False,
    undefined: Check | None = None,
) -> MetricSpec:
    return MetricSpec(
        name=name,
        description=description,
        direction=direction,
        tasks=frozenset(tasks),
        needs_scores=needs_scores,
        compute=compute,
        undefined=undefined,
    )


_H, _L = Direction.HIGHER, Direction.LOWER
_no_pos = _needs("no positive labels on this slice", lambda o: bool(o.y_true.any()))
_no_neg = _needs("no negative labels on this slice", lambda o: not bool(o.y_true.all()))
_METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        _spec("accuracy", "share of correct predictions", _H, _CLS, _accuracy),
        _spec(
            "precision", "TP / (TP + FP)", _H, _CLS, _precision,
            undefined=_needs("no predicted positives on this slice", lambda o: bool(o.y_pred.any())),
        ),
        _spec("recall", "TP / (TP + FN), the true positive rate", _H, _CLS, _recall, undefined=_no_pos),
        _spec("f1", "harmonic mean of precision and recall", _H, _CLS, _f1),
        _spec("false_positive_rate", "FP / (FP + TN)", _L, _CLS, _fpr, undefined=_no_neg),
        _spec("false_negative_rate", "FN / (FN + TP)", _L, _CLS, _fnr, undefined=_no_pos),
        _spec("positive_rate", "share predicted positive", Direction.NONE, {_BIN}, _positive_rate),
        _spec(
            "roc_auc", "area under the ROC curve", _H, _CLS, _ovr(_auc),
            needs_scores=True, undefined=_needs_both_classes,
        ),
        _spec(
            "pr_auc", "average precision (area under the PR curve)", _H, _CLS, _ovr(_ap),
            needs_scores=True, undefined=_no_pos,
        ),
        _spec("log_loss", "mean negative log-likelihood", _L, _CLS, _log_loss, needs_scores=True),
        _spec(
            "calibration_error", f"expected calibration error, {CALIBRATION_BINS} equal-width bins",
            _L, _CLS, _ece, needs_scores=True,
        ),
        _spec("rmse", "root mean squared error", _L, {_REG}, _rmse),
        _spec("mae", "mean absolute error", _L, {_REG}, _mae),
        _spec("r2", "coefficient of determination", _H, {_REG}, _r2, undefined=_constant),
        _spec("mape", "mean absolute percentage error (fraction)", _L, {_REG}, _mape),
    )
}  # fmt: skip


def metric_names(task: TaskKind | str | None = None) -> list[str]:
    """Names of the registered metrics, optionally only those for ``task``.

    Example:
        >>> metric_names("regression")
        ['rmse', 'mae', 'r2', 'mape']
    """
    kind = None if task is None else parse_task(task)
    return [n for n, m in _METRICS.items() if kind is None or kind in m.tasks]


def get_metric(name: str) -> MetricSpec:
    """The metric called ``name``.

    Raises:
        InvalidInput: no metric has that name; the message lists the valid names.

    Example:
        >>> get_metric("roc_auc").direction
        <Direction.HIGHER: 'higher'>
    """
    try:
        return _METRICS[name]
    except KeyError:
        raise InvalidInput(f"Unknown metric {name!r}; valid metrics are: {', '.join(_METRICS)}.") from None


def default_metrics(task: TaskKind | str, *, has_scores: bool) -> list[str]:
    """Every metric that applies to ``task`` (score-based ones only when scores are given)."""
    return [n for n in metric_names(task) if has_scores or not _METRICS[n].needs_scores]


def resolve_metrics(names: Iterable[str] | None, task: TaskKind, *, has_scores: bool) -> list[str]:
    """Check requested metric names against the task and the available predictions.

    Raises:
        InvalidInput: an unknown metric, one for another task, or a score metric without scores.
    """
    if names is None:
        return default_metrics(task, has_scores=has_scores)
    out: list[str] = []
    for name in names:
        spec = get_metric(name)
        if task not in spec.tasks:
            raise InvalidInput(
                f"Metric {name!r} does not apply to a {task.value} task; "
                f"use one of: {', '.join(metric_names(task))}."
            )
        if spec.needs_scores and not has_scores:
            raise InvalidInput(f"Metric {name!r} needs probabilities; pass `y_score` to evaluate it.")
        if name not in out:
            out.append(name)
    return out


def compute_metric(
    name: str, outcomes: Outcomes, weights: FloatArray | None = None, *, scratch: Scratch | None = None
) -> FloatArray:
    """Values of metric ``name`` for each row of ``weights`` (``None``: one row of ones).

    ``scratch`` shares intermediate sums between metrics computed on the same outcomes and weights.
    """
    w = np.ones((1, outcomes.n)) if weights is None else weights
    return get_metric(name).compute(outcomes, w, Scratch() if scratch is None else scratch)


def why_undefined(name: str, outcomes: Outcomes) -> str | None:
    """Why metric ``name`` has no value on ``outcomes``, or ``None`` when it has one."""
    spec = get_metric(name)
    if outcomes.n == 0:
        return "no examples"
    return spec.undefined(outcomes) if spec.undefined is not None else None


def confusion_matrix(outcomes: Outcomes) -> list[list[int]]:
    """Counts: row = true class, column = predicted class, in the order of ``outcomes.classes``."""
    k = 2 if outcomes.task is _BIN else len(outcomes.classes)
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (outcomes.y_true.astype(np.intp), outcomes.y_pred.astype(np.intp)), 1)
    return [[int(v) for v in row] for row in m]
