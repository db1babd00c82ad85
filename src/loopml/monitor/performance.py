"""Online performance from joined labels, and performance estimated before labels arrive.

Realised (on labelled rows): accuracy with a 95 % Wilson interval, ROC AUC (one-vs-rest,
macro-averaged beyond two classes) and log loss for classifiers; RMSE and MAE for regressors.

Estimated (on every row, no labels needed), confidence-based as NannyML's CBPE: when the model's
probabilities are calibrated, the chance that a row is classified correctly is its top class
probability, so the expected accuracy of a window is their mean, with a normal-approximation
interval from the per-row Bernoulli variances. Shown beside the realised accuracy once labels
come, it tells how far the estimate can be trusted.

Example:
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> m = classification_metrics(np.array(["a", "b", "a"]), np.array(["a", "b", "b"], dtype=object),
    ...                            proba=proba, classes=["a", "b"])
    >>> round(m["accuracy"], 3), round(m["auc"], 3)
    (0.667, 1.0)
    >>> round(estimated_accuracy(proba)["estimated_accuracy"], 3)
    0.767
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["classification_metrics", "estimated_accuracy", "regression_metrics"]

_Z = 1.959963984540054  # two-sided 95 %
_EPS = 1e-15


def _wilson(successes: int, n: int) -> tuple[float, float]:
    p = successes / n
    denom = 1 + _Z**2 / n
    centre = (p + _Z**2 / (2 * n)) / denom
    half = _Z * math.sqrt(p * (1 - p) / n + _Z**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """Mann-Whitney AUC with average ranks for ties; None without both classes."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    ranks = np.empty(len(score), dtype=np.float64)
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(average, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_metrics(
    predicted: np.ndarray,
    labels: np.ndarray,
    *,
    proba: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, float]:
    """Accuracy (and interval), AUC and log loss over the rows that have a label.

    Args:
        predicted: Predicted classes as strings.
        labels: True classes as strings, None where unlabelled.
        proba: Class probabilities ``[n, k]`` in the order of ``classes`` (None: accuracy only).
        classes: The classes of ``proba``'s columns.
    """
    has = np.array([v is not None for v in labels], dtype=bool)
    n = int(has.sum())
    if n == 0:
        return {}
    y, yhat = labels[has].astype(str), predicted[has].astype(str)
    correct = int((y == yhat).sum())
    low, high = _wilson(correct, n)
    out = {"accuracy": correct / n, "accuracy_low": low, "accuracy_high": high}
    if proba is None or classes is None or proba.shape[1] != len(classes):
        return out
    p = proba[has]
    index = {c: i for i, c in enumerate(classes)}
    known = np.array([v in index for v in y], dtype=bool)
    if not known.any():
        return out
    cols = np.array([index[v] for v in y[known]], dtype=np.int64)
    pk = p[known]
    out["log_loss"] = float(-np.mean(np.log(np.clip(pk[np.arange(len(cols)), cols], _EPS, 1.0))))
    aucs = [
        _binary_auc(cols == j, pk[:, j]) for j in (range(1, 2) if len(classes) == 2 else range(len(classes)))
    ]
    scored = [a for a in aucs if a is not None]
    if scored and len(scored) == len(aucs):
        out["auc"] = float(np.mean(scored))
    return out


def estimated_accuracy(proba: np.ndarray) -> dict[str, float]:
    """Expected accuracy of calibrated probabilities ``[n, k]``, with a 95 % interval."""
    if proba.size == 0:
        return {}
    top = np.nanmax(proba, axis=1)
    top = top[np.isfinite(top)]
    if top.size == 0:
        return {}
    mean = float(top.mean())
    half = _Z * math.sqrt(float((top * (1 - top)).sum())) / top.size
    return {
        "estimated_accuracy": mean,
        "estimated_accuracy_low": max(0.0, mean - half),
        "estimated_accuracy_high": min(1.0, mean + half),
    }


def regression_metrics(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """RMSE and MAE over rows with a finite label and prediction."""
    y = np.array([np.nan if v is None else float(v) for v in labels], dtype=np.float64)
    yhat = np.asarray(predicted, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(yhat)
    if not ok.any():
        return {}
    err = yhat[ok] - y[ok]
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err)))}
