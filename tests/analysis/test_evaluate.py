# ruff: noqa: RUF001  (the multiplication sign joins crossed slice names on purpose)
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.analysis import EvaluationResult, MetricThreshold, SliceSpec, TaskKind, evaluate
from loopml.errors import InvalidInput, NotFound

from .conftest import BinaryData


def test_sliced_binary_evaluation(binary: BinaryData) -> None:
    r = evaluate(
        binary.y_true, y_score=binary.good_score, task="binary", features=binary.features,
        slices=["SEX", "SEX × RAC1P", SliceSpec.buckets("AGEP", edges=[30, 60])],
    )  # fmt: skip
    assert r.overall.count == 4000
    assert sum(s.count for s in r.slices if s.spec == "SEX") == 4000
    assert r.slice_specs == ("overall", "SEX", "SEX × RAC1P", "AGEP")
    assert r.get_slice("AGEP∈[30,60)").count == int(
        ((binary.features.AGEP >= 30) & (binary.features.AGEP < 60)).sum()
    )
    assert r.overall.metrics["roc_auc"].value > 0.9  # type: ignore[operator]
    assert r.overall.confusion_matrix is not None and sum(map(sum, r.overall.confusion_matrix)) == 4000
    assert r.curves is not None and r.curves.roc is not None and r.curves.calibration is not None
    assert r.blessing is None


def test_tiny_slice_is_reported_not_crashed(binary: BinaryData) -> None:
    r = evaluate(
        binary.y_true, y_score=binary.good_score, task="binary", features=binary.features,
        slices=["RAC1P"], min_slice_size=100,
        thresholds=[MetricThreshold(metric="roc_auc", lower=0.5, slices=("RAC1P=9",))],
    )  # fmt: skip
    tiny = r.get_slice("RAC1P=9")
    assert tiny.count < 100 and not tiny.is_evaluated and tiny.metrics == {}
    assert tiny.note is not None and "below the minimum slice size 100" in tiny.note
    assert r.small_slices == (tiny,)
    assert r.blessing is not None and r.blessing.passed and r.blessing.outcomes[0].skipped


def test_undefined_metric_on_one_class_slice_is_none_with_reason() -> None:
    features = pd.DataFrame({"G": ["a"] * 40 + ["b"] * 40})
    y = [0, 1] * 20 + [1] * 40
    score = np.linspace(0.05, 0.95, 80)
    r = evaluate(y, y_score=score, task="binary", features=features, slices=["G"], bootstrap=None)
    auc = r.get_slice("G=b").metrics["roc_auc"]
    assert auc.value is None and auc.reason == "only one class among the labels of this slice"
    assert r.get_slice("G=b").metrics["recall"].value is not None


def test_missing_slice_column_names_it(binary: BinaryData) -> None:
    with pytest.raises(InvalidInput, match=r"'RACE'.*available columns: SEX, RAC1P, AGEP"):
        evaluate(
            binary.y_true, y_score=binary.good_score, task="binary", features=binary.features, slices=["RACE"]
        )


def test_length_mismatch(binary: BinaryData) -> None:
    with pytest.raises(InvalidInput, match="`y_score` has 3999 rows but `y_true` has 4000"):
        evaluate(binary.y_true, y_score=binary.good_score[:-1], task="binary")
    with pytest.raises(InvalidInput, match="`features` has 10 rows"):
        evaluate(
            binary.y_true,
            y_score=binary.good_score,
            task="binary",
            features=binary.features[:10],
            slices=["SEX"],
        )


def test_multiclass_and_regression() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 600)
    s = rng.random((600, 3))
    s[np.arange(600), y] += 1
    features = pd.DataFrame({"K": rng.integers(0, 2, 600)})
    mc = evaluate(y, y_score=s, task="multiclass", features=features, slices=["K"], bootstrap=None)
    assert mc.task is TaskKind.MULTICLASS and mc.classes == (0, 1, 2)
    assert len(mc.overall.confusion_matrix or ()) == 3 and "positive_rate" not in mc.metrics
    yt = rng.normal(size=600)
    reg = evaluate(yt, y_pred=yt + 0.1, task="regression", features=features, slices=["K"], bootstrap=None)
    assert reg.overall.metrics["mae"].value == pytest.approx(0.1)
    assert reg.metrics == ("rmse", "mae", "r2", "mape") and reg.curves is None


def test_json_round_trip(binary: BinaryData, tmp_path: Path) -> None:
    r = evaluate(
        binary.y_true, y_score=binary.bad_score, task="binary", features=binary.features, slices=["SEX"],
        baseline=evaluate(binary.y_true, y_score=binary.good_score, task="binary", features=binary.features,
                          slices=["SEX"], bootstrap=None),
        thresholds=[MetricThreshold(metric="roc_auc", change_tolerance=0.01, slices=("*",))],
        properties={"model": "candidate", "data_version": "abc123"},
    )  # fmt: skip
    assert EvaluationResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    path = r.save(tmp_path / "eval.json")
    assert EvaluationResult.load(path) == r
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="No evaluation file"):
        EvaluationResult.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        EvaluationResult.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(InvalidInput, match="Not an evaluation result"):
        EvaluationResult.load(tmp_path / "other.json")


def test_get_slice_not_found(binary: BinaryData) -> None:
    r = evaluate(binary.y_true, y_pred=binary.y_true, task="binary", bootstrap=None)
    with pytest.raises(NotFound, match="No slice 'SEX=3'"):
        r.get_slice("SEX=3")


def test_properties_that_are_not_json_are_refused(tmp_path: Path) -> None:
    r = evaluate(
        [0, 1] * 20, y_pred=[0, 1] * 20, task="binary", bootstrap=None, properties={"when": object()}
    )
    with pytest.raises(InvalidInput, match="cannot be written as JSON"):
        r.save(tmp_path / "e.json")
    assert not list(tmp_path.iterdir())
