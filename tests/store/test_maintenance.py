"""Planner statistics upkeep on PostgreSQL (``SqlStore.refresh_statistics``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from loopml.store._maintenance import StatisticsWatch, _needs_analyze, analyze_stale_tables
from loopml.store._runs import SqlRunRepository
from loopml.store.sql import SqlStore, open_store
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def fresh_pg_store() -> Iterator[tuple[SqlStore, sa.Engine]]:
    """A store in a database of its own (so no earlier test has analysed its tables)."""
    name = f"loopml_maint_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    store = open_store(url)
    engine = sa.create_engine(url)
    try:
        yield store, engine
    finally:
        engine.dispose()
        store.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _reltuples(engine: sa.Engine, table: str) -> float:
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table})
        return float(found.scalar_one())


def _bulk_load_runs(engine: sa.Engine, experiment_id: str, count: int = 5000) -> None:
    """Insert ``count`` runs behind the store's back, as a bulk load or a restore would."""
    with engine.begin() as conn:
        # Autovacuum must not get there first, whatever the server's setting.
        conn.execute(sa.text("ALTER TABLE runs SET (autovacuum_enabled = false)"))
        conn.execute(
            sa.text(
                "INSERT INTO runs (run_id, experiment_id, name, status, start_time, lifecycle_stage, "
                "reproducibility) SELECT md5(i::text), :e, 'r' || i, 'FINISHED', i, 'active', '{}' "
                "FROM generate_series(1, :n) AS i"
            ),
            {"e": experiment_id, "n": count},
        )


@pytest.mark.postgres
def test_a_bulk_loaded_table_without_statistics_is_analysed_once(
    fresh_pg_store: tuple[SqlStore, sa.Engine],
) -> None:
    store, engine = fresh_pg_store
    experiment = store.experiments.create("bulk")
    _bulk_load_runs(engine, experiment.experiment_id)
    assert _reltuples(engine, "runs") < 0  # never analysed: the planner would guess

    analysed = store.refresh_statistics()

    assert "runs" in analysed
    assert _reltuples(engine, "runs") == pytest.approx(5000, rel=0.05)
    assert store.refresh_statistics() == []  # nothing stale any more


@pytest.mark.postgres
def test_small_tables_are_left_to_autovacuum(fresh_pg_store: tuple[SqlStore, sa.Engine]) -> None:
    store, _ = fresh_pg_store
    store.experiments.create("tiny")
    assert "experiments" not in store.refresh_statistics()


def test_sqlite_needs_no_upkeep(tmp_path: object) -> None:
    with open_store("sqlite://") as store:
        assert store.refresh_statistics() == []
        assert analyze_stale_tables(store._db) == []


@pytest.mark.parametrize(
    ("row", "autovacuum", "expected"),
    [
        # Never analysed: analysed once big enough, whatever autovacuum does.
        (dict(never=True, size=10**6, n_live_tup=0, n_mod_since_analyze=0), True, True),
        (dict(never=True, size=8192, n_live_tup=10, n_mod_since_analyze=10), True, False),
        # Autovacuum off: PostgreSQL's default rule, 50 rows + 10 % of the live ones.
        (dict(never=False, size=10**6, n_live_tup=10_000, n_mod_since_analyze=1051), False, True),
        (dict(never=False, size=10**6, n_live_tup=10_000, n_mod_since_analyze=1050), False, False),
        # Autovacuum on: its job.
        (dict(never=False, size=10**6, n_live_tup=10_000, n_mod_since_analyze=9999), True, False),
    ],
)
def test_stale_rule(row: dict[str, object], autovacuum: bool, expected: bool) -> None:
    assert _needs_analyze(SimpleNamespace(**row), autovacuum=autovacuum) is expected


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.postgres
def test_searches_refresh_statistics_in_the_background_at_most_every_interval(
    fresh_pg_store: tuple[SqlStore, sa.Engine],
) -> None:
    store, engine = fresh_pg_store
    clock = _Clock()
    watch = StatisticsWatch(store._db, interval_s=30.0, clock=clock)
    store._runs = SqlRunRepository(store._db, on_search=watch.poke)  # the store's wiring, on our clock
    experiment = store.experiments.create("loaded-after-open")
    _bulk_load_runs(engine, experiment.experiment_id)

    clock.now = 29.0
    store.runs.search([experiment.experiment_id], max_results=1)
    watch.wait()
    assert _reltuples(engine, "runs") < 0  # too soon after the last check: not even looked

    clock.now = 31.0
    assert len(store.runs.search([experiment.experiment_id], max_results=1).items) == 1  # not held up
    watch.wait()
    assert _reltuples(engine, "runs") == pytest.approx(5000, rel=0.05)


def test_the_watch_does_nothing_on_sqlite() -> None:
    with open_store("sqlite://") as store:
        clock = _Clock()
        watch = StatisticsWatch(store._db, interval_s=1.0, clock=clock)
        clock.now = 100.0
        watch.poke()
        assert watch._worker is None
