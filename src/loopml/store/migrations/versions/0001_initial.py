"""Initial schema: experiments, runs, params, tags, metrics, artifacts and lineage.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)
KEY = sa.String(250)
STAGE = sa.String(20)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", ID, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("lifecycle_stage", STAGE, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "key", name="pk_experiment_tags"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            ondelete="CASCADE",
            name="fk_experiment_tags_experiment_id_experiments",
        ),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("experiment_id", ID, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("status", STAGE, nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("parent_run_id", ID, nullable=True),
        sa.Column("lifecycle_stage", STAGE, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reproducibility", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.experiment_id"], name="fk_runs_experiment_id_experiments"
        ),
        sa.ForeignKeyConstraint(["parent_run_id"], ["runs.run_id"], name="fk_runs_parent_run_id_runs"),
    )
    op.create_index("ix_runs_experiment_id_start_time", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])
    for table in ("params", "tags"):
        op.create_table(
            table,
            sa.Column("run_id", ID, nullable=False),
            sa.Column("key", KEY, nullable=False),
            sa.Column("value", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("run_id", "key", name=f"pk_{table}"),
            sa.ForeignKeyConstraint(
                ["run_id"], ["runs.run_id"], ondelete="CASCADE", name=f"fk_{table}_run_id_runs"
            ),
        )
    op.create_table(
        "metrics",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metrics"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], ondelete="CASCADE", name="fk_metrics_run_id_runs"
        ),
    )
    op.create_index("ix_metrics_run_id_key_step", "metrics", ["run_id", "key", "step"])
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("is_nan", sa.Boolean(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_latest_metrics"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], ondelete="CASCADE", name="fk_latest_metrics_run_id_runs"
        ),
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.create_table(
        "artifacts",
        sa.Column("artifact_id", ID, nullable=False),
        sa.Column("type", KEY, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("is_reference", sa.Boolean(), nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("artifact_id", name="pk_artifacts"),
        sa.UniqueConstraint("type", "name", "version", name="uq_artifacts_type_name_version"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_artifacts_run_id_runs"),
    )
    op.create_index("ix_artifacts_sha256", "artifacts", ["sha256"])
    op.create_index("ix_artifacts_run_id", "artifacts", ["run_id"])
    op.create_table(
        "executions",
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("type", KEY, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("state", STAGE, nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("code_version", sa.Text(), nullable=True),
        sa.Column("cache_key", sa.String(250), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("execution_id", name="pk_executions"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_executions_run_id_runs"),
    )
    op.create_index("ix_executions_run_id", "executions", ["run_id"])
    op.create_index("ix_executions_cache_key", "executions", ["cache_key"])
    op.create_table(
        "events",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("artifact_id", ID, nullable=False),
        sa.Column("type", STAGE, nullable=False),
        sa.Column("role", KEY, nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["execution_id"], ["executions.execution_id"], name="fk_events_execution_id_executions"
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.artifact_id"], name="fk_events_artifact_id_artifacts"
        ),
    )
    op.create_index("ix_events_execution_id", "events", ["execution_id"])
    op.create_index("ix_events_artifact_id", "events", ["artifact_id"])
    op.create_table(
        "contexts",
        sa.Column("context_id", ID, nullable=False),
        sa.Column("type", KEY, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("context_id", name="pk_contexts"),
        sa.UniqueConstraint("type", "name", name="uq_contexts_type_name"),
    )
    for table, column, target in (
        ("context_executions", "execution_id", "executions"),
        ("context_artifacts", "artifact_id", "artifacts"),
    ):
        op.create_table(
            table,
            sa.Column("context_id", ID, nullable=False),
            sa.Column(column, ID, nullable=False),
            sa.PrimaryKeyConstraint("context_id", column, name=f"pk_{table}"),
            sa.ForeignKeyConstraint(
                ["context_id"],
                ["contexts.context_id"],
                ondelete="CASCADE",
                name=f"fk_{table}_context_id_contexts",
            ),
            sa.ForeignKeyConstraint(
                [column],
                [f"{target}.{column}"],
                ondelete="CASCADE",
                name=f"fk_{table}_{column}_{target}",
            ),
        )
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table in (
        "context_artifacts",
        "context_executions",
        "contexts",
        "events",
        "executions",
        "artifacts",
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(table)
