"""``import_registered_models`` copies a real MLflow server's registered models, versions and aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.registry.mlflow_import import SOURCE_VERSION_TAG, import_registered_models
from loopml.services import Services
from loopml.tracking.mlflow_import import SOURCE_RUN_TAG, MlflowSource, import_mlflow
from tests.server.mlflow.conftest import mlflow_interpreter, mlflow_server_running, run_mlflow

pytestmark = pytest.mark.slow

LOG = r"""
import json, mlflow, numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8], [0.9, 0.1]]); y = np.array([0, 1, 0, 1])
mlflow.set_experiment("models")
runs = []
for c in (1.0, 0.5):
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LogisticRegression(C=c).fit(X, y), name="model")
        runs.append(run.info.run_id)
client = MlflowClient()
client.create_registered_model("churn", tags={"team": "growth"}, description="churn model")
for rid in runs:
    mlflow.register_model(f"runs:/{rid}/model", "churn", tags={"from": rid})
client.set_registered_model_alias("churn", "staging", "2")
client.set_registered_model_alias("churn", "champion", "1")
print(json.dumps(runs))
"""


def test_models_versions_and_aliases_are_copied_once(tmp_path: Path) -> None:
    python = mlflow_interpreter()
    services = Services(Settings(home=tmp_path / "loopml"))
    registry = services.registry
    with mlflow_server_running(python, tmp_path / "mlflow") as url:
        runs = run_mlflow(python, LOG, uri=url)
        source = MlflowSource(url)
        try:
            import_mlflow(source, services.store, services.blobs)
            first = import_registered_models(source, registry)
            again = import_registered_models(source, registry)
        finally:
            source.close()
    assert (first.models, first.versions, first.skipped_versions, first.aliases) == (1, 2, 0, 1)
    assert (again.versions, again.skipped_versions, again.aliases) == (0, 2, 0)
    # an unsigned, unblessed MLflow model cannot take a production alias: reported, not forced
    assert any("champion" in w for w in first.warnings)
    model = registry.get_model("churn")
    assert model.description == "churn model" and model.tags == {"team": "growth"}
    assert dict(model.aliases) == {"staging": 2}
    versions = registry.versions("churn")
    assert [v.tags[SOURCE_VERSION_TAG] for v in versions] == ["1", "2"]
    assert all(v.flavor == "mlflow" and v.scan_verdict == "safe" and not v.is_signed for v in versions)
    linked = [services.store.runs.get(v.run_id or "").tags[SOURCE_RUN_TAG] for v in versions]
    assert linked == runs and [v.tags["from"] for v in versions] == runs
    files = services.store.artifacts.get(versions[0].artifact_id or "").properties["files"]
    assert files >= 4  # MLmodel, model.pkl and the environment files
