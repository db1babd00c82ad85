"""The model registry repository over every store backend: versions, aliases, audit trail."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from loopml.errors import Conflict, InvalidInput, InvalidState, NotFound
from loopml.store.entities import AliasEventResult, ModelVersionStatus
from tests.conftest import STORE_BACKENDS

SHA = "ab" * 32
SQL_BACKENDS = ("sqlite", "postgres")


@pytest.fixture(
    params=[pytest.param(b, id=b.name, marks=b.marks) for b in STORE_BACKENDS if b.name in SQL_BACKENDS]
)
def store_backend(request: pytest.FixtureRequest) -> Any:
    """SQL backends only: the registry lives in the SQL store (the remote store has no registry API)."""
    return request.param


def _version(store: Any, name: str = "churn", **extra: Any) -> Any:
    return store.models.create_version(
        name, manifest_sha256=SHA, flavor="sklearn", scan_verdict="safe", created_by="tester", **extra
    )


def test_versions_are_numbered_per_model_and_create_the_model(store: Any) -> None:
    first = _version(store, tags={"team": "risk"})
    second = _version(store)
    other = _version(store, "fraud")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.tags == {"team": "risk"} and first.status is ModelVersionStatus.READY
    model = store.models.get_model("churn")
    assert model.latest_version == 2 and model.created_by == "tester"
    assert [v.version for v in store.models.list_versions("churn")] == [1, 2]
    with pytest.raises(NotFound, match="no version 7"):
        store.models.get_version("churn", 7)
    with pytest.raises(NotFound, match="No registered model named 'nope'"):
        store.models.get_model("nope")


def test_create_model_conflict_and_bad_names(store: Any) -> None:
    store.models.create_model("churn", description="d", tags={"k": "v"})
    with pytest.raises(Conflict, match="already registered"):
        store.models.create_model("churn")
    with pytest.raises(InvalidInput, match="'@'"):
        store.models.create_model("a@b")
    with pytest.raises(InvalidInput, match="path separator"):
        store.models.create_model("a/b")


def test_rename_follows_versions_and_refuses_aliased_models(store: Any) -> None:
    _version(store)
    store.models.create_model("taken")
    renamed = store.models.rename_model("churn", "churn-v2")
    assert renamed.name == "churn-v2" and store.models.find_model("churn") is None
    assert store.models.get_version("churn-v2", 1).name == "churn-v2"
    with pytest.raises(Conflict, match="taken"):
        store.models.rename_model("churn-v2", "taken")
    store.models.move_alias("churn-v2", "staging", 1, actor="tester")
    with pytest.raises(InvalidState, match="staging"):
        store.models.rename_model("churn-v2", "churn-v3")
    with pytest.raises(NotFound):
        store.models.rename_model("nope", "x")


def test_delete_model_only_without_versions_and_tag_deletion(store: Any) -> None:
    store.models.create_model("empty", tags={"k": "v"})
    store.models.delete_model("empty")
    assert store.models.find_model("empty") is None
    _version(store, tags={"a": "1", "b": "2"})
    with pytest.raises(InvalidState, match="archive"):
        store.models.delete_model("churn")
    store.models.update_model("churn", tags={"team": "risk", "tmp": "x"})
    store.models.delete_tag("churn", "tmp")
    store.models.delete_tag("churn", "a", version=1)
    assert store.models.get_model("churn").tags == {"team": "risk"}
    assert store.models.get_version("churn", 1).tags == {"b": "2"}
    with pytest.raises(NotFound, match="no tag 'tmp'"):
        store.models.delete_tag("churn", "tmp")
    with pytest.raises(NotFound, match="no version 9"):
        store.models.delete_tag("churn", "a", version=9)


def test_search_by_name_and_tag(store: Any) -> None:
    store.models.create_model("churn-a", tags={"team": "risk"})
    store.models.create_model("churn-b", tags={"team": "growth"})
    store.models.create_model("fraud")
    assert [m.name for m in store.models.search_models(name_like="churn%").items] == ["churn-a", "churn-b"]
    assert [m.name for m in store.models.search_models(tag="team=risk").items] == ["churn-a"]
    assert [m.name for m in store.models.search_models(tag="team").items] == ["churn-a", "churn-b"]
    page = store.models.search_models(max_results=2)
    assert len(page.items) == 2 and page.next_page_token
    assert [m.name for m in store.models.search_models(page_token=page.next_page_token).items] == ["fraud"]


def test_alias_compare_and_set_and_history(store: Any) -> None:
    _version(store)
    _version(store)
    store.models.move_alias("churn", "champion", 1, actor="ann", expected_version=None, reason="first")
    store.models.move_alias("churn", "champion", 2, actor="bob", expected_version=1)
    with pytest.raises(Conflict, match="points at version 2, not the expected version 1"):
        store.models.move_alias("churn", "champion", 1, actor="eve", expected_version=1)
    with pytest.raises(Conflict, match="not the expected no version"):
        store.models.move_alias("churn", "champion", 1, actor="eve", expected_version=None)
    assert store.models.find_alias("churn", "champion").version == 2
    assert store.models.get_version("churn", 2).aliases == ("champion",)
    assert store.models.get_model("churn").aliases == {"champion": 2}
    store.models.delete_alias("churn", "champion", actor="ann", expected_version=2)
    assert store.models.find_alias("churn", "champion") is None
    history = store.models.alias_history("churn", alias="champion")
    assert [(e.actor, e.from_version, e.to_version, e.result) for e in history] == [
        ("ann", None, 1, AliasEventResult.MOVED),
        ("bob", 1, 2, AliasEventResult.MOVED),
        ("eve", 2, 1, AliasEventResult.CONFLICT),
        ("eve", 2, 1, AliasEventResult.CONFLICT),
        ("ann", 2, None, AliasEventResult.DELETED),
    ]
    assert history[0].reason == "first"
    with pytest.raises(InvalidInput, match="reserved"):
        store.models.move_alias("churn", "latest", 1, actor="ann")


def test_archived_version_takes_no_alias_and_archive_with_alias_needs_force(store: Any) -> None:
    _version(store)
    _version(store)
    store.models.archive_version("churn", 1, actor="ann")
    with pytest.raises(InvalidState, match="Version 1 of 'churn' is archived"):
        store.models.move_alias("churn", "staging", 1, actor="ann")
    assert store.models.alias_history("churn")[-1].result is AliasEventResult.REFUSED
    store.models.move_alias("churn", "staging", 2, actor="ann")
    with pytest.raises(InvalidState, match="holds alias"):
        store.models.archive_version("churn", 2, actor="ann")
    archived = store.models.archive_version("churn", 2, actor="ann", force=True, reason="retired")
    assert archived.status is ModelVersionStatus.ARCHIVED and archived.aliases == ()
    last = store.models.alias_history("churn")[-1]
    assert (last.result, last.from_version, last.reason) == (AliasEventResult.DELETED, 2, "retired")
    assert store.models.find_latest_version("churn") is None
    assert store.models.find_latest_version("churn", include_archived=True).version == 2


def test_update_version_blessing_and_signature(store: Any) -> None:
    _version(store)
    updated = store.models.update_version(
        "churn",
        1,
        blessing_artifact_id="c" * 32,
        blessing_passed=True,
        signature_key_id="k1",
        tags={"a": "b"},
    )
    assert updated.blessing_passed is True and updated.is_signed and updated.tags == {"a": "b"}


def test_concurrent_registrations_get_distinct_numbers(store: Any) -> None:
    numbers: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(3):
                numbers.append(_version(store, "busy").version)
        except BaseException as err:  # surfaced by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 13))


def test_concurrent_alias_moves_one_wins_both_audited(store: Any) -> None:
    for _ in range(3):
        _version(store)
    store.models.move_alias("churn", "champion", 1, actor="init")
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def move(actor: str, version: int) -> None:
        barrier.wait()
        try:
            store.models.move_alias("churn", "champion", version, actor=actor, expected_version=1)
            results[actor] = "won"
        except Conflict:
            results[actor] = "lost"

    threads = [threading.Thread(target=move, args=(f"u{v}", v)) for v in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == ["lost", "won"]
    winner = next(a for a, r in results.items() if r == "won")
    events = store.models.alias_history("churn", alias="champion")[1:]
    assert sorted(e.result.value for e in events) == ["conflict", "moved"]
    assert {e.actor for e in events} == {"u2", "u3"}
    assert store.models.find_alias("churn", "champion").version == int(winner[1:])
