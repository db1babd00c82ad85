"""The trace repository contract, on SQLite and PostgreSQL: create, end, tags, search, delete."""

from __future__ import annotations

from typing import Any

import pytest

from loopml.errors import Conflict, InvalidInput, InvalidState, NotFound
from loopml.store.entities import TraceStatus
from loopml.store.trace_queries import TraceCondition, TraceField, TraceOrder
from tests.conftest import STORE_BACKENDS


@pytest.fixture(
    params=[
        pytest.param(b, id=b.name, marks=b.marks) for b in STORE_BACKENDS if b.name in ("sqlite", "postgres")
    ]
)
def store_backend(request: pytest.FixtureRequest) -> Any:
    """SQL backends: traces live in the SQL store (MLflow clients reach them through the server)."""
    return request.param


def _ids(page: Any) -> list[str]:
    return [t.trace_id for t in page.items]


def test_create_end_and_get_round_trip(store: Any) -> None:
    experiment = store.experiments.create("traced").experiment_id
    started = store.traces.create(
        experiment_id=experiment,
        timestamp_ms=1_000,
        request_metadata={"mlflow.sourceRun": "r1"},
        tags={"mlflow.traceName": "predict"},
    )
    assert started.trace_id.startswith("tr-") and len(started.trace_id) == 35
    assert (started.status, started.execution_time_ms, started.data_sha256) == (
        TraceStatus.IN_PROGRESS,
        None,
        None,
    )
    ended = store.traces.end(
        started.trace_id, end_ms=1_250, status=TraceStatus.OK, request_metadata={"m": "1"}, tags={"t": "2"}
    )
    assert (ended.status, ended.execution_time_ms) == (TraceStatus.OK, 250)
    assert dict(ended.request_metadata) == {"mlflow.sourceRun": "r1", "m": "1"}
    assert dict(ended.tags) == {"mlflow.traceName": "predict", "t": "2"}
    store.traces.attach_data(started.trace_id, sha256="a" * 64, size=12)
    assert (store.traces.get(started.trace_id).data_sha256, store.traces.get(started.trace_id).data_size) == (
        "a" * 64,
        12,
    )
    assert store.traces.find_experiment_id(started.trace_id) == experiment
    assert store.traces.find_experiment_id("tr-missing") is None


def test_refusals_name_what_is_wrong(store: Any) -> None:
    experiment = store.experiments.create("refusals").experiment_id
    store.traces.create(experiment_id=experiment, timestamp_ms=1, trace_id="tr-fixed")
    with pytest.raises(Conflict, match="tr-fixed"):
        store.traces.create(experiment_id=experiment, timestamp_ms=1, trace_id="tr-fixed")
    with pytest.raises(NotFound, match="No experiment"):
        store.traces.create(experiment_id="f" * 32, timestamp_ms=1)
    with pytest.raises(InvalidInput, match="no '/'"):
        store.traces.create(experiment_id=experiment, timestamp_ms=1, trace_id="tr/x")
    with pytest.raises(NotFound, match="No trace with id 'tr-none'"):
        store.traces.get("tr-none")
    with pytest.raises(NotFound, match="No trace"):
        store.traces.end("tr-none", end_ms=2, status=TraceStatus.OK)
    with pytest.raises(NotFound, match="no tag 'absent'"):
        store.traces.delete_tag("tr-fixed", "absent")
    store.experiments.delete(experiment)
    with pytest.raises(InvalidState, match="deleted"):
        store.traces.create(experiment_id=experiment, timestamp_ms=1)


def test_search_filters_orders_and_pages(store: Any) -> None:
    experiment = store.experiments.create("searched").experiment_id
    other = store.experiments.create("elsewhere").experiment_id
    for i in range(5):
        trace = store.traces.create(
            experiment_id=experiment, timestamp_ms=1_000 + i, trace_id=f"tr-{i}", tags={"i": str(i)}
        )
        store.traces.end(
            trace.trace_id, end_ms=1_000 + i * 11, status=TraceStatus.OK if i % 2 else TraceStatus.ERROR
        )
    store.traces.create(experiment_id=other, timestamp_ms=5_000, trace_id="tr-other")
    assert _ids(store.traces.search([experiment])) == ["tr-4", "tr-3", "tr-2", "tr-1", "tr-0"]
    assert _ids(store.traces.search([experiment, other]))[0] == "tr-other"
    status = TraceCondition(field=TraceField.ATTRIBUTE, key="status", op="=", value="OK")
    assert _ids(store.traces.search([experiment], conditions=[status])) == ["tr-3", "tr-1"]
    later = TraceCondition(field=TraceField.ATTRIBUTE, key="timestamp_ms", op=">=", value=1_003)
    tag = TraceCondition(field=TraceField.TAG, key="i", op="IN", value=("0", "3", "4"))
    assert _ids(store.traces.search([experiment], conditions=[later, tag])) == ["tr-4", "tr-3"]
    not_tag = TraceCondition(field=TraceField.TAG, key="i", op="!=", value="0")
    assert "tr-0" not in _ids(store.traces.search([experiment], conditions=[not_tag]))
    by_time = [TraceOrder(key="execution_time_ms", ascending=True)]
    assert _ids(store.traces.search([experiment], order_by=by_time))[:2] == ["tr-0", "tr-1"]
    first = store.traces.search([experiment], max_results=2)
    second = store.traces.search([experiment], max_results=2, page_token=first.next_page_token)
    last = store.traces.search([experiment], max_results=2, page_token=second.next_page_token)
    assert _ids(first) + _ids(second) + _ids(last) == ["tr-4", "tr-3", "tr-2", "tr-1", "tr-0"]
    assert last.next_page_token is None


def test_delete_by_ids_and_by_age_stays_in_the_experiment(store: Any) -> None:
    experiment = store.experiments.create("pruned").experiment_id
    other = store.experiments.create("kept").experiment_id
    for i in range(4):
        store.traces.create(experiment_id=experiment, timestamp_ms=i, trace_id=f"tr-p{i}", tags={"k": "v"})
    store.traces.create(experiment_id=other, timestamp_ms=0, trace_id="tr-k")
    assert store.traces.delete(experiment, trace_ids=["tr-p0", "tr-k"]) == 1  # tr-k is elsewhere
    assert store.traces.delete(experiment, max_timestamp_ms=3, max_traces=2) == 2  # the two oldest
    assert _ids(store.traces.search([experiment])) == ["tr-p3"]
    assert store.traces.get("tr-k").experiment_id == other
    with pytest.raises(NotFound):
        store.traces.get("tr-p1")
