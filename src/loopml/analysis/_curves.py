"""Overall ROC, precision-recall and calibration curves, thinned for plotting."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from loopml.analysis._outcomes import FloatArray, Outcomes, TaskKind
from loopml.analysis.metrics import CALIBRATION_BINS, calibration_inputs
from loopml.analysis.results import Curve, Curves

__all__ = ["compute_curves"]

_MAX_POINTS = 200


def _thin(x: FloatArray, y: FloatArray) -> Curve:
    if x.size > _MAX_POINTS:
        keep = np.unique(np.linspace(0, x.size - 1, _MAX_POINTS).round().astype(np.intp))
        x, y = x[keep], y[keep]
    return Curve(x=tuple(float(v) for v in x), y=tuple(float(v) for v in y))


def _calibration(o: Outcomes) -> Curve:
    conf, hit = calibration_inputs(o)
    bins = np.minimum((conf * CALIBRATION_BINS).astype(np.intp), CALIBRATION_BINS - 1)
    counts = np.bincount(bins, minlength=CALIBRATION_BINS)
    used = counts > 0
    mean_conf = np.bincount(bins, weights=conf, minlength=CALIBRATION_BINS)[used] / counts[used]
    observed = np.bincount(bins, weights=hit, minlength=CALIBRATION_BINS)[used] / counts[used]
    return Curve(
        x=tuple(float(v) for v in mean_conf),
        y=tuple(float(v) for v in observed),
        counts=tuple(int(c) for c in counts[used]),
    )


def compute_curves(o: Outcomes) -> Curves | None:
    """Curves for a classifier with scores; ROC and PR only for binary tasks with both classes."""
    if o.task is TaskKind.REGRESSION or o.y_score is None or o.n == 0:
        return None
    calibration = _calibration(o)
    if o.task is not TaskKind.BINARY or np.unique(o.y_true).size < 2:
        return Curves(calibration=calibration)
    fpr, tpr, _ = roc_curve(o.y_true, o.y_score)
    precision, recall, _ = precision_recall_curve(o.y_true, o.y_score)
    return Curves(
        roc=_thin(np.asarray(fpr), np.asarray(tpr)),
        pr=_thin(np.asarray(recall)[::-1], np.asarray(precision)[::-1]),
        calibration=calibration,
    )
