"""Identity: users, API tokens (hashed), per-resource grants and the audit log.

Revision ID: 0003_identity
Revises: 0002_registry
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_identity"
down_revision = "0002_registry"
branch_labels = None
depends_on = None

ID = sa.String(32)
KEY = sa.String(250)
STAGE = sa.String(20)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("role", STAGE, nullable=False),
        sa.Column("is_disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", KEY, nullable=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], ondelete="CASCADE", name="fk_tokens_user_id_users"
        ),
    )
    op.create_index("ix_tokens_user_id", "tokens", ["user_id"])
    op.create_table(
        "grants",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("resource_kind", STAGE, nullable=False),
        sa.Column("resource", KEY, nullable=False),
        sa.Column("level", STAGE, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "resource_kind", "resource", name="pk_grants"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], ondelete="CASCADE", name="fk_grants_user_id_users"
        ),
    )
    op.create_index("ix_grants_resource_kind_resource", "grants", ["resource_kind", "resource"])
    op.create_table(
        "audit_events",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", KEY, nullable=True),
        sa.Column("action", KEY, nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("result", STAGE, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_actor_at", "audit_events", ["actor", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor_at", table_name="audit_events")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_grants_resource_kind_resource", table_name="grants")
    op.drop_table("grants")
    op.drop_index("ix_tokens_user_id", table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("users")
