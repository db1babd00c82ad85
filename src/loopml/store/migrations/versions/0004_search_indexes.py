"""Search indexes: metric filters and sorts served from one covering index.

``latest_metrics (key, is_nan, value, run_id)`` replaces ``(key, value)``: a metric condition
(``key = ? AND is_nan = false AND value > ?``) and a metric sort read only the index, without
visiting the table.

Revision ID: 0004_search_indexes
Revises: 0003_identity
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0004_search_indexes"
down_revision = "0003_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_latest_metrics_key_is_nan_value_run_id",
        "latest_metrics",
        ["key", "is_nan", "value", "run_id"],
    )
    op.drop_index("ix_latest_metrics_key_value", table_name="latest_metrics")


def downgrade() -> None:
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.drop_index("ix_latest_metrics_key_is_nan_value_run_id", table_name="latest_metrics")
