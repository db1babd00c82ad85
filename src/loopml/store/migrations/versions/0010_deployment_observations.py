"""Observations shared between serving replicas, and the lease of who decides each analysis.

Revision ID: 0010_deployment_observations
Revises: 0009_run_inputs
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_deployment_observations"
down_revision = "0009_run_inputs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment_observations",
        sa.Column("deployment", sa.String(63), nullable=False),
        sa.Column("window_id", sa.String(400), nullable=False),
        sa.Column("replica", sa.String(100), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("deployment", "window_id", "replica", name="pk_deployment_observations"),
    )
    op.create_index("ix_deployment_observations_expires_at", "deployment_observations", ["expires_at"])
    op.create_table(
        "deployment_leases",
        sa.Column("deployment", sa.String(63), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("deployment", name="pk_deployment_leases"),
    )


def downgrade() -> None:
    op.drop_table("deployment_leases")
    op.drop_index("ix_deployment_observations_expires_at", table_name="deployment_observations")
    op.drop_table("deployment_observations")
