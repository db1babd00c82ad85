"""Blob uploads: which user uploaded which blob, the proof of possession a claim on a blob needs.

An artifact record may name a stored blob only if its author can already read the blob or
uploaded its bytes themselves; ``blob_uploads`` remembers the uploads (one row per blob and user).

Revision ID: 0005_blob_uploads
Revises: 0004_search_indexes
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_blob_uploads"
down_revision = "0004_search_indexes"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "blob_uploads",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "user_id", name="pk_blob_uploads"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], ondelete="CASCADE", name="fk_blob_uploads_user_id_users"
        ),
    )


def downgrade() -> None:
    op.drop_table("blob_uploads")
