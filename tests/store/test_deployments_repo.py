"""The deployment repository contract, on SQLite and PostgreSQL: revisions, history, conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from loopml.errors import Conflict, InvalidInput, NotFound
from tests.conftest import STORE_BACKENDS


@pytest.fixture(
    params=[
        pytest.param(b, id=b.name, marks=b.marks) for b in STORE_BACKENDS if b.name in ("sqlite", "postgres")
    ]
)
def store_backend(request: pytest.FixtureRequest) -> Any:
    """SQL backends: deployments live in the SQL store (remote clients go through the API)."""
    return request.param


DOC = {"name": "churn", "primary": "models:/churn@champion"}


def test_create_get_list_and_history(store: Any) -> None:
    created = store.deployments.create("churn", DOC, actor="ann", models=["churn/1"], reason="first")
    assert (created.name, created.revision, created.created_by, dict(created.document)) == (
        "churn",
        1,
        "ann",
        DOC,
    )
    assert store.deployments.get("churn") == created
    assert [d.name for d in store.deployments.list()] == ["churn"]
    [event] = store.deployments.history("churn")
    assert (event.action, event.actor, event.revision, event.models, event.reason) == (
        "create",
        "ann",
        1,
        ("churn/1",),
        "first",
    )
    assert event.document == DOC


def test_duplicate_name_is_a_conflict_and_changes_nothing(store: Any) -> None:
    store.deployments.create("churn", DOC, actor="ann")
    with pytest.raises(Conflict, match="already exists"):
        store.deployments.create("churn", {**DOC, "primary": "models:/other@champion"}, actor="bob")
    assert store.deployments.get("churn").document == DOC
    assert len(store.deployments.history("churn")) == 1


def test_update_is_compare_and_set_and_recorded(store: Any) -> None:
    store.deployments.create("churn", DOC, actor="ann")
    new = {**DOC, "canary": {"target": "models:/churn/2", "weight": 5}}
    updated = store.deployments.update(
        "churn", new, expected_revision=1, actor="bob", action="canary", models=["churn/1", "churn/2"]
    )
    assert (updated.revision, updated.updated_by, dict(updated.document)) == (2, "bob", new)
    with pytest.raises(Conflict, match="expected 1"):
        store.deployments.update("churn", DOC, expected_revision=1, actor="eve", action="set-traffic")
    assert store.deployments.get("churn").document == new
    history = store.deployments.history("churn")
    assert [(e.action, e.revision, e.actor) for e in history] == [("create", 1, "ann"), ("canary", 2, "bob")]
    assert store.deployments.history("churn", limit=1)[0].action == "canary"


def test_events_without_change_keep_the_revision(store: Any) -> None:
    store.deployments.create("churn", DOC, actor="ann")
    event = store.deployments.record_event(
        "churn", actor=None, action="alert", reason="error_rate failed", details={"severity": "critical"}
    )
    assert (event.revision, event.action, event.details, event.document) == (
        1,
        "alert",
        {"severity": "critical"},
        None,
    )
    assert store.deployments.get("churn").revision == 1


def test_missing_deployment_and_bad_input(store: Any) -> None:
    assert store.deployments.find("nope") is None
    for call in (
        lambda: store.deployments.get("nope"),
        lambda: store.deployments.history("nope"),
        lambda: store.deployments.update("nope", DOC, expected_revision=1, actor="a", action="x"),
    ):
        with pytest.raises(NotFound, match="loopml deploy list"):
            call()
    with pytest.raises(InvalidInput, match="JSON"):
        store.deployments.create("churn", {"x": float("nan")}, actor="ann")
    assert store.deployments.find("churn") is None
