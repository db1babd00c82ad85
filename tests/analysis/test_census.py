"""A realistic check on the shipped US Census data: train on 2015, evaluate 2016 by SEX and RAC1P."""
# ruff: noqa: RUF001  (the multiplication sign joins crossed slice names on purpose)

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from loopml.analysis import BootstrapConfig, MetricThreshold, ModelCard, evaluate, render_html

DATA = Path(__file__).resolve().parents[2] / "src" / "loopml" / "examples" / "census" / "data"
FEATURES = ["AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY",
            "DEAR", "DEYE", "DREM", "SEX", "RAC1P"]  # fmt: skip


@pytest.mark.slow
def test_census_2015_model_on_2016_by_sex_and_race() -> None:
    train = pd.read_parquet(DATA / "year=2015.parquet")
    test = pd.read_parquet(DATA / "year=2016.parquet")
    categorical = [c for c in FEATURES if c != "AGEP"]
    model = make_pipeline(
        OneHotEncoder(handle_unknown="ignore", min_frequency=20), LogisticRegression(max_iter=300)
    )
    model.fit(train[categorical].astype(str).assign(AGE=train["AGEP"] // 10), train["employed"])
    x_test = test[categorical].astype(str).assign(AGE=test["AGEP"] // 10)
    score = model.predict_proba(x_test)[:, 1]

    result = evaluate(
        test["employed"], y_score=score, task="binary", features=test,
        slices=["SEX", "RAC1P", "SEX × RAC1P"], bootstrap=BootstrapConfig(n=50),
        thresholds=[MetricThreshold(metric="roc_auc", lower=0.75, slices=("overall", "SEX"))],
    )  # fmt: skip

    assert result.overall.count == len(test) == 69_126
    assert result.overall.metrics["roc_auc"].value == pytest.approx(roc_auc_score(test["employed"], score))
    assert {s.key for s in result.slices if s.spec == "SEX"} == {"SEX=1", "SEX=2"}
    assert sum(s.count for s in result.slices if s.spec == "RAC1P") == len(test)
    assert result.blessing is not None and result.blessing.passed, result.blessing.reasons
    for key in ("SEX=1", "SEX=2", "RAC1P=1", "RAC1P=2", "RAC1P=6"):
        m = result.get_slice(key).metrics["roc_auc"]
        assert m.value is not None and m.lower is not None and m.upper is not None
        assert m.lower <= m.value <= m.upper
    # small race groups (e.g. 3/4/5/7) exist in the data and are reported rather than evaluated
    assert any(not s.is_evaluated for s in result.slices if s.spec == "SEX × RAC1P")
    gaps = {(g.spec, g.metric): g for g in result.fairness}
    assert 0.0 < gaps[("SEX", "positive_rate")].ratio <= 1.0  # type: ignore[operator]
    assert "RAC1P=6" in render_html(result)
    assert (
        "| SEX=2 |" in ModelCard(model_name="employment", model_version="1", evaluation=result).to_markdown()
    )
