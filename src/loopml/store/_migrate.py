"""Bring a store's schema to the newest revision when it is opened.

A store that is already current is told by one query of Alembic's version table; Alembic itself
(about a third of a short command's start-up) loads only when a migration is due
(:mod:`loopml.store._alembic`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.store._engine import Database

__all__ = ["HEAD_REVISION", "upgrade"]

#: The newest revision in ``migrations/versions``; a test checks it against Alembic's own view.
HEAD_REVISION = "0011_traces"


def upgrade(db: Database, *, url_for_messages: str) -> None:
    """Bring the database schema to :data:`HEAD_REVISION`, if it is not there yet.

    Raises:
        InvalidState: when the database was written by a newer loopml.
    """
    with db.read() as conn:
        if _recorded_revision(conn) == HEAD_REVISION:
            return
    from loopml.store._alembic import apply_migrations  # Alembic: only when a migration is due

    apply_migrations(db, url_for_messages=url_for_messages)


def _recorded_revision(conn: Connection) -> str | None:
    """The revision in Alembic's version table; None when there is none, or more than one."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(versions[0]) if len(versions) == 1 else None
