"""Monitoring alerts (one open per deployment, rule and metric) and retraining runs with their steps.

Revision ID: 0008_monitor_alerts
Revises: 0007_monitor
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_monitor_alerts"
down_revision = "0007_monitor"
branch_labels = None
depends_on = None

ID = sa.String(32)
KEY = sa.String(250)
STAGE = sa.String(20)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitor_alerts",
        sa.Column("alert_id", ID, nullable=False),
        sa.Column("deployment", sa.String(63), nullable=False),
        sa.Column("rule", sa.String(63), nullable=False),
        sa.Column("metric", KEY, nullable=False),
        sa.Column("severity", STAGE, nullable=False),
        sa.Column("status", STAGE, nullable=False),
        sa.Column("open_key", sa.String(400), nullable=True),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("raised_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("deliveries", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name="pk_monitor_alerts"),
        sa.UniqueConstraint("open_key", name="uq_monitor_alerts_open_key"),
        sa.UniqueConstraint(
            "deployment",
            "rule",
            "metric",
            "opened_at",
            name="uq_monitor_alerts_deployment_rule_metric_opened_at",
        ),
    )
    op.create_index("ix_monitor_alerts_deployment_status", "monitor_alerts", ["deployment", "status"])
    op.create_table(
        "retrain_runs",
        sa.Column("retrain_id", ID, nullable=False),
        sa.Column("deployment", sa.String(63), nullable=False),
        sa.Column("state", STAGE, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry_of", ID, nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("span_start", sa.BigInteger(), nullable=False),
        sa.Column("span_end", sa.BigInteger(), nullable=False),
        sa.Column("triggers", sa.JSON(), nullable=False),
        sa.Column("alert_ids", sa.JSON(), nullable=False),
        sa.Column("champion", KEY, nullable=True),
        sa.Column("candidate", KEY, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("retrain_id", name="pk_retrain_runs"),
    )
    op.create_index("ix_retrain_runs_deployment_started_at", "retrain_runs", ["deployment", "started_at"])
    op.create_table(
        "retrain_steps",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("retrain_id", ID, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("outcome", STAGE, nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retrain_steps"),
        sa.ForeignKeyConstraint(
            ["retrain_id"],
            ["retrain_runs.retrain_id"],
            ondelete="CASCADE",
            name="fk_retrain_steps_retrain_id_retrain_runs",
        ),
    )
    op.create_index("ix_retrain_steps_retrain_id_id", "retrain_steps", ["retrain_id", "id"])


def downgrade() -> None:
    op.drop_table("retrain_steps")
    op.drop_table("retrain_runs")
    op.drop_table("monitor_alerts")
