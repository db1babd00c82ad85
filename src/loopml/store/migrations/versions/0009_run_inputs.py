"""Dataset inputs of runs in their own table, so ``datasets.name / digest / context`` are searched in SQL.

The rows are derived from each run's reproducibility record (see :mod:`loopml.store.dataset_inputs`);
this revision fills them for the runs already stored.

Revision ID: 0009_run_inputs
Revises: 0008_monitor_alerts
Create Date: 2026-12-07
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from loopml.store.dataset_inputs import dataset_inputs

revision = "0009_run_inputs"
down_revision = "0008_monitor_alerts"
branch_labels = None
depends_on = None

ID = sa.String(32)
_BATCH = 1000


def upgrade() -> None:
    table = op.create_table(
        "run_inputs",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("digest", sa.Text(), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_run_inputs"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], ondelete="CASCADE", name="fk_run_inputs_run_id_runs"
        ),
    )
    op.create_index("ix_run_inputs_name_run_id", "run_inputs", ["name", "run_id"])
    _backfill(table)


def _backfill(table: sa.Table) -> None:
    conn = op.get_bind()
    runs = sa.table("runs", sa.column("run_id"), sa.column("reproducibility", sa.Text()))
    rows: list[dict[str, object]] = []
    for run_id, raw in conn.execute(sa.select(runs.c.run_id, runs.c.reproducibility)):
        record = raw if isinstance(raw, dict) else json.loads(raw) if raw else {}
        for position, found in enumerate(dataset_inputs(record if isinstance(record, dict) else {})):
            rows.append(
                {
                    "run_id": run_id,
                    "position": position,
                    "name": found.name,
                    "digest": found.digest,
                    "context": found.context,
                }
            )
        if len(rows) >= _BATCH:
            conn.execute(sa.insert(table), rows)
            rows = []
    if rows:
        conn.execute(sa.insert(table), rows)


def downgrade() -> None:
    op.drop_table("run_inputs")
