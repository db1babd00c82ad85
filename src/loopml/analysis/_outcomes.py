"""Validated, encoded labels and predictions that every metric and slice works on."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.errors import InvalidInput

__all__ = ["Outcomes", "TaskKind", "prepare_outcomes"]

FloatArray = npt.NDArray[np.float64]


class TaskKind(enum.StrEnum):
    """What the model predicts."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


def parse_task(task: TaskKind | str) -> TaskKind:
    """``task`` as a :class:`TaskKind`, or :class:`InvalidInput` listing the valid kinds."""
    try:
        return TaskKind(task)
    except ValueError:
        valid = ", ".join(t.value for t in TaskKind)
        raise InvalidInput(f"Unknown task {task!r}; use one of: {valid}.") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcomes:
    """Labels and predictions in one encoding.

    Binary: ``y_true``/``y_pred`` are 0.0/1.0 and ``y_score`` is P(positive) per row.
    Multiclass: ``y_true``/``y_pred`` are class codes (indexes into ``classes``) and ``y_score``
    is an ``(n, len(classes))`` probability matrix. Regression: floats, no scores.
    """

    task: TaskKind
    y_true: FloatArray
    y_pred: FloatArray
    y_score: FloatArray | None
    classes: tuple[Any, ...] = ()

    @property
    def n(self) -> int:
        return int(self.y_true.shape[0])

    def take(self, index: npt.NDArray[np.intp]) -> Outcomes:
        """The rows at ``index``."""
        return Outcomes(
            task=self.task,
            y_true=self.y_true[index],
            y_pred=self.y_pred[index],
            y_score=None if self.y_score is None else self.y_score[index],
            classes=self.classes,
        )


def _array(name: str, value: Any, n: int | None) -> npt.NDArray[Any]:
    arr = np.asarray(value)
    if arr.ndim == 0:
        raise InvalidInput(f"`{name}` must be an array of one value per example; got a scalar {arr!r}.")
    if n is not None and arr.shape[0] != n:
        raise InvalidInput(
            f"`{name}` has {arr.shape[0]} rows but `y_true` has {n}; pass one value per example."
        )
    return arr


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _check_missing(name: str, arr: npt.NDArray[Any]) -> None:
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise InvalidInput(
            f"`{name}` has {int(np.isnan(arr).sum())} missing (NaN) values; drop or fill them first."
        )


def prepare_outcomes(
    y_true: Any,
    *,
    task: TaskKind | str,
    y_pred: Any = None,
    y_score: Any = None,
    classes: Any = None,
    pos_label: Any = None,
    decision_threshold: float = 0.5,
) -> Outcomes:
    """Check lengths and types and encode labels, predictions and scores.

    Raises:
        InvalidInput: lengths differ, values are missing, or the predictions do not fit the task.
    """
    kind = parse_task(task)
    truth = _array("y_true", y_true, None)
    n = truth.shape[0]
    pred = None if y_pred is None else _array("y_pred", y_pred, n)
    score = None if y_score is None else _array("y_score", y_score, n).astype(np.float64)
    _check_missing("y_true", truth)
    if pred is not None:
        _check_missing("y_pred", pred)
    if score is not None:
        _check_missing("y_score", score)
    if kind is TaskKind.REGRESSION:
        if pred is None:
            raise InvalidInput("A regression evaluation needs `y_pred` (the predicted values).")
        return Outcomes(
            task=kind, y_true=truth.astype(np.float64), y_pred=pred.astype(np.float64), y_score=None
        )
    if pred is None and score is None:
        raise InvalidInput(f"A {kind.value} evaluation needs `y_pred` (labels) or `y_score` (probabilities).")
    if kind is TaskKind.BINARY:
        return _binary(truth, pred, score, pos_label=pos_label, threshold=decision_threshold)
    return _multiclass(truth, pred, score, classes=classes)


def _binary(
    truth: npt.NDArray[Any],
    pred: npt.NDArray[Any] | None,
    score: FloatArray | None,
    *,
    pos_label: Any,
    threshold: float,
) -> Outcomes:
    labels = set(np.unique(truth).tolist())
    if pred is not None:
        labels |= set(np.unique(pred).tolist())
    if pos_label is None:
        pos_label = 1 if 1 in labels else (max(labels) if labels else 1)
    negatives = labels - {pos_label}
    if len(negatives) > 1:
        raise InvalidInput(
            f"A binary evaluation needs at most two labels; got {sorted(map(str, labels))}. "
            "Use task='multiclass' or set `pos_label`."
        )
    if score is not None:
        if score.ndim == 2 and score.shape[1] == 2:
            score = score[:, 1]
        if score.ndim != 1:
            raise InvalidInput(
                f"Binary `y_score` must hold P(positive) per example (1-D); got shape {score.shape}."
            )
        if score.size and (score.min() < 0.0 or score.max() > 1.0):
            raise InvalidInput(
                f"Binary `y_score` must be probabilities in [0, 1]; got values in "
                f"[{score.min():g}, {score.max():g}]."
            )
    y = (truth == pos_label).astype(np.float64)
    if pred is None:
        assert score is not None  # guaranteed by the caller
        p = (score >= threshold).astype(np.float64)
    else:
        p = (pred == pos_label).astype(np.float64)
    negative = _native(next(iter(negatives))) if negatives else 0
    return Outcomes(
        task=TaskKind.BINARY, y_true=y, y_pred=p, y_score=score, classes=(negative, _native(pos_label))
    )


def _multiclass(
    truth: npt.NDArray[Any], pred: npt.NDArray[Any] | None, score: FloatArray | None, *, classes: Any
) -> Outcomes:
    if classes is None:
        seen = np.unique(truth if pred is None else np.concatenate([truth, pred]))
        classes_arr = seen
    else:
        classes_arr = np.asarray(classes)
    if score is not None:
        if score.ndim != 2 or score.shape[1] != len(classes_arr):
            raise InvalidInput(
                f"Multiclass `y_score` must have one column per class ({len(classes_arr)}: "
                f"{classes_arr.tolist()}); got shape {score.shape}. Pass `classes` in column order."
            )
        sums = score.sum(axis=1, keepdims=True)
        score = score / np.where(sums > 0, sums, 1.0)
    order = np.argsort(classes_arr, kind="stable")
    sorted_classes = classes_arr[order]

    def encode(name: str, values: npt.NDArray[Any]) -> FloatArray:
        pos = np.searchsorted(sorted_classes, values)
        pos = np.clip(pos, 0, len(sorted_classes) - 1)
        bad = sorted_classes[pos] != values
        if bad.any():
            raise InvalidInput(
                f"`{name}` holds labels not in `classes` {classes_arr.tolist()}: "
                f"{sorted(map(str, np.unique(values[bad])))[:5]}."
            )
        return order[pos].astype(np.float64)

    y = encode("y_true", truth)
    if pred is None:
        assert score is not None
        p = np.argmax(score, axis=1).astype(np.float64)
    else:
        p = encode("y_pred", pred)
    return Outcomes(
        task=TaskKind.MULTICLASS,
        y_true=y,
        y_pred=p,
        y_score=score,
        classes=tuple(_native(c) for c in classes_arr.tolist()),
    )
