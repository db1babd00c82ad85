from __future__ import annotations

import re
from pathlib import Path

from loopml.analysis import EvaluationResult, MetricThreshold, Predictions, evaluate, write_html, write_json

from .conftest import BinaryData


def _result(binary: BinaryData) -> EvaluationResult:
    return evaluate(
        binary.y_true, y_score=binary.bad_score, task="binary", features=binary.features,
        slices=["SEX", "RAC1P"], min_slice_size=50, baseline=Predictions(y_score=binary.good_score),
        thresholds=[MetricThreshold(metric="recall", lower=0.65, slices=("SEX",))],
    )  # fmt: skip


def test_html_report_is_self_contained(binary: BinaryData, tmp_path: Path) -> None:
    path = write_html(_result(binary), tmp_path / "report.html", title="Census <candidate>")
    html = path.read_text(encoding="utf-8")
    for key in ("SEX=1", "SEX=2", "RAC1P=1", "RAC1P=6", "RAC1P=9"):
        assert key in html
    assert "Census &lt;candidate&gt;" in html
    assert "NOT BLESSED" in html and "recall on slice SEX=2 is" in html
    assert html.count("<svg") >= 6  # bars per spec, ROC, PR, calibration, confusion matrix
    assert "Calibration" in html and "Precision-recall" in html and "Confusion matrix" in html
    assert "too small" in html  # RAC1P=9 has about 40 examples < 50
    assert not re.search(r"<script|<link|src=|href=|@import|url\(", html, re.IGNORECASE)
    assert "http" not in html


def test_json_report(binary: BinaryData, tmp_path: Path) -> None:
    result = _result(binary)
    path = write_json(result, tmp_path / "out" / "eval.json")
    assert EvaluationResult.load(path) == result


def test_regression_report_without_curves(tmp_path: Path) -> None:
    r = evaluate([1.0, 2.0, 3.0] * 20, y_pred=[1.1, 2.0, 2.7] * 20, task="regression", bootstrap=None)
    html = write_html(r, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "rmse" in html and "ROC" not in html
