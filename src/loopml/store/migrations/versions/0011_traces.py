"""MLflow traces: one row per trace, its tags and request metadata (span data is a blob).

Revision ID: 0011_traces
Revises: 0010_deployment_observations
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_traces"
down_revision = "0010_deployment_observations"
branch_labels = None
depends_on = None

TRACE_ID = sa.String(100)


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("trace_id", TRACE_ID, nullable=False),
        sa.Column("experiment_id", sa.String(32), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("execution_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("request_preview", sa.Text(), nullable=True),
        sa.Column("response_preview", sa.Text(), nullable=True),
        sa.Column("client_request_id", sa.String(250), nullable=True),
        sa.Column("data_sha256", sa.String(64), nullable=True),
        sa.Column("data_size", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", name="pk_traces"),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.experiment_id"], name="fk_traces_experiment_id_experiments"
        ),
    )
    op.create_index("ix_traces_experiment_id_timestamp_ms", "traces", ["experiment_id", "timestamp_ms"])
    for table in ("trace_tags", "trace_metadata"):
        op.create_table(
            table,
            sa.Column("trace_id", TRACE_ID, nullable=False),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("trace_id", "key", name=f"pk_{table}"),
            sa.ForeignKeyConstraint(
                ["trace_id"], ["traces.trace_id"], ondelete="CASCADE", name=f"fk_{table}_trace_id_traces"
            ),
        )


def downgrade() -> None:
    op.drop_table("trace_metadata")
    op.drop_table("trace_tags")
    op.drop_index("ix_traces_experiment_id_timestamp_ms", table_name="traces")
    op.drop_table("traces")
