"""Monitoring windows over a synthetic log: figures, drift, late labels, incomplete partitions, re-runs."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from loopml.data import compute_statistics
from loopml.errors import InvalidInput, NotFound
from loopml.monitor.feedback import Feedback, FeedbackService
from loopml.monitor.records import WindowRecord
from loopml.monitor.service import MonitorService
from loopml.monitor.targets import Target
from loopml.monitor.windows import MonitorConfig, WindowSpec
from loopml.store.entities import StoredWindow
from loopml.store.sql import SqlStore, open_store
from tests.monitor.simulate import T0, Logged, log_hour

CHURN = Target(deployment="churn", model="churn")
LATER = T0 + dt.timedelta(days=2)


@pytest.fixture
def store() -> Iterator[SqlStore]:
    with open_store("sqlite://") as opened:
        yield opened


def _labels(logged: Logged, fraction: float = 1.0) -> list[Feedback]:
    k = int(len(logged.ids) * fraction)
    return [Feedback(key=i, label=int(t)) for i, t in zip(logged.ids[:k], logged.truth[:k], strict=True)]


def _figures(records: list[WindowRecord]) -> list[tuple[dt.datetime, bool, int, dict[str, float]]]:
    return [(r.start, r.complete, r.rows, dict(r.metrics)) for r in records]


def test_hourly_windows_measure_what_was_logged(store: SqlStore, tmp_path: Path) -> None:
    logs = [log_hour(tmp_path, h) for h in range(3)]
    FeedbackService(store.feedback, log_root=tmp_path).add("churn", _labels(logs[0], 0.5))
    service = MonitorService(store, log_root=tmp_path)
    computed = service.run(CHURN, now=LATER)
    assert [r.start for r in computed] == [T0 + dt.timedelta(hours=h) for h in range(3)]
    first, second, third = computed
    assert (first.rows, first.complete, first.version, first.partitions) == (
        400,
        True,
        "1",
        ("model=churn/hour=2026-03-01T00",),
    )
    half = logs[0]
    expected = float(np.mean(half.predicted[:200] == half.truth[:200]))
    assert first.metrics["accuracy"] == pytest.approx(expected)
    assert first.metrics["label_coverage"] == 0.5 and first.metrics["labelled_rows"] == 200
    assert first.metrics["accuracy_low"] < expected < first.metrics["accuracy_high"]
    assert abs(first.metrics["estimated_accuracy"] - expected) < 0.08  # calibrated probabilities
    assert "auc" in first.metrics and "log_loss" in first.metrics
    assert second.metrics["label_coverage"] == 0.0 and "accuracy" not in second.metrics
    assert first.metrics["latency_p50_ms"] <= first.metrics["latency_p99_ms"]
    assert 0 < first.metrics["atypical_rate"] < 0.05 and first.metrics["error_rate"] == 0.0
    assert "drift.x" not in first.metrics and {"drift.x", "drift.city"} <= set(second.metrics)
    assert "baseline_drift.x" in third.metrics and "prediction_drift" in third.metrics
    assert second.metrics["drift_features"] == 0.0  # stationary data: no alarm
    assert first.metrics["class_rate.0"] + first.metrics["class_rate.1"] == pytest.approx(1.0)


def test_a_deployment_named_apart_from_its_model_reads_the_log_served_under_its_name(
    store: SqlStore, tmp_path: Path
) -> None:
    """`loopml serve` logs a deployment's predictions and takes its labels under the deployment's
    name; the windows of deployment ``shop`` (serving model ``churn``) are computed from them."""
    from loopml.deploy.records import Deployment
    from loopml.deploy.spec import DeploymentSpec

    spec = DeploymentSpec(name="shop", primary="models:/churn@champion")
    store.deployments.create("shop", Deployment(spec=spec).to_document(), actor=None)
    logged = log_hour(tmp_path, 0, model="shop")
    log_hour(tmp_path, 0, model="churn", seed=7)  # the model served elsewhere: not shop's traffic
    FeedbackService(store.feedback, log_root=tmp_path).add("shop", _labels(logged))
    service = MonitorService(store, log_root=tmp_path, deployments=store.deployments)
    target = service.target("shop")
    (window,) = service.run(target, now=LATER)
    assert (window.deployment, window.model, window.rows) == ("shop", "churn", 400)
    assert window.partitions == ("model=shop/hour=2026-03-01T00",)
    assert window.metrics["label_coverage"] == 1.0
    assert window.metrics["accuracy"] == pytest.approx(float(np.mean(logged.predicted == logged.truth)))
    assert service.status(target).labels == 400


def test_drift_is_found_against_the_previous_window_and_the_baseline(store: SqlStore, tmp_path: Path) -> None:
    for h in range(3):
        log_hour(tmp_path, h, shift=1.0 if h == 2 else 0.0)
    records = MonitorService(store, log_root=tmp_path).run(CHURN, now=LATER)
    assert records[1].metrics["drift_features"] == 0.0
    assert (
        records[2].metrics["drift_features"] >= 1.0 and records[2].metrics["baseline_drift_features"] >= 1.0
    )
    assert records[2].metrics["drift.x"] > 10 * records[1].metrics["drift.x"]
    assert records[2].metrics["prediction_drift"] > records[1].metrics["prediction_drift"]


def test_a_shift_in_one_slice_is_found_in_that_slice(store: SqlStore, tmp_path: Path) -> None:
    for h in range(4):  # x moves in the last hour, for the rows of Paris only (a fifth of the traffic)
        log_hour(tmp_path, h, shift=1.5 if h == 3 else 0.0, shift_city="paris")
    config = MonitorConfig(slice_columns=("city",))
    records = MonitorService(store, log_root=tmp_path).run(CHURN, config, now=LATER)
    cities = ("nice", "lyon", "paris")
    for r in records[1:3]:  # stationary hours: no slice drifts
        assert r.metrics["slice_drift_features"] == 0.0
        assert [r.metrics[f"slice.city={c}.drift_features"] for c in cities] == [0.0, 0.0, 0.0]
    last = records[3].metrics
    assert (
        last["slice.city=paris.drift_features"] == 1.0
        and last["slice.city=paris.baseline_drift_features"] == 1.0
    )
    assert last["slice.city=nice.drift_features"] == 0.0 and last["slice.city=lyon.drift_features"] == 0.0
    assert last["slice_drift_features"] == 1.0  # the pair (Paris, x), and nothing else
    assert last["slice.city=paris.drift.x"] > 5 * max(
        last["slice.city=nice.drift.x"], last["slice.city=lyon.drift.x"]
    )
    assert last["slice.city=paris.rows"] == pytest.approx(0.2 * 400, abs=40)
    assert MonitorConfig(slice_column="city", slice_columns=("city", "x")).slices == ("city", "x")


def test_late_duplicated_unordered_labels_give_the_batch_windows(tmp_path: Path) -> None:
    logs = [log_hour(tmp_path, h) for h in range(4)]
    every = [f for logged in logs for f in _labels(logged)]
    unknown = [Feedback(key="never-logged", label=1)]
    config = MonitorConfig(label_horizon=dt.timedelta(days=30))
    with open_store("sqlite://") as batch_store:
        FeedbackService(batch_store.feedback).add("churn", every + unknown)
        batch = MonitorService(batch_store, log_root=tmp_path).run(CHURN, config, now=LATER)
    with open_store("sqlite://") as store:
        feedback, service = FeedbackService(store.feedback), MonitorService(store, log_root=tmp_path)
        shuffled = list(every)
        random.Random(7).shuffle(shuffled)
        bursts = [shuffled[:300], shuffled[300:900] + shuffled[:50], unknown, shuffled[900:]]
        now = T0 + dt.timedelta(hours=2, minutes=5)
        for burst in bursts:  # windows close while labels keep coming, for old and new windows alike
            service.run(CHURN, config, now=now)
            feedback.add("churn", burst)
            now += dt.timedelta(hours=1)
        service.run(CHURN, config, now=LATER)
        incremental = service.windows(CHURN)
        again = service.run(CHURN, config, now=LATER + dt.timedelta(hours=1))
        status = service.status(CHURN)
    assert _figures(incremental) == _figures(batch)
    assert again == []  # nothing changed: nothing recomputed
    assert incremental[0].metrics["label_coverage"] == 1.0
    assert (status.labels, status.labels_joined, status.labels_pending) == (1601, 1600, 1)


def test_a_recomputation_is_identical(store: SqlStore, tmp_path: Path) -> None:
    for h in range(2):
        log_hour(tmp_path, h)
    service = MonitorService(store, log_root=tmp_path)
    config = MonitorConfig(slice_column="city")
    first = service.run(CHURN, config, now=LATER)
    again = service.compute(CHURN, config, start=first[1].start, end=first[1].end)
    assert _figures([again]) == _figures(first[1:])
    assert {"slice.city=nice.rows", "slice.city=lyon.estimated_accuracy"} <= set(first[0].metrics)
    nice = first[0].metrics["slice.city=nice.rows"]
    assert 120 < nice < 280 and nice + first[0].metrics["slice.city=lyon.rows"] < 400


def test_an_unreadable_partition_marks_its_window_incomplete_and_nothing_else(
    store: SqlStore, tmp_path: Path
) -> None:
    for h in range(3):
        log_hour(tmp_path, h)
    folder = tmp_path / "model=churn" / "hour=2026-03-01T01"
    (folder / "part-corrupt.parquet").write_bytes(b"PAR1 not really parquet")
    records = MonitorService(store, log_root=tmp_path).run(CHURN, now=LATER)
    assert [r.complete for r in records] == [True, False, True]
    assert records[1].rows == 400  # the readable files of the hour still count
    assert "part-corrupt.parquet is unreadable" in records[1].problems[0]
    status = MonitorService(store, log_root=tmp_path).status(CHURN)
    assert [r.start for r in status.incomplete] == [records[1].start]


def test_a_partition_that_disappears_is_reported_missing(store: SqlStore, tmp_path: Path) -> None:
    log_hour(tmp_path, 0)
    service = MonitorService(store, log_root=tmp_path)
    config = MonitorConfig(window=WindowSpec.parse("day"))
    [day] = service.run(CHURN, config, now=LATER)
    for path in (tmp_path / "model=churn" / "hour=2026-03-01T00").iterdir():
        path.unlink()
    (tmp_path / "model=churn" / "hour=2026-03-01T00").rmdir()
    log_hour(tmp_path, 5)
    again = service.compute(CHURN, config, start=day.start, end=day.end)
    assert not again.complete and "missing" in again.problems[0]


def test_a_day_merges_its_hours(store: SqlStore, tmp_path: Path) -> None:
    for h in (0, 1, 5):
        log_hour(tmp_path, h)
    service = MonitorService(store, log_root=tmp_path)
    hours = service.run(CHURN, now=LATER)
    [day] = service.run(CHURN, MonitorConfig(window=WindowSpec.parse("day")), now=LATER)
    assert day.rows == sum(h.rows for h in hours) == 1200
    assert len(day.partitions) == 3 and day.window == "day"
    assert service.windows(CHURN, window="day") == [day]


def test_count_windows_hold_n_requests(store: SqlStore, tmp_path: Path) -> None:
    for h in range(3):
        log_hour(tmp_path, h, n=100)
    service = MonitorService(store, log_root=tmp_path)
    config = MonitorConfig(window=WindowSpec.parse("requests:120"))
    records = service.run(CHURN, config, now=LATER)
    assert [r.rows for r in records] == [120, 120]  # the 60 requests left wait for more
    assert records[0].end == records[1].start
    log_hour(tmp_path, 3, n=100)
    more = service.run(CHURN, config, now=LATER)
    assert [r.rows for r in more][-1] == 120 and len(service.windows(CHURN)) == 3


def test_regressors_get_errors_and_skew_against_training(store: SqlStore, tmp_path: Path) -> None:
    logs = [log_hour(tmp_path, h, regression=True, shift=2.0 if h == 1 else 0.0) for h in range(2)]
    feedback = FeedbackService(store.feedback, log_root=tmp_path)
    feedback.add(
        "churn", [Feedback(key=i, label=float(v)) for i, v in zip(logs[0].ids, logs[0].truth, strict=True)]
    )
    rng = np.random.default_rng(3)
    training = compute_statistics(
        __import__("pyarrow").table(
            {"x": rng.normal(size=2000), "city": rng.choice(["nice", "lyon", "paris"], 2000)}
        )
    )
    asked: list[tuple[str, str]] = []

    def provider(model: str, version: str) -> object:
        asked.append((model, version))
        return training

    service = MonitorService(store, log_root=tmp_path, training_statistics=provider)  # type: ignore[arg-type]
    first, second = service.run(CHURN, now=LATER)
    assert 0.05 < first.metrics["rmse"] < 0.15 and first.metrics["mae"] < first.metrics["rmse"]
    assert "accuracy" not in first.metrics and "estimated_accuracy" not in first.metrics
    assert second.metrics["skew_features"] >= 1 and first.metrics["skew.x"] < second.metrics["skew.x"]
    assert first.metrics["anomalies"] >= 0 and asked == [("churn", "1")]  # cached per version


def test_status_of_nothing_and_bad_window_names(store: SqlStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="loopml monitor run"):
        MonitorService(store, log_root=tmp_path).status(CHURN)
    with pytest.raises(InvalidInput, match="'hour', 'day' or 'requests:N'"):
        WindowSpec.parse("weekly")


def test_a_view_is_the_status_and_the_windows_of_one_kind(store: SqlStore, tmp_path: Path) -> None:
    hour = 3_600_000
    for start, kind in ((0, "hour"), (1, "hour"), (2, "hour"), (0, "day")):
        store.monitor_windows.put(
            StoredWindow(
                deployment="churn", window=kind, start=start * hour, end=(start + 1) * hour,
                model="churn", version="1", complete=True, rows=10 + start, metrics={},
            )
        )  # fmt: skip
    service = MonitorService(store, log_root=tmp_path)
    view = service.view(CHURN)  # the main kind: most windows
    assert view.status == service.status(CHURN) and view.status.window_kinds == ("day", "hour")
    assert (view.kind, list(view.records)) == ("hour", service.windows(CHURN, window="hour"))
    day = service.view(CHURN, window="day")
    assert (day.kind, [r.rows for r in day.records]) == ("day", [10])
    assert service.view(CHURN, window="requests:50").kind == "hour"  # a kind it has not: the main one
    with pytest.raises(NotFound, match="loopml monitor run"):
        service.view(Target(deployment="other", model="other"))


def test_a_late_log_file_updates_its_window(store: SqlStore, tmp_path: Path) -> None:
    log_hour(tmp_path, 0, n=100)
    service = MonitorService(store, log_root=tmp_path)
    [first] = service.run(CHURN, now=LATER)
    assert service.run(CHURN, now=LATER) == []
    log_hour(tmp_path, 0, n=50, seed=1, files=1)  # a writer that flushed late into the same hour
    [again] = service.run(CHURN, now=LATER)
    assert (first.rows, again.rows, again.start) == (100, 150, first.start)


def test_labels_for_ids_not_logged_yet_are_kept_and_join_when_the_log_comes(
    store: SqlStore, tmp_path: Path
) -> None:
    first = log_hour(tmp_path, 0, n=100)
    early = log_hour(tmp_path / "elsewhere", 1, n=100)  # what hour 1 will log; its labels come first
    feedback, service = FeedbackService(store.feedback), MonitorService(store, log_root=tmp_path)
    feedback.add("churn", _labels(first) + _labels(early))
    service.run(CHURN, now=LATER)
    before = service.status(CHURN)
    assert (before.labels, before.labels_joined, before.labels_pending) == (200, 100, 100)
    log_hour(tmp_path, 1, n=100)  # the late log of hour 1
    [late] = service.run(CHURN, now=LATER)
    after = service.status(CHURN)
    assert late.start == T0 + dt.timedelta(hours=1) and late.metrics["label_coverage"] == 1.0
    assert late.metrics["accuracy"] == pytest.approx(float(np.mean(early.predicted == early.truth)))
    assert (after.labels_joined, after.labels_pending) == (200, 0)


@pytest.mark.slow
def test_stationary_traffic_raises_at_most_one_drift_alarm_in_24_windows(
    store: SqlStore, tmp_path: Path
) -> None:
    for h in range(24):
        log_hour(tmp_path, h, n=300, seed=5, files=1)
    records = MonitorService(store, log_root=tmp_path).run(CHURN, now=LATER)
    alarms = sum(
        r.metrics.get("drift_features", 0) + r.metrics.get("baseline_drift_features", 0) for r in records
    )
    assert len(records) == 24 and alarms <= 1
