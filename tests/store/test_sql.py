"""The SQL store's opening: URLs, unreachable servers, migrations, SQLite settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from loopml.errors import InvalidInput, InvalidState, StoreUnavailable
from loopml.store._alembic import alembic_config, head_revision
from loopml.store._migrate import HEAD_REVISION
from loopml.store._schema import METADATA
from loopml.store.sql import open_store
from tests.conftest import fresh_postgres_database


def test_unreachable_postgres_hides_password() -> None:
    with pytest.raises(StoreUnavailable) as info:
        open_store("postgresql+psycopg://u:secret@127.0.0.1:1/x")
    message = str(info.value)
    assert "secret" not in message
    assert "***" in message and "127.0.0.1:1" in message and "check" in message


def test_unknown_scheme_lists_supported() -> None:
    with pytest.raises(InvalidInput, match="sqlite:///") as info:
        open_store("mysql://u:pw@host/db")
    assert "postgresql+psycopg" in str(info.value) and "pw" not in str(info.value)


def test_not_a_url() -> None:
    with pytest.raises(InvalidInput, match="Supported"):
        open_store("just words")


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match=r"junk\.db"):
        open_store(f"sqlite:///{path}")


def test_fresh_sqlite_is_migrated_and_matches_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'dir' / 'store.db'}"
    open_store(url).close()
    open_store(url).close()  # re-open of an existing, current DB
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert context.get_current_revision() == head_revision()
        assert compare_metadata(context, METADATA) == []
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_store_from_newer_loopml_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(InvalidState, match="newer"):
        open_store(url)


def test_head_revision_names_the_newest_migration() -> None:
    assert head_revision() == HEAD_REVISION


def test_opening_a_current_store_loads_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).close()  # creates and migrates
    code = (
        "import sys; from loopml.store.sql import open_store; "
        f"open_store({url!r}).close(); print(sorted(m for m in sys.modules if m.startswith('alembic')))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_in_memory_store() -> None:
    with open_store("sqlite://") as store:
        assert store.experiments.create("x").name == "x"


@pytest.mark.postgres
def test_postgres_schema_matches_models(postgres_database_url: str) -> None:
    open_store(postgres_database_url).close()
    engine = sa.create_engine(postgres_database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert context.get_current_revision() == head_revision()
        assert compare_metadata(context, METADATA) == []
    engine.dispose()


def test_unparsable_url_hides_password() -> None:
    with pytest.raises(InvalidInput, match="not a database URL") as info:
        open_store("postgresql://u:hunter2@host:notaport/db")
    assert "hunter2" not in str(info.value)


def test_postgres_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from loopml.errors import MissingDependency

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a)
    )
    with pytest.raises(MissingDependency, match=r"loopml\[postgres\]"):
        open_store("postgresql+psycopg://u@127.0.0.1/x")


def test_importing_the_store_does_not_import_psycopg() -> None:
    import subprocess
    import sys

    code = "import sys, loopml.store.sql; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


def test_upgrade_indexes_the_dataset_inputs_of_existing_runs(any_store_url: str) -> None:
    store = open_store(any_store_url)
    run_id = store.runs.create(store.experiments.create("e").experiment_id, name="r").run_id
    mlflow_input = {"tags": [{"key": "mlflow.data.context", "value": "eval"}], "dataset": {"name": "holdout"}}
    store.runs.set_reproducibility(
        run_id, {"datasets": [{"name": "train"}], "mlflow_dataset_inputs": [mlflow_input]}
    )
    store.close()
    engine = sa.create_engine(any_store_url)
    with engine.begin() as conn:  # back to the schema before run_inputs
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0008_monitor_alerts")
    engine.dispose()
    store = open_store(any_store_url)  # upgrades, filling run_inputs from the records
    found = store.runs.search([], filter="datasets.name = 'train' and datasets.context = 'eval'")
    assert [r.run_id for r in found.items] == [run_id]
    store.close()


def test_upgrade_adds_the_shared_observations_of_serving_replicas(any_store_url: str) -> None:
    open_store(any_store_url).close()
    engine = sa.create_engine(any_store_url)
    with engine.begin() as conn:  # back to the schema before the shared observations
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0009_run_inputs")
        assert not sa.inspect(conn).has_table("deployment_observations")
    engine.dispose()
    store = open_store(any_store_url)  # upgrades
    try:
        store.observations.publish("churn", "w", "r1", {"n": 1}, ttl_s=60)
        assert store.observations.collect("churn", "w") == [{"n": 1}]
        assert store.observations.acquire("churn", "r1", ttl_s=60)
    finally:
        store.close()
