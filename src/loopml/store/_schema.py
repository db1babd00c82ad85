"""The SQL tables of the metadata store, as SQLAlchemy 2 declarative models.

Rows never leave this package: repositories map them to the frozen dataclasses of
:mod:`loopml.store.entities`. Every schema change also needs an Alembic migration in
``migrations/versions`` (a test compares the migrated schema with these models).
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AlertRow",
    "ArtifactRow",
    "AuditEventRow",
    "Base",
    "BlobUploadRow",
    "ContextArtifactRow",
    "ContextExecutionRow",
    "ContextRow",
    "DeploymentEventRow",
    "DeploymentRow",
    "EventRow",
    "ExecutionRow",
    "ExperimentRow",
    "ExperimentTagRow",
    "FeedbackLabelRow",
    "GrantRow",
    "LatestMetricRow",
    "MetricRow",
    "MetricValue",
    "ModelAliasEventRow",
    "ModelAliasRow",
    "ModelVersionRow",
    "ModelVersionTagRow",
    "MonitorWindowRow",
    "ParamRow",
    "RegisteredModelRow",
    "RegisteredModelTagRow",
    "RetrainRow",
    "RetrainStepRow",
    "RunRow",
    "RunTagRow",
    "TokenRow",
    "UserRow",
]

ID = sa.String(32)
KEY = sa.String(250)
STAGE = sa.String(20)
#: 64-bit integer that is still SQLite's rowid alias when used as an autoincrement key.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class MetricValue(sa.types.TypeDecorator[float]):
    """A double that keeps NaN on every backend.

    PostgreSQL stores NaN and ±inf natively. SQLite turns a bound NaN into NULL, so NULL is read
    back as NaN (metric values are never NULL otherwise); ±inf are native REALs there.
    """

    impl = sa.Double
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Dialect) -> float | None:
        if value is None or (dialect.name == "sqlite" and math.isnan(value)):
            return None
        return float(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> float:
        return math.nan if value is None else float(value)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class ExperimentRow(Base):
    __tablename__ = "experiments"

    experiment_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(KEY, unique=True)
    lifecycle_stage: Mapped[str] = mapped_column(STAGE)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)


class ExperimentTagRow(Base):
    __tablename__ = "experiment_tags"

    experiment_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (sa.Index(None, "experiment_id", "start_time"),)

    run_id: Mapped[str] = mapped_column(ID, primary_key=True)
    experiment_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("experiments.experiment_id"))
    name: Mapped[str] = mapped_column(KEY)
    status: Mapped[str] = mapped_column(STAGE)
    start_time: Mapped[int] = mapped_column(sa.BigInteger)
    end_time: Mapped[int | None] = mapped_column(sa.BigInteger)
    parent_run_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("runs.run_id"), index=True)
    lifecycle_stage: Mapped[str] = mapped_column(STAGE)
    error: Mapped[str | None] = mapped_column(sa.Text)
    reproducibility: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class ParamRow(Base):
    __tablename__ = "params"

    run_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class RunTagRow(Base):
    __tablename__ = "tags"

    run_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class MetricRow(Base):
    """Every logged metric point (the history)."""

    __tablename__ = "metrics"
    __table_args__ = (sa.Index(None, "run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(KEY)
    value: Mapped[float] = mapped_column(MetricValue, nullable=True)
    step: Mapped[int] = mapped_column(sa.BigInteger)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)


class LatestMetricRow(Base):
    """The latest point of each metric of a run (highest step, then timestamp); searched and sorted."""

    __tablename__ = "latest_metrics"
    # Covers metric filters (key, is_nan = false, value range) and sorts; see 0004_search_indexes.
    __table_args__ = (sa.Index(None, "key", "is_nan", "value", "run_id"),)

    run_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[float] = mapped_column(MetricValue, nullable=True)
    is_nan: Mapped[bool] = mapped_column(sa.Boolean)
    step: Mapped[int] = mapped_column(sa.BigInteger)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    __table_args__ = (sa.UniqueConstraint("type", "name", "version"),)

    artifact_id: Mapped[str] = mapped_column(ID, primary_key=True)
    type: Mapped[str] = mapped_column(KEY)
    name: Mapped[str] = mapped_column(KEY)
    version: Mapped[int | None] = mapped_column(sa.Integer)
    uri: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    is_reference: Mapped[bool] = mapped_column(sa.Boolean)
    run_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("runs.run_id"), index=True)
    properties: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)


class ExecutionRow(Base):
    __tablename__ = "executions"

    execution_id: Mapped[str] = mapped_column(ID, primary_key=True)
    type: Mapped[str] = mapped_column(KEY)
    name: Mapped[str] = mapped_column(KEY)
    state: Mapped[str] = mapped_column(STAGE)
    started_at: Mapped[int] = mapped_column(sa.BigInteger)
    ended_at: Mapped[int | None] = mapped_column(sa.BigInteger)
    run_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("runs.run_id"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    properties: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    code_version: Mapped[str | None] = mapped_column(sa.Text)
    cache_key: Mapped[str | None] = mapped_column(sa.String(250), index=True)
    error: Mapped[str | None] = mapped_column(sa.Text)


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("executions.execution_id"), index=True)
    artifact_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("artifacts.artifact_id"), index=True)
    type: Mapped[str] = mapped_column(STAGE)
    role: Mapped[str] = mapped_column(KEY)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)


class ContextRow(Base):
    __tablename__ = "contexts"
    __table_args__ = (sa.UniqueConstraint("type", "name"),)

    context_id: Mapped[str] = mapped_column(ID, primary_key=True)
    type: Mapped[str] = mapped_column(KEY)
    name: Mapped[str] = mapped_column(KEY)
    properties: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)


class ContextExecutionRow(Base):
    __tablename__ = "context_executions"

    context_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("contexts.context_id", ondelete="CASCADE"), primary_key=True
    )
    execution_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("executions.execution_id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ContextArtifactRow(Base):
    __tablename__ = "context_artifacts"

    context_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("contexts.context_id", ondelete="CASCADE"), primary_key=True
    )
    artifact_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("artifacts.artifact_id", ondelete="CASCADE"), primary_key=True, index=True
    )


# --- registry ---


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"

    model_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(KEY, unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
    created_by: Mapped[str | None] = mapped_column(KEY)
    updated_at: Mapped[int] = mapped_column(sa.BigInteger)


class RegisteredModelTagRow(Base):
    __tablename__ = "registered_model_tags"
    __table_args__ = (sa.Index(None, "key", "value"),)

    model_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("registered_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (sa.UniqueConstraint("model_id", "version"),)

    version_id: Mapped[str] = mapped_column(ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("registered_models.model_id"))
    version: Mapped[int] = mapped_column(sa.Integer)
    artifact_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("artifacts.artifact_id"))
    manifest_sha256: Mapped[str] = mapped_column(sa.String(64))
    flavor: Mapped[str] = mapped_column(KEY)
    signature_key_id: Mapped[str | None] = mapped_column(KEY)
    is_signed: Mapped[bool] = mapped_column(sa.Boolean)
    scan_verdict: Mapped[str] = mapped_column(STAGE)
    blessing_artifact_id: Mapped[str | None] = mapped_column(ID)
    blessing_passed: Mapped[bool | None] = mapped_column(sa.Boolean)
    status: Mapped[str] = mapped_column(STAGE)
    run_id: Mapped[str | None] = mapped_column(ID, index=True)
    execution_id: Mapped[str | None] = mapped_column(ID, index=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    properties: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
    created_by: Mapped[str | None] = mapped_column(KEY)
    updated_at: Mapped[int] = mapped_column(sa.BigInteger)


class ModelVersionTagRow(Base):
    __tablename__ = "model_version_tags"
    __table_args__ = (sa.Index(None, "key", "value"),)

    version_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("model_versions.version_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"

    model_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("registered_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(KEY, primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[int] = mapped_column(sa.BigInteger)
    updated_by: Mapped[str] = mapped_column(KEY)


class ModelAliasEventRow(Base):
    """One attempted alias move (successful or not): the audit trail."""

    __tablename__ = "model_alias_events"
    __table_args__ = (sa.Index(None, "model_id", "alias", "at"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("registered_models.model_id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(KEY)
    from_version: Mapped[int | None] = mapped_column(sa.Integer)
    to_version: Mapped[int | None] = mapped_column(sa.Integer)
    expected_version: Mapped[int | None] = mapped_column(sa.Integer)
    actor: Mapped[str] = mapped_column(KEY)
    at: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    result: Mapped[str] = mapped_column(STAGE)
    detail: Mapped[str | None] = mapped_column(sa.Text)


# --- identity ---


class UserRow(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(KEY, unique=True)
    role: Mapped[str] = mapped_column(STAGE)
    is_disabled: Mapped[bool] = mapped_column(sa.Boolean)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)


class TokenRow(Base):
    """An API token: only an HMAC-SHA256 of its secret is kept."""

    __tablename__ = "tokens"

    token_id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("users.user_id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(KEY)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
    expires_at: Mapped[int | None] = mapped_column(sa.BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(sa.BigInteger)


class GrantRow(Base):
    __tablename__ = "grants"
    __table_args__ = (sa.Index(None, "resource_kind", "resource"),)

    user_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )
    resource_kind: Mapped[str] = mapped_column(STAGE, primary_key=True)
    resource: Mapped[str] = mapped_column(KEY, primary_key=True)
    level: Mapped[str] = mapped_column(STAGE)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)


class BlobUploadRow(Base):
    """A user's proof of possession: they uploaded the bytes of the blob ``sha256`` themselves."""

    __tablename__ = "blob_uploads"

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[int] = mapped_column(sa.BigInteger)


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index(None, "actor", "at"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    actor: Mapped[str | None] = mapped_column(KEY)
    action: Mapped[str] = mapped_column(KEY)
    target: Mapped[str | None] = mapped_column(sa.Text)
    client: Mapped[str | None] = mapped_column(sa.String(64))
    result: Mapped[str] = mapped_column(STAGE)
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


# --- deployments ---


class DeploymentRow(Base):
    """A deployment's current document; ``revision`` is the compare-and-set counter of its changes."""

    __tablename__ = "deployments"

    deployment_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    revision: Mapped[int] = mapped_column(sa.Integer)
    document: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
    created_by: Mapped[str | None] = mapped_column(KEY)
    updated_at: Mapped[int] = mapped_column(sa.BigInteger)
    updated_by: Mapped[str | None] = mapped_column(KEY)


class DeploymentEventRow(Base):
    """One change of a deployment, or an alert about it (append-only history)."""

    __tablename__ = "deployment_events"
    __table_args__ = (sa.Index(None, "deployment_id", "id"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("deployments.deployment_id", ondelete="CASCADE")
    )
    revision: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[int] = mapped_column(sa.BigInteger)
    actor: Mapped[str | None] = mapped_column(KEY)
    action: Mapped[str] = mapped_column(sa.String(40))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    models: Mapped[list[str]] = mapped_column(sa.JSON)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    document: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


# --- monitoring: alerts and retraining ---


class AlertRow(Base):
    """A monitoring alert; ``open_key`` is set while it is open, so one alert per key is open at most."""

    __tablename__ = "monitor_alerts"
    __table_args__ = (
        sa.UniqueConstraint("deployment", "rule", "metric", "opened_at"),
        sa.Index(None, "deployment", "status"),
    )

    alert_id: Mapped[str] = mapped_column(ID, primary_key=True)
    deployment: Mapped[str] = mapped_column(sa.String(63))
    rule: Mapped[str] = mapped_column(sa.String(63))
    metric: Mapped[str] = mapped_column(KEY)
    severity: Mapped[str] = mapped_column(STAGE)
    status: Mapped[str] = mapped_column(STAGE)
    open_key: Mapped[str | None] = mapped_column(sa.String(400), unique=True)
    opened_at: Mapped[int] = mapped_column(sa.BigInteger)
    resolved_at: Mapped[int | None] = mapped_column(sa.BigInteger)
    raised_at: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[int] = mapped_column(sa.BigInteger)
    message: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    deliveries: Mapped[list[Any]] = mapped_column(sa.JSON)


class RetrainRow(Base):
    """One retraining of a deployment's model: why, on which span, and where it stands."""

    __tablename__ = "retrain_runs"
    __table_args__ = (sa.Index(None, "deployment", "started_at"),)

    retrain_id: Mapped[str] = mapped_column(ID, primary_key=True)
    deployment: Mapped[str] = mapped_column(sa.String(63))
    state: Mapped[str] = mapped_column(STAGE)
    attempt: Mapped[int] = mapped_column(sa.Integer)
    retry_of: Mapped[str | None] = mapped_column(ID)
    started_at: Mapped[int] = mapped_column(sa.BigInteger)
    recorded_at: Mapped[int] = mapped_column(sa.BigInteger)
    finished_at: Mapped[int | None] = mapped_column(sa.BigInteger)
    span_start: Mapped[int] = mapped_column(sa.BigInteger)
    span_end: Mapped[int] = mapped_column(sa.BigInteger)
    triggers: Mapped[list[Any]] = mapped_column(sa.JSON)
    alert_ids: Mapped[list[str]] = mapped_column(sa.JSON)
    champion: Mapped[str | None] = mapped_column(KEY)
    candidate: Mapped[str | None] = mapped_column(KEY)
    reason: Mapped[str | None] = mapped_column(sa.Text)


class RetrainStepRow(Base):
    """One step of a retraining (pipeline run, candidate, evaluation, canary, verdict), append-only."""

    __tablename__ = "retrain_steps"
    __table_args__ = (sa.Index(None, "retrain_id", "id"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    retrain_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("retrain_runs.retrain_id", ondelete="CASCADE"))
    at: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(40))
    outcome: Mapped[str] = mapped_column(STAGE)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


# --- monitoring ---


class FeedbackLabelRow(Base):
    """A ground-truth label of logged predictions, keyed by request id (or a key feature) and row."""

    __tablename__ = "feedback_labels"
    __table_args__ = (sa.Index(None, "model", "updated_at"),)

    model: Mapped[str] = mapped_column(KEY, primary_key=True)
    key_field: Mapped[str] = mapped_column(KEY, primary_key=True)
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    row: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON)
    observed_at: Mapped[int] = mapped_column(sa.BigInteger)
    received_at: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[int] = mapped_column(sa.BigInteger)


class MonitorWindowRow(Base):
    """One computed monitoring window of a deployment (figures, lineage, input statistics)."""

    __tablename__ = "monitor_windows"
    __table_args__ = (sa.UniqueConstraint("deployment", "window", "start"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(KEY)
    window: Mapped[str] = mapped_column(sa.String(40))
    start: Mapped[int] = mapped_column(sa.BigInteger)
    end: Mapped[int] = mapped_column(sa.BigInteger)
    model: Mapped[str] = mapped_column(KEY)
    version: Mapped[str] = mapped_column(KEY)
    complete: Mapped[bool] = mapped_column(sa.Boolean)
    rows: Mapped[int] = mapped_column(sa.BigInteger)
    metrics: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    statistics: Mapped[str] = mapped_column(sa.Text)
    computed_at: Mapped[int] = mapped_column(sa.BigInteger)
