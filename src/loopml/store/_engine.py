"""Database engines and transactions for the SQL store (SQLite and PostgreSQL).

SQLite is tuned for several local processes logging at once: WAL journal, a 30 s busy timeout,
``synchronous=NORMAL``, foreign keys on, case-sensitive ``LIKE``, and write transactions that
start with ``BEGIN IMMEDIATE`` so two writers never deadlock on a lock upgrade (pysqlite's own
transaction handling is switched off, as the SQLAlchemy SQLite dialect documents).
"""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.pool import StaticPool

from loopml.errors import InvalidInput, StoreUnavailable, require_extra
from loopml.store.riders import current_rider

__all__ = [
    "SUPPORTED_URLS",
    "Database",
    "create_database",
    "hide_password",
    "parse_store_url",
    "unavailable_message",
]

SUPPORTED_URLS = (
    "sqlite:///<path to file>",
    "sqlite:// (in memory)",
    "postgresql+psycopg://<user>:<password>@<host>:<port>/<database>",
)
BUSY_TIMEOUT_S = 30
_BEGIN_OPTION = "loopml_sqlite_begin"
_POSTGRES_ALIASES = ("postgresql", "postgres", "postgresql+psycopg")


def hide_password(url: str | URL) -> str:
    """Render a database URL with any password replaced by ``***``."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparsable URL>"
    return parsed.render_as_string(hide_password=True)


def parse_store_url(url: str) -> URL:
    """Parse and normalise a store URL (``postgresql://`` and ``postgres://`` mean psycopg 3).

    Raises:
        InvalidInput: for an unparsable URL or an unsupported scheme, listing the supported ones.
    """
    supported = ", ".join(SUPPORTED_URLS)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as err:
        shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
        raise InvalidInput(f"Store URL {shown!r} is not a database URL. Supported: {supported}.") from err
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed.set(drivername="sqlite")
    if parsed.drivername in _POSTGRES_ALIASES:
        require_extra("psycopg", extra="postgres", feature="The PostgreSQL store")
        return parsed.set(drivername="postgresql+psycopg")
    raise InvalidInput(
        f"Store URL scheme {parsed.drivername!r} (in {hide_password(parsed)}) is not supported. "
        f"Supported: {supported}."
    )


def unavailable_message(url: URL, err: BaseException) -> str:
    """Why the store at ``url`` cannot be used, and what to check (the password hidden)."""
    display_url = hide_password(url)
    dialect = url.get_backend_name()
    reason = (str(getattr(err, "orig", None) or err).strip() or type(err).__name__).splitlines()[0]
    password = url.password
    if password:
        reason = reason.replace(str(password), "***")
    reason = reason[:300]
    if dialect == "sqlite":
        advice = "check that the file is a loopml SQLite database and its folder is writable"
    else:
        advice = (
            "check that the server is running and reachable, and that the user, password and "
            "database name are right (a password in the URL is shown as ***)"
        )
    return f"Cannot use the metadata store {display_url}: {reason}. What to check: {advice}."


class Database:
    """An engine plus the two kinds of transaction the repositories use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.display_url = hide_password(engine.url)
        self._writer = engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        # PostgreSQL reads run in autocommit: under READ COMMITTED (the default) every statement
        # takes its own snapshot anyway, so BEGIN and COMMIT would only add two round trips.
        self._reader: Engine | None = None
        if self.dialect == "postgresql":
            self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a deferred ``BEGIN`` on SQLite; autocommit statements on PostgreSQL)."""
        if self._reader is not None:
            with self._unavailable_as_error(), self._reader.connect() as conn:
                yield conn
            return
        with self._unavailable_as_error(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error.

        The first one of a context that carries a :class:`~loopml.store.riders.Rider` of this
        database runs the rider's statements too, just before committing.
        """
        rider = current_rider()
        if rider is None or not rider.board(owner=self):
            with self._unavailable_as_error(), self._writer.begin() as conn:
                yield conn
            return
        result: Any = None
        try:
            with self._unavailable_as_error(), self._writer.begin() as conn:
                yield conn
                result = rider.statements(conn)
        except BaseException:
            rider.land(committed=False)
            raise
        rider.land(committed=True, result=result)

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError) as err:
            raise StoreUnavailable(unavailable_message(self.engine.url, err)) from err

    def insert(self, table: Any) -> Any:
        """A dialect ``INSERT`` that supports ``on_conflict_do_*`` (SQLite and PostgreSQL)."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql  # imported by PostgreSQL stores only

            return postgresql.insert(table)
        return sqlite.insert(table)

    def bulk_insert(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert many rows fast: ``COPY ... FROM STDIN`` on PostgreSQL, ``executemany`` elsewhere.

        Rows must hold every column named in the first row; values are sent as data, never as SQL.
        """
        if not rows:
            return
        if self.dialect != "postgresql":
            conn.execute(_plain_insert(table), rows)
            return
        from psycopg import sql  # the PostgreSQL driver, present whenever this dialect is

        columns = list(rows[0])
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row([row[c] for c in columns])

    @staticmethod
    def driver_rows(
        conn: Connection, sql: str, params: Mapping[str, Any], *, prepare: bool | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (compiled for psycopg) run on the driver's cursor of ``conn``.

        For hot PostgreSQL reads whose result SQLAlchemy would only slow down; ``prepare=True``
        for statements whose plan does not depend on the bound values.
        """
        with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(sql, params, prepare=prepare)
            return list(cursor.fetchall())

    def dispose(self) -> None:
        self.engine.dispose()


@functools.cache
def _plain_insert(table: sa.Table) -> sa.Insert:
    """``INSERT INTO table``, built once per table (building it costs more than a one-row write)."""
    return sa.insert(table)


def create_database(url: URL) -> Database:
    """Create the engine for a parsed URL (see :func:`parse_store_url`); connects lazily."""
    if url.drivername == "sqlite":
        return Database(_sqlite_engine(url))
    # psycopg 3 sends executemany() rows in one pipeline; no multi-VALUES rewriting needed.
    # prepare_threshold=None: psycopg would otherwise prepare a statement run five times, and
    # PostgreSQL then switches to a generic plan that ignores the bound values; for the run search
    # that plan was 5x slower than a fresh one (45 ms against 9 ms over 10,000 runs).
    connect_args = {"connect_timeout": 10, "prepare_threshold": None}
    return Database(sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args))


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if in_memory:
        engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).expanduser().absolute().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin); pysqlite would defer it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            if not in_memory:
                _use_write_ahead_log(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA case_sensitive_like = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))

    return engine


def _use_write_ahead_log(cursor: Any) -> None:
    """Switch the file to WAL; the mode is stored in the file, so only its first opener changes it.

    Changing the journal mode needs the file to itself, and SQLite answers "database is locked" at
    once, without waiting on the busy timeout, when another process is creating or switching the
    same new file. Retry for up to the busy timeout instead of failing that opener.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            transient = "locked" in str(err) or "busy" in str(err)
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
