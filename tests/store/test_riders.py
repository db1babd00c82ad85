"""A rider commits with the first write transaction of its context on its database, or not at all."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.errors import NotFound
from loopml.store.entities import AuditEvent, Metric
from loopml.store.riders import Rider
from loopml.store.sql import SqlStore, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


def audit_rider(store: SqlStore, action: str = "runs.log-batch") -> Rider:
    return store.identity.audit_event_rider(
        actor="ed", action=action, result="ok", status_code=204, details={"path": "/x"}, clock=lambda: 7
    )


def actions(store: SqlStore) -> list[str]:
    return [e.action for e in store.identity.list_audit_events(limit=100)]


def test_the_first_write_commits_the_row_with_its_own_changes(store: SqlStore) -> None:
    run = store.runs.create(store.experiments.create("e").experiment_id)
    rider = audit_rider(store)
    with rider.carried():
        store.runs.log_batch(run.run_id, metrics=[Metric(key="m", value=1.0, step=0, timestamp=1)])
        store.runs.log_batch(run.run_id, params={"p": "1"})  # the second write carries nothing
    assert rider.committed and not rider.take()  # committed: its owner writes nothing more
    event = rider.result
    assert isinstance(event, AuditEvent)
    [stored] = store.identity.list_audit_events(limit=10)
    assert (stored.event_id, stored.actor, stored.action, stored.status_code, stored.at) == (
        event.event_id,
        "ed",
        "runs.log-batch",
        204,
        7,
    )
    assert stored.details == {"path": "/x"}


def test_a_rolled_back_write_leaves_the_row_to_the_next_one(store: SqlStore) -> None:
    run = store.runs.create(store.experiments.create("e").experiment_id)
    rider = audit_rider(store)
    with rider.carried():
        with pytest.raises(NotFound):
            store.runs.log_batch("0" * 32, params={"p": "1"})  # fails inside its transaction
        assert actions(store) == [] and not rider.committed
        store.runs.log_batch(run.run_id, params={"p": "1"})
    assert rider.committed and actions(store) == ["runs.log-batch"]


def test_a_failing_row_fails_the_write_it_rides(store: SqlStore) -> None:
    run = store.runs.create(store.experiments.create("e").experiment_id)

    def broken(conn: object) -> None:
        raise RuntimeError("the audit table is gone")

    rider = Rider(owner=store.identity._db, statements=broken)
    with rider.carried(), pytest.raises(RuntimeError, match="audit table"):
        store.runs.log_batch(run.run_id, params={"p": "1"})
    assert store.runs.get(run.run_id).params == {}  # no change is kept without its row
    assert rider.take()  # uncommitted: its owner writes the row its own way


def test_only_its_context_and_its_database_carry_it(store: SqlStore, tmp_path: Path) -> None:
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        rider = audit_rider(store)
        with rider.carried():
            other.experiments.create("elsewhere")  # another database
            outside = threading.Thread(target=store.experiments.create, args=("no-context",))
            outside.start()  # a plain thread does not copy the context
            outside.join()
            assert not rider.committed and actions(store) == [] and actions(other) == []
            copied = contextvars.copy_context()
            worker = threading.Thread(target=copied.run, args=(store.experiments.create, "worker"))
            worker.start()  # a worker thread given the context (as anyio's are) carries it
            worker.join()
        assert rider.committed and actions(store) == ["runs.log-batch"]
        store.experiments.create("after")  # outside the block: nothing carried
        assert actions(store) == ["runs.log-batch"]
    finally:
        other.close()


def test_a_taken_rider_is_never_written(store: SqlStore) -> None:
    rider = audit_rider(store)
    with rider.carried():
        assert rider.try_take() is True
        store.experiments.create("after-take")
    assert actions(store) == [] and not rider.committed


def test_the_outcome_of_a_written_row_can_be_corrected(store: SqlStore) -> None:
    rider = audit_rider(store)
    with rider.carried():
        store.experiments.create("e")
    store.identity.set_audit_outcome(rider.result.event_id, status_code=500, result="failed")
    [event] = store.identity.list_audit_events(limit=10)
    assert (event.status_code, event.result) == (500, "failed")
