"""Metric-ordered and filtered searches against a ground truth computed in Python, page by page.

On PostgreSQL a search ordered by one metric first walks that metric's index (a bounded walk,
exact when it fills the page), a filtered one in the default order walks the experiment's runs
newest first, and otherwise falls back to the planner's query; these cases
cover both paths (pages that fill, selective filters, ties across the walk's bound, NaN and
missing values after the numbers, run-attribute filters, deleted runs) on every backend.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from loopml.store import Metric
from loopml.store.entities import Run, RunStatus
from loopml.store.sql import open_store

N_RUNS = 120


@pytest.fixture
def seeded(store: Any) -> tuple[Any, str, list[Run]]:
    rng = random.Random(7)
    experiment = store.experiments.create("walk")
    other = store.experiments.create("elsewhere")
    for i in range(N_RUNS):
        run = store.runs.create(experiment.experiment_id, start_time=1_000 + (i * 37) % 50)
        metrics = []
        if i % 17 != 0:  # some runs lack the metric
            value = math.nan if i % 13 == 0 else round(rng.random() * 4) / 4  # many ties
            metrics.append(Metric(key="score", value=value, step=0, timestamp=1))
        metrics.append(Metric(key="loss", value=rng.random(), step=0, timestamp=1))
        store.runs.log_batch(run.run_id, metrics=metrics, params={"model": "ab"[i % 5 == 0], "i": str(i)})
        if i % 9 == 0:
            store.runs.set_status(run.run_id, RunStatus.FINISHED)
    for _ in range(30):  # the same metric in another experiment: the walk must skip these
        run = store.runs.create(other.experiment_id)
        store.runs.log_batch(run.run_id, metrics=[Metric(key="score", value=2.0, step=0, timestamp=1)])
    top = store.runs.search([experiment.experiment_id], order_by=["metrics.score DESC"], max_results=3)
    for run in top.items:
        store.runs.delete(run.run_id)
    runs = store.runs.search([experiment.experiment_id], max_results=1000).items
    return store, experiment.experiment_id, runs


def _expected(runs: list[Run], keep: Callable[[Run], bool], *, descending: bool) -> list[str]:
    def rank(run: Run) -> tuple[Any, ...]:
        value = run.metrics.get("score")
        if value is None:
            group, number = 2, 0.0
        elif math.isnan(value):
            group, number = 1, 0.0
        else:
            group, number = 0, (-value if descending else value)
        return (group, number, -run.start_time, run.run_id)

    return [r.run_id for r in sorted((r for r in runs if keep(r)), key=rank)]


def _all_pages(store: Any, experiment_id: str, filter: str | None, order: str | None, size: int) -> list[str]:
    found: list[str] = []
    token = None
    while True:
        page = store.runs.search(
            [experiment_id],
            filter=filter,
            order_by=[order] if order else [],
            max_results=size,
            page_token=token,
        )
        found += [r.run_id for r in page.items]
        token = page.next_page_token
        if token is None:
            return found


CASES: list[tuple[str | None, Callable[[Run], bool]]] = [
    (None, lambda r: True),
    ("params.model = 'a'", lambda r: r.params["model"] == "a"),  # 4 in 5 runs
    ("params.model = 'b'", lambda r: r.params["model"] == "b"),  # selective: the walk falls back
    ("metrics.loss > 0.5", lambda r: r.metrics["loss"] > 0.5),
    (
        "metrics.loss > 0.3 and params.model = 'a'",
        lambda r: r.metrics["loss"] > 0.3 and r.params["model"] == "a",
    ),
    ("status = 'FINISHED'", lambda r: r.status.value == "FINISHED"),  # a run attribute
    (
        "params.i = '5' or metrics.loss < 0.2",
        lambda r: r.params["i"] == "5" or r.metrics["loss"] < 0.2,
    ),
]


def test_pages_follow_the_order_exactly(seeded: tuple[Any, str, list[Run]]) -> None:
    # One test over every case, so each backend is seeded once.
    store, experiment_id, runs = seeded
    for filter, keep in CASES:
        for descending in (True, False):
            order = "metrics.score DESC" if descending else "metrics.score ASC"
            expected = _expected(runs, keep, descending=descending)
            for size in (3, 25, 1000):
                found = _all_pages(store, experiment_id, filter, order, size)
                assert found == expected, (filter, order, size)


def test_filtered_pages_in_the_default_order_are_newest_first(seeded: tuple[Any, str, list[Run]]) -> None:
    store, experiment_id, runs = seeded  # many runs share a start time: ties go by run id
    newest = sorted(runs, key=lambda r: (-r.start_time, r.run_id))
    for filter, keep in CASES:
        expected = [r.run_id for r in newest if keep(r)]
        for size in (3, 25, 1000):
            assert _all_pages(store, experiment_id, filter, None, size) == expected, (filter, size)


def test_a_filtered_page_that_fills_is_read_by_the_walk_on_every_backend(
    seeded: tuple[Any, str, list[Run]],
) -> None:
    # The planner's query first builds every match of each condition (0.9 s at 100,000 runs on
    # SQLite); the walk probes the newest runs one by one. Its statement reads a `candidate` list.
    store, experiment_id, runs = seeded
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(Engine, "before_cursor_execute", seen)  # the remote backend's server is in process
    try:
        found = store.runs.search([experiment_id], filter="params.model = 'a'", max_results=5).items
    finally:
        sa.event.remove(Engine, "before_cursor_execute", seen)
    newest = sorted(runs, key=lambda r: (-r.start_time, r.run_id))
    assert [r.run_id for r in found] == [r.run_id for r in newest if r.params.get("model") == "a"][:5]
    assert not any("IN (SELECT params" in s for s in statements)  # the planner's query did not run
    if not store.url.startswith("postgresql"):  # PostgreSQL runs the walk on psycopg's cursor, unseen here
        assert sum("candidate" in s for s in statements) == 1


def test_a_search_by_run_ids_looks_them_up_by_primary_key_on_sqlite(tmp_path: Path) -> None:
    # Without statistics SQLite preferred the (experiment_id, start_time) index, which spares the
    # sort of the hundred runs asked for but reads every run of the experiment (the compare view).
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    experiment = store.experiments.create("compare")
    ids = [store.runs.create(experiment.experiment_id, start_time=1_000 + i).run_id for i in range(120)]
    wanted = ids[10:110]  # as many as the compare view shows
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT runs.run_id") and "ORDER BY" in statement:
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            plans.append(" | ".join(str(row[-1]) for row in rows))

    sa.event.listen(Engine, "before_cursor_execute", explain)
    try:
        quoted = ", ".join(f"'{r}'" for r in wanted)
        found = store.runs.search(
            [experiment.experiment_id], filter=f"attributes.run_id IN ({quoted})", max_results=len(wanted)
        )
    finally:
        sa.event.remove(Engine, "before_cursor_execute", explain)
        store.close()
    assert [r.run_id for r in found.items] == list(reversed(wanted))  # newest first
    assert len(plans) == 1 and "USING INDEX sqlite_autoindex_runs_1 (run_id=?)" in plans[0], plans
    assert "ix_runs_experiment_id_start_time" not in plans[0]
