"""Apply the store's Alembic migrations in code (no ``alembic.ini`` needed at run time).

A new migration is one file in ``migrations/versions`` whose ``down_revision`` is the current
head; :data:`loopml.store._migrate.HEAD_REVISION` names it, and the next
:func:`~loopml.store.sql.open_store` applies it through :func:`apply_migrations`.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util import CommandError

from loopml.errors import InvalidState
from loopml.store._engine import Database

__all__ = ["MIGRATIONS_DIR", "alembic_config", "apply_migrations", "head_revision"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Key of the PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_LOCK_KEY = 0x6C6F6F706D6C


def alembic_config() -> Config:
    """An Alembic config pointing at the bundled migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise InvalidState(f"No migrations found in {MIGRATIONS_DIR}; reinstall loopml.")
    return head


def apply_migrations(db: Database, *, url_for_messages: str) -> None:
    """Bring the database schema to the newest revision, if it is not there yet.

    Runs in one write transaction (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on
    PostgreSQL), so processes opening a fresh store at once upgrade it exactly once.

    Raises:
        InvalidState: when the database was written by a newer loopml.
    """
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    head = head_revision()
    with db.read() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        if current is not None and not _is_known(script, current):
            raise InvalidState(
                f"The store {url_for_messages} has schema revision {current!r}, newer than this "
                f"loopml knows (head {head!r}). Upgrade loopml: pip install -U loopml."
            )
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _is_known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except (ResolutionError, CommandError):
        return False
