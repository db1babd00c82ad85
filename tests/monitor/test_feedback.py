"""Feedback labels on SQLite and PostgreSQL: idempotent upsert, order-independent duplicates, types."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopml.errors import InvalidInput
from loopml.monitor import prediction_table, write_prediction_table
from loopml.monitor.feedback import Feedback, FeedbackService, LabelType, label_type_of_log, read_feedback_csv
from loopml.monitor.service import MonitorService
from loopml.monitor.targets import Target
from tests.conftest import STORE_BACKENDS
from tests.monitor.simulate import T0 as LOG_START
from tests.monitor.simulate import log_hour

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


@pytest.fixture(
    params=[
        pytest.param(b, id=b.name, marks=b.marks) for b in STORE_BACKENDS if b.name in ("sqlite", "postgres")
    ]
)
def store_backend(request: pytest.FixtureRequest) -> Any:
    """SQL backends: labels live in the SQL store."""
    return request.param


def _log(root: Path, predict: np.ndarray) -> None:
    n = len(predict)
    write_prediction_table(
        root,
        prediction_table(
            model="churn",
            version="1",
            request_ids=[f"r{i}" for i in range(n)],
            times=np.array(["2026-03-01T10:00"] * n, dtype="datetime64[ms]"),
            protocols=["v2"] * n,
            principals=[None] * n,
            latency_ms=[1.0] * n,
            sizes=[1] * n,
            inputs={"x": np.arange(n, dtype=np.float64)},
            outputs={"predict": predict},
        ),
    )


def test_repeat_is_unchanged_and_a_correction_replaces(store: Any) -> None:
    service = FeedbackService(store.feedback)
    first = service.add("churn", [Feedback(key="r1", label="yes"), Feedback(key="r2", label="no")], now=T0)
    assert (first.inserted, first.replaced, first.unchanged) == (2, 0, 0)
    again = service.add("churn", [Feedback(key="r1", label="yes")], now=T0 + dt.timedelta(hours=1))
    assert (again.inserted, again.replaced, again.unchanged) == (0, 0, 1)
    fixed = service.add("churn", [Feedback(key="r2", label="yes")], now=T0 + dt.timedelta(hours=2))
    assert fixed.replaced == 1
    labels = {(lab.key, lab.row): lab.value for lab in store.feedback.list("churn")}
    assert labels == {("r1", -1): "yes", ("r2", -1): "yes"}
    assert service.counts("churn")[0] == 2


def test_conflicting_duplicates_give_the_same_label_in_any_order(store: Any) -> None:
    items = [
        Feedback(key="r1", label="a", observed_at=T0),
        Feedback(key="r1", label="b", observed_at=T0 + dt.timedelta(minutes=5)),
        Feedback(key="r1", label="a", observed_at=T0 + dt.timedelta(minutes=9)),
        Feedback(key="r1", label="c", observed_at=T0 + dt.timedelta(minutes=9)),
    ]
    outcomes = set()
    for i, order in enumerate(itertools.permutations(items)):
        model = f"m{i}"
        service = FeedbackService(store.feedback)
        for item in order:  # one by one, as they would arrive
            service.add(model, [item], now=T0)
        [label] = store.feedback.list(model)
        outcomes.add((label.value, label.observed_at))
    # the latest observation wins; of the two at 9 minutes, the larger value
    assert outcomes == {("c", int((T0 + dt.timedelta(minutes=9)).timestamp() * 1000))}


def test_labels_of_the_wrong_type_are_refused_whole(store: Any, tmp_path: Path) -> None:
    _log(tmp_path, np.array([0, 1, 1], dtype=np.int64))
    assert label_type_of_log(tmp_path, "churn") is LabelType.INTEGER
    service = FeedbackService(store.feedback, log_root=tmp_path)
    with pytest.raises(InvalidInput, match=r"Refused 2 of 3 .*'yes'.*2\.5.*integer") as info:
        service.add(
            "churn",
            [Feedback(key="r0", label=1), Feedback(key="r1", label="yes"), Feedback(key="r2", label=2.5)],
        )
    assert "nothing stored" in str(info.value)
    assert store.feedback.list("churn") == []
    assert service.add("churn", [Feedback(key="r0", label="1"), Feedback(key="r1", label=0.0)]).inserted == 2
    assert sorted(lab.value for lab in store.feedback.list("churn")) == [0, 1]


def test_numbers_for_a_regressor_and_mixed_types_without_a_log(store: Any, tmp_path: Path) -> None:
    _log(tmp_path, np.array([0.5, 1.5]))
    service = FeedbackService(store.feedback, log_root=tmp_path)
    with pytest.raises(InvalidInput, match="number"):
        service.add("churn", [Feedback(key="r0", label=float("nan"))])
    assert service.add("churn", [Feedback(key="r0", label="2.25")]).inserted == 1
    plain = FeedbackService(store.feedback)
    with pytest.raises(InvalidInput, match="same type"):
        plain.add("other", [Feedback(key="a", label="x"), Feedback(key="b", label=3)])


def test_unknown_ids_and_key_fields_are_kept(store: Any) -> None:
    service = FeedbackService(store.feedback)
    service.add("churn", [Feedback(key="never-logged", label="yes")])
    service.add("churn", [Feedback(key="C-17", label="no")], key_field="customer")
    assert [lab.key for lab in store.feedback.find("churn", key_field="", keys=["never-logged", "x"])] == [
        "never-logged"
    ]
    assert [lab.key for lab in store.feedback.find("churn", key_field="customer", keys=["C-17"])] == ["C-17"]


def test_bad_keys_and_rows_are_named(store: Any) -> None:
    service = FeedbackService(store.feedback)
    with pytest.raises(InvalidInput, match=r"#1 \(''\): an empty.*#2 \('r'\): a negative row"):
        service.add("churn", [Feedback(key="", label="a"), Feedback(key="r", label="a", row=-2)])
    with pytest.raises(InvalidInput, match="without '/'"):
        service.add("a/b", [])


def test_csv_reading() -> None:
    text = "request_id,label,row,observed_at\nr1,yes,,\nr2,no,3,2026-03-01T10:00:00\n"
    items = read_feedback_csv(text)
    assert items[0] == Feedback(key="r1", label="yes")
    assert items[1].row == 3 and items[1].observed_at == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    with pytest.raises(InvalidInput, match=r"lacks column\(s\) \['label'\]"):
        read_feedback_csv("request_id,truth\nr1,1\n")
    with pytest.raises(InvalidInput, match="line 2"):
        read_feedback_csv("request_id,label,row\nr1,1,x\n")


def test_windows_are_stored_and_recomputed_in_place(store: Any, tmp_path: Path) -> None:
    logged = log_hour(tmp_path, 0, n=50)
    service = MonitorService(store, log_root=tmp_path)
    target = Target(deployment="churn", model="churn")
    later = LOG_START + dt.timedelta(days=1)
    [first] = service.run(target, now=later)
    FeedbackService(store.feedback).add("churn", [Feedback(key=logged.ids[0], label=int(logged.truth[0]))])
    [again] = service.run(target, now=later)
    assert (first.start, first.metrics["labelled_rows"], again.metrics["labelled_rows"]) == (
        LOG_START,
        0.0,
        1.0,
    )
    assert service.windows(target) == [again] and service.status(target).labels_joined == 1
