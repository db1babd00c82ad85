"""Model registry: registered models, versions, tags, aliases and the alias audit trail.

Revision ID: 0002_registry
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_registry"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(32)
KEY = sa.String(250)
STAGE = sa.String(20)
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("model_id", ID, nullable=False),
        sa.Column("name", KEY, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", KEY, nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", name="pk_registered_models"),
        sa.UniqueConstraint("name", name="uq_registered_models_name"),
    )
    op.create_table(
        "registered_model_tags",
        sa.Column("model_id", ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "key", name="pk_registered_model_tags"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            ondelete="CASCADE",
            name="fk_registered_model_tags_model_id_registered_models",
        ),
    )
    op.create_index("ix_registered_model_tags_key_value", "registered_model_tags", ["key", "value"])
    op.create_table(
        "model_versions",
        sa.Column("version_id", ID, nullable=False),
        sa.Column("model_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("artifact_id", ID, nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("flavor", KEY, nullable=False),
        sa.Column("signature_key_id", KEY, nullable=True),
        sa.Column("is_signed", sa.Boolean(), nullable=False),
        sa.Column("scan_verdict", STAGE, nullable=False),
        sa.Column("blessing_artifact_id", ID, nullable=True),
        sa.Column("blessing_passed", sa.Boolean(), nullable=True),
        sa.Column("status", STAGE, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("execution_id", ID, nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", KEY, nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version_id", name="pk_model_versions"),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_id_version"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name="fk_model_versions_model_id_registered_models",
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.artifact_id"], name="fk_model_versions_artifact_id_artifacts"
        ),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_index("ix_model_versions_execution_id", "model_versions", ["execution_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("version_id", ID, nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version_id", "key", name="pk_model_version_tags"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.version_id"],
            ondelete="CASCADE",
            name="fk_model_version_tags_version_id_model_versions",
        ),
    )
    op.create_index("ix_model_version_tags_key_value", "model_version_tags", ["key", "value"])
    op.create_table(
        "model_aliases",
        sa.Column("model_id", ID, nullable=False),
        sa.Column("alias", KEY, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", KEY, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "alias", name="pk_model_aliases"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            ondelete="CASCADE",
            name="fk_model_aliases_model_id_registered_models",
        ),
    )
    op.create_table(
        "model_alias_events",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("model_id", ID, nullable=False),
        sa.Column("alias", KEY, nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("expected_version", sa.Integer(), nullable=True),
        sa.Column("actor", KEY, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("result", STAGE, nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_model_alias_events"),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            ondelete="CASCADE",
            name="fk_model_alias_events_model_id_registered_models",
        ),
    )
    op.create_index(
        "ix_model_alias_events_model_id_alias_at", "model_alias_events", ["model_id", "alias", "at"]
    )


def downgrade() -> None:
    for table in (
        "model_alias_events",
        "model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(table)
