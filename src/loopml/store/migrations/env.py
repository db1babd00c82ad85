"""Alembic environment of the loopml store: runs on the connection handed in by ``_alembic.py``."""

from __future__ import annotations

from alembic import context

from loopml.store._schema import METADATA

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
