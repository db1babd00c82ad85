"""The command table of ``loopml``: each group by name, the module that holds it, its listed help.

Nothing here imports a command module: a group is imported when it runs or when its own ``--help``
is asked (see :mod:`loopml.cli._lazy`). A test checks each listed help against the group's own.
"""

from __future__ import annotations

from collections.abc import Mapping

from loopml.cli._lazy import LazyCommand

__all__ = ["COMMANDS"]


def _at(module: str, attr: str, help_: str) -> LazyCommand:
    return LazyCommand(module=f"loopml.cli.{module}", attr=attr, help=help_)


COMMANDS: Mapping[str, LazyCommand] = {
    "experiments": _at("experiments", "app", "Experiments (groups of runs): list, create, delete, restore."),
    "runs": _at(
        "runs", "app", "Tracked runs: list, show, compare, reproduce, delete, restore; metric histories."
    ),
    "artifacts": _at("artifacts", "app", "Artifacts: list, show, download, verify."),
    "lineage": _at("lineage", "lineage", "Show the lineage of an artifact, execution or run."),
    "demo": _at(
        "demo",
        "demo",
        "The census model's whole lifecycle: train, deploy, serve, monitor, retrain, canary.",
    ),
    "keys": _at("keys", "app", "Signing keys (EC P-256) and trusted public keys."),
    "models": _at(
        "models",
        "app",
        "Model registry: register, version, alias and download models; sign and verify packages.",
    ),
    "scan": _at(
        "scan",
        "scan",
        "Scan pickle-family model files (pickle, joblib, PyTorch, NumPy; any archive) without running them.",
    ),
    "deploy": _at(
        "deploy", "app", "Deployments: canary rollouts with release gates, shadows, overrides and history."
    ),
    "eval": _at("eval", "app", "Inspect model evaluations: sliced metrics, thresholds and blessing."),
    "pipeline": _at("pipeline", "app", "Run pipelines and inspect pipeline runs."),
    "data": _at("data", "app", "Data validation: statistics, schema, anomalies, drift / skew, reports."),
    "users": _at(
        "users",
        "app",
        "Users of a loopml server (roles: admin, maintainer, editor, viewer) and their grants.",
    ),
    "tokens": _at(
        "tokens", "app", "API tokens for a loopml server (stored hashed; the secret is shown once)."
    ),
    "audit": _at("audit", "app", "The audit log of a loopml server."),
    "server": _at("server", "app", "Serve the platform REST API."),
    "import": _at("import_mlflow", "app", "Import history from MLflow: `loopml import mlflow --from URL`."),
    "predict": _at(
        "predict",
        "predict",
        "Score a table with a verified model; bad rows go to OUTPUT/_rejected with their reasons.",
    ),
    "feedback": _at(
        "feedback",
        "app",
        "Ground-truth labels for logged predictions (joined by request id or a key feature).",
    ),
    "monitor": _at(
        "monitor",
        "app",
        "Monitoring windows of the prediction log: drift, skew, performance, labels; status and report.",
    ),
    "serve": _at(
        "serve",
        "serve",
        "Serve models over the Open Inference Protocol (/v2), TF Serving (/v1) and MLflow (/invocations).",
    ),
}
