"""The census traffic of the lifecycle demo: seeded draws, the labour shock, requests and late labels."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.examples.census.pipeline import HERE
from loopml.examples.census.traffic import TrafficClient, labour_shock, sample_year
from loopml.monitor import read_prediction_log
from loopml.monitor.feedback import FeedbackService
from loopml.registry import package_model
from loopml.serving import AppOptions, DataPlane, ModelRepository, ModelSource, create_app, load_served_model
from loopml.serving.background import serve_in_thread
from loopml.serving.prediction_log import PredictionLogger
from loopml.store.sql import open_store

YEAR = pd.read_parquet(HERE / "data" / "year=2016.parquet")


def test_a_year_is_drawn_the_same_way_every_time() -> None:
    a, b = sample_year(YEAR, 300, seed=7), sample_year(YEAR, 300, seed=7)
    assert a.equals(b) and len(a) == 300
    assert not a.equals(sample_year(YEAR, 300, seed=8))
    with pytest.raises(ValueError, match="Cannot draw"):
        sample_year(YEAR.head(10), 11, seed=1)


def test_the_shock_takes_jobs_from_the_young_only_and_leaves_the_answers_alone() -> None:
    rows = sample_year(YEAR, 5000, seed=1)
    shocked = labour_shock(rows, under=35, share=0.9, seed=2)
    features = [c for c in rows.columns if c != "employed"]
    assert shocked[features].equals(rows[features])
    young = rows["AGEP"] < 35
    lost = (rows["employed"] == 1) & (shocked["employed"] == 0)
    assert not lost[~young].any()
    assert (shocked["employed"] <= rows["employed"]).all()
    share = lost[young & (rows["employed"] == 1)].mean()
    assert 0.85 < share < 0.95


def test_requests_carry_ids_and_labels_arrive_later_through_feedback(tmp_path: Path) -> None:
    rows = sample_year(YEAR, 40, seed=3)
    features = [c for c in rows.columns if c not in ("id", "year", "employed")]
    model = LogisticRegression(max_iter=500).fit(rows[features], rows["employed"])
    package = package_model(model, tmp_path / "pkg", sample=rows[features].head(5), created_by="tests")
    served = load_served_model(ModelSource(uri=str(package.path), name="census"))
    log = tmp_path / "log"
    logger = PredictionLogger(log, flush_interval_s=0.02)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    plane = DataPlane(ModelRepository([served]), sinks=[logger])
    app = create_app(plane, options=AppOptions(feedback=FeedbackService(store.feedback, log_root=log)))
    expected = model.predict(rows[features])
    try:
        with serve_in_thread(app) as url, TrafficClient(url, "census", features=features) as client:
            batch = client.send(rows, prefix="t")
            assert batch.request_ids[0] == "t-000000" and len(batch.request_ids) == 40
            assert batch.start < batch.end
            assert batch.predictions == tuple(int(p) for p in expected)
            assert batch.accuracy == pytest.approx(float(np.mean(expected == rows["employed"])))
            deadline = time.monotonic() + 10
            while read_prediction_log(log).num_rows < 40 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.send_labels(batch) == 40
            assert client.send_labels(batch) == 0  # idempotent: the same labels again change nothing
        stored = sorted((lab.key, lab.value) for lab in store.feedback.list("census"))
        assert stored[:2] == [("t-000000", int(rows["employed"][0])), ("t-000001", int(rows["employed"][1]))]
    finally:
        store.close()
