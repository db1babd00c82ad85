from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from loopml.analysis import Direction, TaskKind, get_metric, metric_names
from loopml.analysis._outcomes import prepare_outcomes
from loopml.analysis.metrics import Scratch, compute_metric, confusion_matrix, resolve_metrics, why_undefined
from loopml.errors import InvalidInput

RNG = np.random.default_rng(0)
N = 1500


def _binary() -> tuple[np.ndarray, np.ndarray]:
    y = RNG.integers(0, 2, N)
    score = np.round(np.clip(0.35 * y + RNG.random(N) * 0.65, 0, 1), 2)  # ties on purpose
    return y, score


def _multiclass(k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    y = RNG.integers(0, k, N)
    s = RNG.random((N, k))
    s[np.arange(N), y] += 0.6
    return y, s / s.sum(axis=1, keepdims=True)


def _ece_reference(conf: np.ndarray, hit: np.ndarray) -> float:
    bins = np.minimum((conf * 10).astype(int), 9)
    return sum(abs(hit[bins == b].sum() - conf[bins == b].sum()) for b in range(10)) / conf.size


def test_binary_metrics_match_scikit_learn() -> None:
    y, score = _binary()
    pred = (score >= 0.5).astype(int)
    o = prepare_outcomes(y, task="binary", y_score=score)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, score),
        "pr_auc": skm.average_precision_score(y, score),
        "log_loss": skm.log_loss(y, score),
        "false_positive_rate": fp / (fp + tn),
        "false_negative_rate": fn / (fn + tp),
        "positive_rate": pred.mean(),
        "calibration_error": _ece_reference(score, y.astype(float)),
    }
    for name, value in expected.items():
        assert compute_metric(name, o)[0] == pytest.approx(value, rel=1e-9), name
    assert confusion_matrix(o) == skm.confusion_matrix(y, pred).tolist()


def test_multiclass_metrics_match_scikit_learn() -> None:
    y, s = _multiclass()
    pred = s.argmax(axis=1)
    o = prepare_outcomes(y, task="multiclass", y_score=s)
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, average="macro"),
        "recall": skm.recall_score(y, pred, average="macro"),
        "f1": skm.f1_score(y, pred, average="macro"),
        "roc_auc": skm.roc_auc_score(y, s, multi_class="ovr"),
        "pr_auc": skm.average_precision_score(np.eye(4)[y], s, average="macro"),
        "log_loss": skm.log_loss(y, s),
        "calibration_error": _ece_reference(s.max(axis=1), (pred == y).astype(float)),
    }
    for name, value in expected.items():
        assert compute_metric(name, o)[0] == pytest.approx(value, rel=1e-9), name
    assert confusion_matrix(o) == skm.confusion_matrix(y, pred).tolist()


def test_multiclass_string_labels_follow_given_class_order() -> None:
    y, s = _multiclass(3)
    names = np.array(["cat", "ant", "bee"])  # column order, not sorted
    o = prepare_outcomes(names[y], task="multiclass", y_score=s, classes=list(names))
    assert o.classes == ("cat", "ant", "bee")
    assert compute_metric("accuracy", o)[0] == pytest.approx(skm.accuracy_score(y, s.argmax(axis=1)))


def test_regression_metrics_match_scikit_learn() -> None:
    y = RNG.normal(10, 3, N)
    pred = y + RNG.normal(0, 1, N)
    o = prepare_outcomes(y, task="regression", y_pred=pred)
    expected = {
        "rmse": skm.root_mean_squared_error(y, pred),
        "mae": skm.mean_absolute_error(y, pred),
        "r2": skm.r2_score(y, pred),
        "mape": skm.mean_absolute_percentage_error(y, pred),
    }
    for name, value in expected.items():
        assert compute_metric(name, o)[0] == pytest.approx(value, rel=1e-9), name


def test_weighted_rows_equal_resampled_data() -> None:
    y, score = _binary()
    o = prepare_outcomes(y, task="binary", y_score=score)
    idx = RNG.integers(0, N, N)
    weights = np.bincount(idx, minlength=N).astype(float)[None, :]
    for name in ("roc_auc", "pr_auc", "f1", "log_loss"):
        resampled = prepare_outcomes(y[idx], task="binary", y_score=score[idx])
        assert compute_metric(name, o, weights)[0] == pytest.approx(compute_metric(name, resampled)[0])


def test_directions_and_tasks() -> None:
    assert get_metric("roc_auc").direction is Direction.HIGHER
    assert get_metric("rmse").direction is Direction.LOWER
    assert get_metric("false_negative_rate").direction is Direction.LOWER
    assert metric_names("regression") == ["rmse", "mae", "r2", "mape"]
    assert "roc_auc" in metric_names("multiclass")


def test_unknown_metric_lists_valid_names() -> None:
    with pytest.raises(InvalidInput, match=r"Unknown metric 'auroc'.*roc_auc.*rmse"):
        get_metric("auroc")


def test_metric_of_other_task_or_without_scores_is_refused() -> None:
    with pytest.raises(InvalidInput, match="does not apply to a regression task"):
        resolve_metrics(["accuracy"], TaskKind.REGRESSION, has_scores=False)
    with pytest.raises(InvalidInput, match="needs probabilities"):
        resolve_metrics(["roc_auc"], TaskKind.BINARY, has_scores=False)


def test_undefined_metrics_give_reasons() -> None:
    o = prepare_outcomes([1, 1, 1], task="binary", y_score=[0.2, 0.7, 0.9])
    assert why_undefined("roc_auc", o) == "only one class among the labels of this slice"
    assert why_undefined("false_positive_rate", o) == "no negative labels on this slice"
    assert why_undefined("recall", o) is None
    r = prepare_outcomes([2.0, 2.0], task="regression", y_pred=[1.0, 3.0])
    assert why_undefined("r2", r) == "the labels are constant on this slice"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": [0, 1, 1], "y_pred": [0, 1], "task": "binary"}, "`y_pred` has 2 rows but `y_true` has 3"),
        ({"y_true": [0, 1, 2], "y_pred": [0, 1, 2], "task": "binary"}, "at most two labels"),
        ({"y_true": [0, 1], "y_score": [0.5, 1.5], "task": "binary"}, r"probabilities in \[0, 1\]"),
        ({"y_true": [0, 1], "task": "binary"}, "needs `y_pred`"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "task": "ranking"}, "Unknown task 'ranking'"),
        ({"y_true": [0.0, np.nan], "y_pred": [0.0, 1.0], "task": "regression"}, "missing"),
        ({"y_true": [0, 1], "y_pred": [0, 5], "task": "multiclass", "classes": [0, 1]}, "not in `classes`"),
    ],
)
def test_bad_inputs_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        prepare_outcomes(**kwargs)  # type: ignore[arg-type]


def test_grouped_ranking_metrics_stay_close_to_exact() -> None:
    y = RNG.integers(0, 2, 20_000)
    score = np.clip(0.3 * y + RNG.random(20_000) * 0.7, 0, 1)
    o = prepare_outcomes(y, task="binary", y_score=score)
    for name in ("roc_auc", "pr_auc"):
        exact = compute_metric(name, o)[0]
        grouped = compute_metric(name, o, scratch=Scratch(max_groups=2048))[0]
        assert grouped != exact and grouped == pytest.approx(exact, abs=2e-3), name
