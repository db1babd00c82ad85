"""The SQL tables of the metadata store, as SQLAlchemy Core tables on one :data:`METADATA`.

Rows never leave this package: repositories query these tables and map rows to the frozen
dataclasses of :mod:`loopml.store.entities`. Every schema change also needs an Alembic migration in
``migrations/versions`` (a test compares the migrated schema with :data:`METADATA`).

Core tables, not ORM classes: the repositories only ever use the tables, and declaring them as
ORM classes cost a short command (``loopml runs list``) about 0.1 s at start-up, importing
``sqlalchemy.orm`` and building a mapper per table.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "ALERTS",
    "ARTIFACTS",
    "AUDIT_EVENTS",
    "BLOB_UPLOADS",
    "CONTEXTS",
    "CONTEXT_ARTIFACTS",
    "CONTEXT_EXECUTIONS",
    "DEPLOYMENTS",
    "DEPLOYMENT_EVENTS",
    "DEPLOYMENT_LEASES",
    "DEPLOYMENT_OBSERVATIONS",
    "EVENTS",
    "EXECUTIONS",
    "EXPERIMENTS",
    "EXPERIMENT_TAGS",
    "FEEDBACK_LABELS",
    "GRANTS",
    "LATEST_METRICS",
    "METADATA",
    "METRICS",
    "MODEL_ALIASES",
    "MODEL_ALIAS_EVENTS",
    "MODEL_VERSIONS",
    "MODEL_VERSION_TAGS",
    "MONITOR_WINDOWS",
    "PARAMS",
    "REGISTERED_MODELS",
    "REGISTERED_MODEL_TAGS",
    "RETRAINS",
    "RETRAIN_STEPS",
    "RUNS",
    "RUN_INPUTS",
    "RUN_TAGS",
    "TOKENS",
    "TRACES",
    "TRACE_METADATA",
    "TRACE_TAGS",
    "USERS",
    "MetricValue",
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

#: Every table of the store (Alembic's ``target_metadata``).
METADATA = sa.MetaData(naming_convention=NAMING)


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


def column(name: str, type_: Any, *args: Any, null: bool = False, **kwargs: Any) -> sa.Column[Any]:
    """A column that is NOT NULL unless ``null`` (most columns of the store are required)."""
    return sa.Column(name, type_, *args, nullable=null, **kwargs)


# --- tracking ---

EXPERIMENTS = sa.Table(
    "experiments",
    METADATA,
    column("experiment_id", ID, primary_key=True),
    column("name", KEY, unique=True),
    column("lifecycle_stage", STAGE),
    column("created_at", sa.BigInteger),
)

EXPERIMENT_TAGS = sa.Table(
    "experiment_tags",
    METADATA,
    column(
        "experiment_id", ID, sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True
    ),
    column("key", KEY, primary_key=True),
    column("value", sa.Text),
)

RUNS = sa.Table(
    "runs",
    METADATA,
    column("run_id", ID, primary_key=True),
    column("experiment_id", ID, sa.ForeignKey("experiments.experiment_id")),
    column("name", KEY),
    column("status", STAGE),
    column("start_time", sa.BigInteger),
    column("end_time", sa.BigInteger, null=True),
    column("parent_run_id", ID, sa.ForeignKey("runs.run_id"), null=True, index=True),
    column("lifecycle_stage", STAGE),
    column("error", sa.Text, null=True),
    column("reproducibility", sa.JSON),
    sa.Index(None, "experiment_id", "start_time"),
)

# One trace of a traced application (MLflow tracing); its span data is a blob (``data_sha256``).
TRACES = sa.Table(
    "traces",
    METADATA,
    column("trace_id", sa.String(100), primary_key=True),
    column("experiment_id", ID, sa.ForeignKey("experiments.experiment_id")),
    column("timestamp_ms", sa.BigInteger),
    column("execution_time_ms", sa.BigInteger, null=True),
    column("status", sa.String(32)),
    column("request_preview", sa.Text, null=True),
    column("response_preview", sa.Text, null=True),
    column("client_request_id", KEY, null=True),
    column("data_sha256", sa.String(64), null=True),
    column("data_size", sa.BigInteger, null=True),
    sa.Index(None, "experiment_id", "timestamp_ms"),
)

TRACE_TAGS = sa.Table(
    "trace_tags",
    METADATA,
    column(
        "trace_id", sa.String(100), sa.ForeignKey("traces.trace_id", ondelete="CASCADE"), primary_key=True
    ),
    column("key", KEY, primary_key=True),
    column("value", sa.Text),
)

# A trace's request metadata (MLflow's ``request_metadata``: source run, previews, schema version).
TRACE_METADATA = sa.Table(
    "trace_metadata",
    METADATA,
    column(
        "trace_id", sa.String(100), sa.ForeignKey("traces.trace_id", ondelete="CASCADE"), primary_key=True
    ),
    column("key", KEY, primary_key=True),
    column("value", sa.Text),
)

PARAMS = sa.Table(
    "params",
    METADATA,
    column("run_id", ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    column("key", KEY, primary_key=True),
    column("value", sa.Text),
)

RUN_TAGS = sa.Table(
    "tags",
    METADATA,
    column("run_id", ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    column("key", KEY, primary_key=True),
    column("value", sa.Text),
)

# Every logged metric point (the history).
METRICS = sa.Table(
    "metrics",
    METADATA,
    column("id", ROW_ID, primary_key=True, autoincrement=True),
    column("run_id", ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE")),
    column("key", KEY),
    column("value", MetricValue, null=True),
    column("step", sa.BigInteger),
    column("timestamp", sa.BigInteger),
    sa.Index(None, "run_id", "key", "step"),
)

# The latest point of each metric of a run (highest step, then timestamp); searched and sorted.
LATEST_METRICS = sa.Table(
    "latest_metrics",
    METADATA,
    column("run_id", ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    column("key", KEY, primary_key=True),
    column("value", MetricValue, null=True),
    column("is_nan", sa.Boolean),
    column("step", sa.BigInteger),
    column("timestamp", sa.BigInteger),
    # Covers metric filters (key, is_nan = false, value range) and sorts; see 0004_search_indexes.
    sa.Index(None, "key", "is_nan", "value", "run_id"),
)

# One dataset input of a run, derived from its reproducibility record (``datasets.*`` search).
RUN_INPUTS = sa.Table(
    "run_inputs",
    METADATA,
    column("run_id", ID, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    column("position", sa.Integer, primary_key=True, autoincrement=False),
    column("name", sa.Text, null=True),
    column("digest", sa.Text, null=True),
    column("context", sa.Text, null=True),
    sa.Index(None, "name", "run_id"),
)

# --- lineage ---

ARTIFACTS = sa.Table(
    "artifacts",
    METADATA,
    column("artifact_id", ID, primary_key=True),
    column("type", KEY),
    column("name", KEY),
    column("version", sa.Integer, null=True),
    column("uri", sa.Text),
    column("sha256", sa.String(64), null=True, index=True),
    column("size", sa.BigInteger, null=True),
    column("is_reference", sa.Boolean),
    column("run_id", ID, sa.ForeignKey("runs.run_id"), null=True, index=True),
    column("properties", sa.JSON),
    column("created_at", sa.BigInteger),
    sa.UniqueConstraint("type", "name", "version"),
)

EXECUTIONS = sa.Table(
    "executions",
    METADATA,
    column("execution_id", ID, primary_key=True),
    column("type", KEY),
    column("name", KEY),
    column("state", STAGE),
    column("started_at", sa.BigInteger),
    column("ended_at", sa.BigInteger, null=True),
    column("run_id", ID, sa.ForeignKey("runs.run_id"), null=True, index=True),
    column("params", sa.JSON),
    column("properties", sa.JSON),
    column("code_version", sa.Text, null=True),
    column("cache_key", sa.String(250), null=True, index=True),
    column("error", sa.Text, null=True),
)

EVENTS = sa.Table(
    "events",
    METADATA,
    column("id", ROW_ID, primary_key=True, autoincrement=True),
    column("execution_id", ID, sa.ForeignKey("executions.execution_id"), index=True),
    column("artifact_id", ID, sa.ForeignKey("artifacts.artifact_id"), index=True),
    column("type", STAGE),
    column("role", KEY),
    column("timestamp", sa.BigInteger),
)

CONTEXTS = sa.Table(
    "contexts",
    METADATA,
    column("context_id", ID, primary_key=True),
    column("type", KEY),
    column("name", KEY),
    column("properties", sa.JSON),
    column("created_at", sa.BigInteger),
    sa.UniqueConstraint("type", "name"),
)

CONTEXT_EXECUTIONS = sa.Table(
    "context_executions",
    METADATA,
    column("context_id", ID, sa.ForeignKey("contexts.context_id", ondelete="CASCADE"), primary_key=True),
    column(
        "execution_id",
        ID,
        sa.ForeignKey("executions.execution_id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

CONTEXT_ARTIFACTS = sa.Table(
    "context_artifacts",
    METADATA,
    column("context_id", ID, sa.ForeignKey("contexts.context_id", ondelete="CASCADE"), primary_key=True),
    column(
        "artifact_id",
        ID,
        sa.ForeignKey("artifacts.artifact_id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

# --- registry ---

REGISTERED_MODELS = sa.Table(
    "registered_models",
    METADATA,
    column("model_id", ID, primary_key=True),
    column("name", KEY, unique=True),
    column("description", sa.Text, null=True),
    column("created_at", sa.BigInteger),
    column("created_by", KEY, null=True),
    column("updated_at", sa.BigInteger),
)

REGISTERED_MODEL_TAGS = sa.Table(
    "registered_model_tags",
    METADATA,
    column("model_id", ID, sa.ForeignKey("registered_models.model_id", ondelete="CASCADE"), primary_key=True),
    column("key", KEY, primary_key=True),
    column("value", sa.Text),
    sa.Index(None, "key", "value"),
)

MODEL_VERSIONS = sa.Table(
    "model_versions",
    METADATA,
    column("version_id", ID, primary_key=True),
    column("model_id", ID, sa.ForeignKey("registered_models.model_id")),
    column("version", sa.Integer),
    column("artifact_id", ID, sa.ForeignKey("artifacts.artifact_id"), null=True),
    column("manifest_sha256", sa.String(64)),
    column("flavor", KEY),
    column("signature_key_id", KEY, null=True),
    column("is_signed", sa.Boolean),
    column("scan_verdict", STAGE),
    column("blessing_artifact_id", ID, null=True),
    column("blessing_passed", sa.Boolean, null=True),
    column("status", STAGE),
    column("run_id", ID, null=True, index=True),
    column("execution_id", ID, null=True, index=True),
    column("description", sa.Text, null=True),
    column("properties", sa.JSON),
    column("created_at", sa.BigInteger),
    column("created_by", KEY, null=True),
    column("updated_at", sa.BigInteger),
    sa.UniqueConstraint("model_id", "version"),
)

MODEL_VERSION_TAGS = sa.Table(
    "model_version_tags",
    METADATA,
    column(
        "version_id", ID, sa.ForeignKey("model_versions.version_id", ondelete="CASCADE"), primary_key=True
    ),
    column("key", KEY, primary_key=True),
    column("value", sa.Text),
    sa.Index(None, "key", "value"),
)

MODEL_ALIASES = sa.Table(
    "model_aliases",
    METADATA,
    column("model_id", ID, sa.ForeignKey("registered_models.model_id", ondelete="CASCADE"), primary_key=True),
    column("alias", KEY, primary_key=True),
    column("version", sa.Integer),
    column("updated_at", sa.BigInteger),
    column("updated_by", KEY),
)

# One attempted alias move (successful or not): the audit trail.
MODEL_ALIAS_EVENTS = sa.Table(
    "model_alias_events",
    METADATA,
    column("id", ROW_ID, primary_key=True, autoincrement=True),
    column("model_id", ID, sa.ForeignKey("registered_models.model_id", ondelete="CASCADE")),
    column("alias", KEY),
    column("from_version", sa.Integer, null=True),
    column("to_version", sa.Integer, null=True),
    column("expected_version", sa.Integer, null=True),
    column("actor", KEY),
    column("at", sa.BigInteger),
    column("reason", sa.Text, null=True),
    column("result", STAGE),
    column("detail", sa.Text, null=True),
    sa.Index(None, "model_id", "alias", "at"),
)

# --- identity ---

USERS = sa.Table(
    "users",
    METADATA,
    column("user_id", ID, primary_key=True),
    column("name", KEY, unique=True),
    column("role", STAGE),
    column("is_disabled", sa.Boolean),
    column("created_at", sa.BigInteger),
)

# An API token: only an HMAC-SHA256 of its secret is kept.
TOKENS = sa.Table(
    "tokens",
    METADATA,
    column("token_id", ID, primary_key=True),
    column("user_id", ID, sa.ForeignKey("users.user_id", ondelete="CASCADE"), index=True),
    column("name", KEY, null=True),
    column("secret_hash", sa.String(64)),
    column("created_at", sa.BigInteger),
    column("expires_at", sa.BigInteger, null=True),
    column("revoked_at", sa.BigInteger, null=True),
    column("last_used_at", sa.BigInteger, null=True),
)

GRANTS = sa.Table(
    "grants",
    METADATA,
    column("user_id", ID, sa.ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True),
    column("resource_kind", STAGE, primary_key=True),
    column("resource", KEY, primary_key=True),
    column("level", STAGE),
    column("created_at", sa.BigInteger),
    sa.Index(None, "resource_kind", "resource"),
)

# A user's proof of possession: they uploaded the bytes of the blob ``sha256`` themselves.
BLOB_UPLOADS = sa.Table(
    "blob_uploads",
    METADATA,
    column("sha256", sa.String(64), primary_key=True),
    column("user_id", ID, sa.ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True),
    column("created_at", sa.BigInteger),
)

AUDIT_EVENTS = sa.Table(
    "audit_events",
    METADATA,
    column("id", ROW_ID, primary_key=True, autoincrement=True),
    column("at", sa.BigInteger, index=True),
    column("actor", KEY, null=True),
    column("action", KEY),
    column("target", sa.Text, null=True),
    column("client", sa.String(64), null=True),
    column("result", STAGE),
    column("status_code", sa.Integer, null=True),
    column("details", sa.JSON),
    sa.Index(None, "actor", "at"),
)

# --- deployments ---

# A deployment's current document; ``revision`` is the compare-and-set counter of its changes.
DEPLOYMENTS = sa.Table(
    "deployments",
    METADATA,
    column("deployment_id", ID, primary_key=True),
    column("name", sa.String(63), unique=True),
    column("revision", sa.Integer),
    column("document", sa.JSON),
    column("created_at", sa.BigInteger),
    column("created_by", KEY, null=True),
    column("updated_at", sa.BigInteger),
    column("updated_by", KEY, null=True),
)

# One change of a deployment, or an alert about it (append-only history).
DEPLOYMENT_EVENTS = sa.Table(
    "deployment_events",
    METADATA,
    column("id", ROW_ID, primary_key=True, autoincrement=True),
    column("deployment_id", ID, sa.ForeignKey("deployments.deployment_id", ondelete="CASCADE")),
    column("revision", sa.Integer),
    column("at", sa.BigInteger),
    column("actor", KEY, null=True),
    column("action", sa.String(40)),
    column("reason", sa.Text, null=True),
    column("models", sa.JSON),
    column("details", sa.JSON),
    column("document", sa.JSON, null=True),
    sa.Index(None, "deployment_id", "id"),
)

# One replica's observations of a deployment's analysis window, shared with the other replicas
# (replaced on each publication; read while unexpired, deleted once expired).
DEPLOYMENT_OBSERVATIONS = sa.Table(
    "deployment_observations",
    METADATA,
    column("deployment", sa.String(63), primary_key=True),
    column("window_id", sa.String(400), primary_key=True),
    column("replica", sa.String(100), primary_key=True),
    column("document", sa.JSON),
    column("expires_at", sa.BigInteger),
    sa.Index(None, "expires_at"),
)

# Which replica decides a deployment's analysis now, until when.
DEPLOYMENT_LEASES = sa.Table(
    "deployment_leases",
    METADATA,
    column("deployment", sa.String(63), primary_key=True),
    column("holder", sa.String(100)),
    column("expires_at", sa.BigInteger),
)

# --- monitoring: alerts and retraining ---

# A monitoring alert; ``open_key`` is set while it is open, so one alert per key is open at most.
ALERTS = sa.Table(
    "monitor_alerts",
    METADATA,
    column("alert_id", ID, primary_key=True),
    column("deployment", sa.String(63)),
    column("rule", sa.String(63)),
    column("metric", KEY),
    column("severity", STAGE),
    column("status", STAGE),
    column("open_key", sa.String(400), null=True, unique=True),
    column("opened_at", sa.BigInteger),
    column("resolved_at", sa.BigInteger, null=True),
    column("raised_at", sa.BigInteger),
    column("updated_at", sa.BigInteger),
    column("message", sa.Text),
    column("evidence", sa.JSON),
    column("deliveries", sa.JSON),
    sa.UniqueConstraint("deployment", "rule", "metric", "opened_at"),
    sa.Index(None, "deployment", "status"),
)

# One retraining of a deployment's model: why, on which span, and where it stands.
RETRAINS = sa.Table(
    "retrain_runs",
    METADATA,
    column("retrain_id", ID, primary_key=True),
    column("deployment", sa.String(63)),
    column("state", STAGE),
    column("attempt", sa.Integer),
    column("retry_of", ID, null=True),
    column("started_at", sa.BigInteger),
    column("recorded_at", sa.BigInteger),
    column("finished_at", sa.BigInteger, null=True),
    column("span_start", sa.BigInteger),
    column("span_end", sa.BigInteger),
    column("triggers", sa.JSON),
    column("alert_ids", sa.JSON),
    column("champion", KEY, null=True),
    column("candidate", KEY, null=True),
    column("reason", sa.Text, null=True),
    sa.Index(None, "deployment", "started_at"),
)

# One step of a retraining (pipeline run, candidate, evaluation, canary, verdict), append-only.
RETRAIN_STEPS = sa.Table(
    "retrain_steps",
    METADATA,
    column("id", ROW_ID, primary_key=True, autoincrement=True),
    column("retrain_id", ID, sa.ForeignKey("retrain_runs.retrain_id", ondelete="CASCADE")),
    column("at", sa.BigInteger),
    column("kind", sa.String(40)),
    column("outcome", STAGE),
    column("details", sa.JSON),
    sa.Index(None, "retrain_id", "id"),
)

# --- monitoring ---

# A ground-truth label of logged predictions, keyed by request id (or a key feature) and row.
FEEDBACK_LABELS = sa.Table(
    "feedback_labels",
    METADATA,
    column("model", KEY, primary_key=True),
    column("key_field", KEY, primary_key=True),
    column("key", KEY, primary_key=True),
    column("row", sa.Integer, primary_key=True),
    column("value", sa.JSON),
    column("observed_at", sa.BigInteger),
    column("received_at", sa.BigInteger),
    column("updated_at", sa.BigInteger),
    sa.Index(None, "model", "updated_at"),
)

# One computed monitoring window of a deployment (figures, lineage, input statistics).
MONITOR_WINDOWS = sa.Table(
    "monitor_windows",
    METADATA,
    column("id", ROW_ID, primary_key=True, autoincrement=True),
    column("deployment", KEY),
    column("window", sa.String(40)),
    column("start", sa.BigInteger),
    column("end", sa.BigInteger),
    column("model", KEY),
    column("version", KEY),
    column("complete", sa.Boolean),
    column("rows", sa.BigInteger),
    column("metrics", sa.JSON),
    column("details", sa.JSON),
    column("statistics", sa.Text),
    column("computed_at", sa.BigInteger),
    sa.UniqueConstraint("deployment", "window", "start"),
)
