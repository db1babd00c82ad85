"""The official MLflow client's model registry against ``loopml server``: log, register, alias, load."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from loopml.cli.app import main
from loopml.config import Settings
from loopml.errors import UnsafeArtifact
from loopml.inference.loading import ModelSource, load_served_model
from loopml.services import Services
from loopml.store.entities import every_item
from tests.server.mlflow.conftest import MlflowRunner

pytestmark = pytest.mark.slow

FLOW = r"""
import json, mlflow, numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8], [0.9, 0.1]]); y = np.array([0, 1, 0, 1])
mlflow.set_experiment("registry-flow")
with mlflow.start_run() as run:
    mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model")
mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", "churn", tags={"team": "growth"})
mv2 = mlflow.register_model(f"runs:/{run.info.run_id}/model", "churn")
client = MlflowClient()
client.set_registered_model_alias("churn", "staging", mv.version)
client.update_registered_model("churn", description="churn model")
client.set_registered_model_tag("churn", "owner", "ml")
client.update_model_version("churn", mv.version, description="first")
client.set_model_version_tag("churn", mv.version, "validated", "yes")
got = client.get_model_version_by_alias("churn", "staging")
model = client.get_registered_model("churn")
def code(call):
    try:
        call()
    except MlflowException as err:
        return err.error_code
champion = code(lambda: client.set_registered_model_alias("churn", "champion", mv.version))
missing = code(lambda: client.get_model_version("churn", "99"))
no_alias = code(lambda: client.get_model_version_by_alias("churn", "nope"))
loaded = mlflow.pyfunc.load_model("models:/churn@staging")
by_version = mlflow.pyfunc.load_model(f"models:/churn/{mv2.version}")
versions = client.search_model_versions("name = 'churn'")
by_run = client.search_model_versions(f"run_id = '{run.info.run_id}'")
client.delete_registered_model_alias("churn", "staging")
client.delete_model_version("churn", mv2.version)
print(json.dumps({
    "run_id": run.info.run_id,
    "versions": [mv.version, mv2.version],
    "alias_version": got.version,
    "alias_tags": got.tags,
    "alias_description": got.description,
    "model": [model.name, model.description, model.tags, model.aliases],
    "found": [m.name for m in client.search_registered_models(filter_string="name LIKE 'chu%'")],
    "searched": sorted(v.version for v in versions),
    "by_run": len(by_run),
    "predicted": loaded.predict(X).tolist(),
    "predicted_by_version": by_version.predict(X).tolist(),
    "champion": champion, "missing": missing, "no_alias": no_alias,
    "after": [client.get_registered_model("churn").aliases,
              client.get_model_version("churn", mv2.version).current_stage],
}))
"""


def test_log_register_alias_and_load_by_alias(mlflow: MlflowRunner, loopml_url: str) -> None:
    out = mlflow(FLOW)
    assert out["versions"] == ["1", "2"] or out["versions"] == [1, 2]
    assert str(out["alias_version"]) == "1"
    assert out["alias_tags"] == {"team": "growth", "validated": "yes"} and out["alias_description"] == "first"
    assert out["model"] == ["churn", "churn model", {"owner": "ml"}, {"staging": "1"}]
    assert out["found"] == ["churn"] and out["searched"] == ["1", "2"] and out["by_run"] == 2
    assert out["predicted"] == [0, 1, 0, 1] and out["predicted_by_version"] == [0, 1, 0, 1]
    # unsigned MLflow models cannot take a production alias under the default promotion policy
    assert out["champion"] == "PERMISSION_DENIED"
    assert out["missing"] == "RESOURCE_DOES_NOT_EXIST" and out["no_alias"] == "RESOURCE_DOES_NOT_EXIST"
    assert out["after"] == [{}, "Archived"]
    # loopml's own registry sees the same versions, with the scanner's verdict recorded
    native = httpx.get(f"{loopml_url}/api/v1/models/churn/versions/1").json()
    assert native["flavor"] == "mlflow" and native["scan_verdict"] == "safe"
    assert native["run_id"] == out["run_id"]


PICKLED = r"""
import json, mlflow, numpy as np
from sklearn.linear_model import LogisticRegression
X = np.array([[0.0, 1.0], [1.0, 0.0]]); y = np.array([0, 1])
with mlflow.start_run() as run:
    mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model")
print(json.dumps(mlflow.register_model(f"runs:/{run.info.run_id}/model", "churn-pickle").version))
"""


def test_loopml_loader_refuses_an_mlflow_registered_model_saying_what_to_do(
    mlflow: MlflowRunner, loopml_server: tuple[str, Settings]
) -> None:
    mlflow(PICKLED)
    with Services(loopml_server[1]) as services:
        registry = services.registry
        for load in (
            lambda: registry.load("models:/churn-pickle/1"),
            lambda: load_served_model(ModelSource(uri="models:/churn-pickle/1"), registry=registry),
        ):
            with pytest.raises(UnsafeArtifact) as info:
                load()
            message = str(info.value)
            assert (
                "MLflow model" in message and "never unpickles" in message and "Nothing was loaded" in message
            )
            assert "mlflow.pyfunc.load_model('models:/churn-pickle/1')" in message
            assert "loopml models register DIR --name churn-pickle" in message


DOWNLOADABLE = PICKLED.replace('"churn-pickle"', '"churn-download"')


def test_loopml_models_download_writes_an_mlflow_registered_model_verified(
    mlflow: MlflowRunner,
    loopml_server: tuple[str, Settings],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mlflow(DOWNLOADABLE)
    settings = loopml_server[1]
    if settings.store_url:
        monkeypatch.setenv("LOOPML_STORE_URL", settings.store_url)
    with Services(settings) as services:
        version = services.registry.resolve("models:/churn-download/1")
        uploaded = every_item(
            lambda token: services.store.artifacts.list(run_id=version.run_id, page_token=token)
        )
    # what the server recorded of each file the client uploaded (hashed as it arrived)
    recorded = {a.name.removeprefix("model/"): a.sha256 for a in uploaded if a.name.startswith("model/")}

    def download(dest: Path) -> tuple[int, str]:
        capsys.readouterr()
        try:
            main(
                [
                    "--home",
                    str(settings.home),
                    "models",
                    "download",
                    "models:/churn-download/1",
                    "-o",
                    str(dest),
                ]
            )
            code = 0
        except SystemExit as ex:
            code = ex.code if isinstance(ex.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, said = download(tmp_path / "out")
    assert code == 0, said
    assert "Downloaded models:/churn-download/1" in said and "MLflow model" in said
    files = {
        p.relative_to(tmp_path / "out").as_posix(): p for p in (tmp_path / "out").rglob("*") if p.is_file()
    }
    assert "MLmodel" in files and "model.pkl" in files
    assert {rel: hashlib.sha256(p.read_bytes()).hexdigest() for rel, p in files.items()} == {
        rel: sha for rel, sha in recorded.items()
    }
