"""Shared fixtures: metadata store backends for the store contract suite (and anyone needing a store).

Add a backend by appending a :class:`StoreBackend` to ``STORE_BACKENDS``: a name, the marks its
tests need, a generator yielding the URL of a fresh, empty store, and how to open a URL.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class StoreBackend:
    """One store implementation under test."""

    name: str
    fresh_url: Callable[[pytest.FixtureRequest], AbstractContextManager[str]]
    open: Callable[[str], Any]
    marks: tuple[Any, ...] = field(default=())


def _open_sql(url: str) -> Any:
    from loopml.store.sql import open_store

    return open_store(url)


@contextmanager
def _sqlite_url(request: pytest.FixtureRequest) -> Iterator[str]:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    yield f"sqlite:///{tmp_path / 'store' / 'store.db'}"


@contextmanager
def _postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    import sqlalchemy as sa

    url: str = request.getfixturevalue("postgres_database_url")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            tables = (
                conn.execute(
                    sa.text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
                .scalars()
                .all()
            )
            if tables:
                conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    finally:
        engine.dispose()
    yield url


STORE_BACKENDS: list[StoreBackend] = [
    StoreBackend(name="sqlite", fresh_url=_sqlite_url, open=_open_sql),
    StoreBackend(name="postgres", fresh_url=_postgres_url, open=_open_sql, marks=(pytest.mark.postgres,)),
    # The REST API: one loopback server (in a thread) per test, over a fresh SQLite store.
    StoreBackend(
        name="remote",
        fresh_url=lambda request: importlib.import_module("loopml.server.background").serve_in_thread(
            importlib.import_module("loopml.config").Settings(
                home=request.getfixturevalue("tmp_path") / "server"
            ),
            config=importlib.import_module("loopml.server").ServerConfig(reference_roots=("s3://",)),
        ),
        open=lambda url: importlib.import_module("loopml.store.remote").RemoteStore(url),
    ),
]


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped at the end."""
    with fresh_postgres_database() as url:
        yield url


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database of its own (tests sharing no names), dropped afterwards."""
    import sqlalchemy as sa

    name = f"loopml_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        _open_sql(url).close()  # migrate once
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=[pytest.param(b, id=b.name, marks=b.marks) for b in STORE_BACKENDS])
def store_backend(request: pytest.FixtureRequest) -> StoreBackend:
    """Each store backend in turn."""
    backend: StoreBackend = request.param
    return backend


@pytest.fixture
def store_url(store_backend: StoreBackend, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh, empty store of the current backend."""
    with store_backend.fresh_url(request) as url:
        yield url


@pytest.fixture
def store(store_backend: StoreBackend, store_url: str) -> Iterator[Any]:
    """An open, empty store of the current backend (closed afterwards)."""
    opened = store_backend.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """One local Ray for the whole test session (starting one costs seconds and ~600 MB).

    Workers get the repository root and ``tests/`` on their import path, so components and
    helpers defined in test modules can be imported there.
    """
    import ray  # the `ray` tier runs with the extra installed

    tests_dir = Path(__file__).resolve().parent
    python_path = os.pathsep.join([str(tests_dir.parent), str(tests_dir), os.environ.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as tmp:  # short: Ray's socket paths
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _temp_dir=tmp,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": python_path}},
        )
        try:
            yield
        finally:
            ray.shutdown()
