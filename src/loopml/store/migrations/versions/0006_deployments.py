"""Deployments: the current document of each named deployment and its append-only history.

Revision ID: 0006_deployments
Revises: 0005_blob_uploads
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_deployments"
down_revision = "0005_blob_uploads"
branch_labels = None
depends_on = None

ID = sa.String(32)
KEY = sa.String(250)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("deployment_id", ID, nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", KEY, nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", KEY, nullable=True),
        sa.PrimaryKeyConstraint("deployment_id", name="pk_deployments"),
        sa.UniqueConstraint("name", name="uq_deployments_name"),
    )
    op.create_table(
        "deployment_events",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("deployment_id", ID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", KEY, nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_events"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.deployment_id"],
            ondelete="CASCADE",
            name="fk_deployment_events_deployment_id_deployments",
        ),
    )
    op.create_index("ix_deployment_events_deployment_id_id", "deployment_events", ["deployment_id", "id"])


def downgrade() -> None:
    op.drop_table("deployment_events")
    op.drop_table("deployments")
