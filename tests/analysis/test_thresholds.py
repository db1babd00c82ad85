from __future__ import annotations

import pytest

from loopml.analysis import (
    ChangeMode,
    CheckKind,
    MetricThreshold,
    Predictions,
    ReferencePerformance,
    evaluate,
)
from loopml.errors import InvalidInput

from .conftest import BinaryData


def _eval(data: BinaryData, score: object, **kwargs: object):  # type: ignore[no-untyped-def]
    return evaluate(
        data.y_true, y_score=score, task="binary", features=data.features,
        slices=["SEX", "RAC1P"], bootstrap=None, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def test_absolute_bounds(binary: BinaryData) -> None:
    r = _eval(
        binary,
        binary.good_score,
        thresholds=[
            MetricThreshold(metric="accuracy", lower=0.8, slices=("*",)),
            MetricThreshold(metric="log_loss", upper=0.01),
        ],
        min_slice_size=100,
    )
    assert r.blessing is not None and not r.blessing.passed
    (failure,) = r.blessing.failures
    assert failure.kind is CheckKind.UPPER_BOUND and failure.slice == "overall"
    assert failure.message.startswith("log_loss on overall is ") and "> upper bound 0.01" in failure.message
    checked = {o.slice for o in r.blessing.outcomes if o.metric == "accuracy" and not o.skipped}
    assert {"overall", "SEX=1", "SEX=2", "RAC1P=1", "RAC1P=6"} <= checked
    skipped = [o for o in r.blessing.outcomes if o.skipped]
    assert [o.slice for o in skipped] == ["RAC1P=9"]  # about 40 examples, below 100
    assert "below the minimum slice size" in skipped[0].message


def test_worse_candidate_on_one_slice_is_not_blessed(binary: BinaryData) -> None:
    champion = _eval(binary, binary.good_score)
    gate = [
        MetricThreshold(metric="roc_auc", change_tolerance=0.01, slices=("overall", "SEX")),
        MetricThreshold(metric="recall", lower=0.65, slices=("SEX",)),
    ]
    assert _eval(binary, binary.good_score, baseline=champion, thresholds=gate).blessing.passed  # type: ignore[union-attr]
    worse = _eval(binary, binary.bad_score, baseline=champion, thresholds=gate)
    assert worse.blessing is not None and not worse.blessing.passed
    failed = {(o.metric, o.slice, o.kind) for o in worse.blessing.failures}
    assert ("recall", "SEX=2", CheckKind.LOWER_BOUND) in failed
    assert ("roc_auc", "SEX=2", CheckKind.CHANGE) in failed
    assert ("recall", "SEX=1", CheckKind.LOWER_BOUND) not in failed
    reasons = "\n".join(worse.blessing.reasons)
    assert "recall on slice SEX=2 is " in reasons and "< lower bound 0.65" in reasons
    assert "roc_auc on slice SEX=2 dropped by " in reasons and "vs baseline (" in reasons
    assert "allowed 0.01" in reasons


def test_baseline_as_predictions_equals_baseline_as_result(binary: BinaryData) -> None:
    gate = [MetricThreshold(metric="f1", change_tolerance=0.0, slices=("SEX",))]
    a = _eval(binary, binary.bad_score, baseline=Predictions(y_score=binary.good_score), thresholds=gate)
    b = _eval(binary, binary.bad_score, baseline=_eval(binary, binary.good_score), thresholds=gate)
    assert a.blessing == b.blessing
    assert a.get_slice("SEX=2").baseline["f1"] == pytest.approx(b.get_slice("SEX=2").baseline["f1"])


def test_relative_tolerance(binary: BinaryData) -> None:
    champion = _eval(binary, binary.good_score)
    noisy = binary.good_score * 0.9 + 0.05  # same ranking: AUC unchanged, log loss worse
    loose = MetricThreshold(metric="log_loss", change_tolerance=10.0, change_mode=ChangeMode.RELATIVE)
    tight = MetricThreshold(metric="log_loss", change_tolerance=0.01, change_mode=ChangeMode.RELATIVE)
    assert _eval(binary, noisy, baseline=champion, thresholds=[loose]).blessing.passed  # type: ignore[union-attr]
    r = _eval(binary, noisy, baseline=champion, thresholds=[tight])
    assert r.blessing is not None and not r.blessing.passed
    assert "log_loss on overall rose by" in r.blessing.reasons[0]
    assert "allowed 1% of baseline" in r.blessing.reasons[0]


def test_change_without_baseline_is_skipped(binary: BinaryData) -> None:
    r = _eval(binary, binary.good_score, thresholds=[MetricThreshold(metric="roc_auc", change_tolerance=0.0)])
    assert r.blessing is not None and r.blessing.passed
    assert r.blessing.outcomes[0].skipped and "no baseline" in r.blessing.outcomes[0].message


def test_reference_performance_per_slice(binary: BinaryData) -> None:
    refs = [
        ReferencePerformance(metric="recall", slice="SEX=1", value=0.5, label="human-level"),
        ReferencePerformance(metric="recall", slice="SEX=2", value=0.99, label="human-level"),
    ]
    r = _eval(binary, binary.good_score, reference_performance=refs)
    assert r.blessing is not None and [o.slice for o in r.blessing.failures] == ["SEX=2"]
    assert (
        "recall on slice SEX=2 is" in r.blessing.reasons[0]
        and "below human-level 0.99" in r.blessing.reasons[0]
    )


def test_unknown_metric_in_threshold_lists_valid_names() -> None:
    with pytest.raises(InvalidInput, match=r"Unknown metric 'auc'; valid metrics are: accuracy, .*roc_auc"):
        MetricThreshold(metric="auc", lower=0.5)


def test_threshold_metric_of_other_task(binary: BinaryData) -> None:
    with pytest.raises(InvalidInput, match="'rmse' does not apply to a binary task"):
        _eval(binary, binary.good_score, thresholds=[MetricThreshold(metric="rmse", upper=1.0)])


def test_invalid_thresholds() -> None:
    with pytest.raises(InvalidInput, match="sets no bound"):
        MetricThreshold(metric="recall")
    with pytest.raises(InvalidInput, match="needs `direction`"):
        MetricThreshold(metric="positive_rate", change_tolerance=0.1)
    with pytest.raises(InvalidInput, match=r"lower 0\.9 > upper 0\.1"):
        MetricThreshold(metric="recall", lower=0.9, upper=0.1)


def test_threshold_round_trip() -> None:
    t = MetricThreshold(metric="recall", lower=0.6, change_tolerance=0.02, change_mode=ChangeMode.RELATIVE)
    assert MetricThreshold.from_dict(t.to_dict()) == t
