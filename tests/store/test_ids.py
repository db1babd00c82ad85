"""Id prefixes resolve the same way on every store backend (SQLite, PostgreSQL, remote)."""

from __future__ import annotations

from typing import Any

import pytest

from loopml.errors import NotFound
from loopml.store.ids import resolve_artifact_id, resolve_experiment_id, resolve_node_id, resolve_run_id

SHA = "a" * 64


def test_artifact_list_by_id_prefix(store: Any) -> None:
    made = [store.artifacts.create(type="File", name=f"f{i}", uri="u", sha256=SHA, size=1) for i in range(3)]
    target = made[1].artifact_id
    assert [a.artifact_id for a in store.artifacts.list(id_prefix=target[:10]).items] == [target]
    assert store.artifacts.list(id_prefix="%").items == []  # LIKE wildcards are literal
    assert store.artifacts.list(id_prefix="_").items == []


def test_run_artifact_and_node_prefixes(store: Any) -> None:
    exp = store.experiments.create("ids")
    run = store.runs.create(exp.experiment_id, name="r")
    art = store.artifacts.create(type="File", name="a", uri="u", sha256=SHA, size=1, run_id=run.run_id)
    assert resolve_run_id(store, run.run_id[:8]) == run.run_id
    assert resolve_run_id(store, run.run_id.upper()[:8]) == run.run_id
    assert resolve_artifact_id(store, art.artifact_id[:8]) == art.artifact_id
    assert resolve_node_id(store, art.artifact_id[:8]) == art.artifact_id
    assert resolve_node_id(store, run.run_id) == run.run_id
    assert resolve_experiment_id(store, "ids") == exp.experiment_id
    assert resolve_experiment_id(store, exp.experiment_id[:6]) == exp.experiment_id
    store.runs.delete(run.run_id)
    assert resolve_run_id(store, run.run_id[:8]) == run.run_id  # deleted runs can be restored by prefix
    with pytest.raises(NotFound, match="`loopml runs list` lists them"):
        resolve_run_id(store, "ffffffff" if not run.run_id.startswith("ffffffff") else "eeeeeeee")
    with pytest.raises(NotFound):
        resolve_run_id(store, "no-such-run")
