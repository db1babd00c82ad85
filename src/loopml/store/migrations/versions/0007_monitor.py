"""Monitoring: feedback labels of logged predictions and computed monitoring windows.

Revision ID: 0007_monitor
Revises: 0006_deployments
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_monitor"
down_revision = "0006_deployments"
branch_labels = None
depends_on = None

KEY = sa.String(250)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback_labels",
        sa.Column("model", KEY, nullable=False),
        sa.Column("key_field", KEY, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("observed_at", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("model", "key_field", "key", "row", name="pk_feedback_labels"),
    )
    op.create_index("ix_feedback_labels_model_updated_at", "feedback_labels", ["model", "updated_at"])
    op.create_table(
        "monitor_windows",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("deployment", KEY, nullable=False),
        sa.Column("window", sa.String(40), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.Column("model", KEY, nullable=False),
        sa.Column("version", KEY, nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("statistics", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_windows"),
        sa.UniqueConstraint(
            "deployment", "window", "start", name="uq_monitor_windows_deployment_window_start"
        ),
    )


def downgrade() -> None:
    op.drop_table("monitor_windows")
    op.drop_index("ix_feedback_labels_model_updated_at", table_name="feedback_labels")
    op.drop_table("feedback_labels")
