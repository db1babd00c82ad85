"""What a caller may see, without HTTP: lineage filtering, and no lookups for a caller who sees everything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from loopml.errors import NotFound
from loopml.security.auth import ResourceKind
from loopml.server._visibility import EVERYTHING, Visibility
from loopml.store.entities import Event, EventType, Execution, ExecutionState
from loopml.store.repositories import Store
from loopml.store.sql import SqlStore, open_store


class Untouchable:
    """A store that fails the test on any use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Visibility looked up store.{name}")


def never(key: str) -> str | None:
    raise AssertionError(f"Visibility looked up {key!r}")


def event(execution_id: str, artifact_id: str) -> Event:
    return Event(
        execution_id=execution_id, artifact_id=artifact_id, type=EventType.INPUT, role="r", timestamp=1
    )


def execution(run_id: str | None) -> Execution:
    return Execution(
        execution_id="e", type="t", name="n", state=ExecutionState.RUNNING, started_at=1, run_id=run_id
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


@pytest.mark.parametrize(
    "visible",
    [
        EVERYTHING,
        Visibility(
            {ResourceKind.EXPERIMENT: frozenset()}, never, run_of_execution=never
        ),  # no grants anywhere
    ],
)
def test_a_caller_who_sees_everything_costs_no_lookup(visible: Visibility) -> None:
    store = cast(Store, Untouchable())
    events = [event("e1", "a1"), event("e2", "a2")]
    assert visible.visible_events(events, store=store) == events
    assert visible.unseen_artifacts(["a1", "missing"], store=store) == []  # the store reports missing ones
    assert visible.unseen_executions(["e1"], store=store) == []
    assert visible.shows_execution(execution("r1")) and visible.shows_run("r1")


def test_executions_need_no_lookup_when_no_experiment_is_hidden() -> None:
    visible = Visibility({ResourceKind.DATASET: frozenset({"secret-data"})}, never, run_of_execution=never)
    assert visible.unseen_executions(["e1"], store=cast(Store, Untouchable())) == []
    assert visible.shows_execution(execution("r1"))


def test_lineage_of_a_hidden_experiment_is_left_out(store: SqlStore) -> None:
    secret = store.experiments.create("secret").experiment_id
    hidden_run = store.runs.create(secret).run_id
    open_run = store.runs.create(store.experiments.create("open").experiment_id).run_id
    shown_art = store.artifacts.create(
        type="File", name="a", uri="a", sha256=None, size=None, run_id=open_run
    )
    hidden_art = store.artifacts.create(
        type="File", name="b", uri="b", sha256=None, size=None, run_id=hidden_run
    )
    named = store.artifacts.create(type="Dataset", name="secret-data", uri="c", sha256=None, size=None)
    lone = store.lineage.create_execution(type="t", name="lone").execution_id
    hidden_exe = store.lineage.create_execution(type="t", name="h", run_id=hidden_run).execution_id
    lookups: list[str] = []

    def run_of_execution(execution_id: str) -> str | None:
        lookups.append(execution_id)
        try:
            return store.lineage.get_execution(execution_id).run_id or ""
        except NotFound:
            return None

    runs = {hidden_run: secret, open_run: "other"}
    visible = Visibility(
        {ResourceKind.EXPERIMENT: frozenset({secret}), ResourceKind.DATASET: frozenset({"secret-data"})},
        runs.get,
        run_of_execution=run_of_execution,
    )
    events = [
        event(lone, shown_art.artifact_id),
        event(lone, hidden_art.artifact_id),
        event(lone, named.artifact_id),
        event(hidden_exe, shown_art.artifact_id),
        event(lone, shown_art.artifact_id),
    ]
    assert visible.visible_events(events, store=store) == [events[0], events[4]]
    assert sorted(lookups) == sorted([lone, hidden_exe])  # each execution once per listing
    ids = [shown_art.artifact_id, hidden_art.artifact_id, named.artifact_id, "0" * 32]
    assert visible.unseen_artifacts(ids, store=store) == sorted(ids[1:])  # missing ones count too
    assert visible.unseen_executions([lone, hidden_exe, "0" * 32], store=store) == sorted(
        [hidden_exe, "0" * 32]
    )
    assert not visible.shows_execution(execution(hidden_run)) and visible.shows_execution(execution(None))


def test_a_deployment_serving_a_hidden_model_is_hidden() -> None:
    visible = Visibility({ResourceKind.MODEL: frozenset({"churn"})})
    assert not visible.shows_deployment(["models:/fraud/2", "models:/churn@champion"])
    assert visible.shows_deployment(["models:/fraud/2", "blend"])  # an ensemble name names no model
    assert EVERYTHING.shows_deployment(["models:/churn/1"])
