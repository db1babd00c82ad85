"""The official MLflow client's legacy stage transitions against ``loopml server``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.config import Settings
from loopml.security.auth import AuthService, Role
from loopml.server.background import serve_in_thread
from loopml.server.mlflow.stages import STAGE_TAG
from loopml.store.sql import open_store
from tests.server.mlflow.conftest import MlflowRunner, run_mlflow

pytestmark = pytest.mark.slow

REGISTER = r"""
import json, mlflow, numpy as np
from sklearn.linear_model import LogisticRegression
X = np.array([[0.0, 1.0], [1.0, 0.0]]); y = np.array([0, 1])
mlflow.set_experiment("stages-%s")
with mlflow.start_run() as run:
    mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model")
print(json.dumps([mlflow.register_model(f"runs:/{run.info.run_id}/model", "%s").version for _ in range(%d)]))
"""

CALL = r"""
import json
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient()
def call(f):
    try:
        return f()
    except MlflowException as err:
        return [err.error_code, err.get_http_status_code(), err.message[:400]]
"""

FLOW = (
    CALL
    + r"""
moved = client.transition_model_version_stage("stages", "1", "staging")
client.transition_model_version_stage("stages", "2", "Staging")
swapped = client.transition_model_version_stage("stages", "3", "STAGING", archive_existing_versions=True)
client.set_model_version_tag("stages", "3", "team", "growth")
def shown(v):
    return [v.version, v.current_stage]
print(json.dumps({
    "moved": shown(moved),
    "swapped": shown(swapped),
    "got": [shown(client.get_model_version("stages", n)) for n in ("1", "2", "3")],
    "latest_staging": [shown(v) for v in client.get_latest_versions("stages", ["Staging"])],
    "latest_all": sorted(shown(v) for v in client.get_latest_versions("stages")),
    "searched": sorted(shown(v) for v in client.search_model_versions("name = 'stages'")),
    "tags": client.get_model_version("stages", "3").tags,
    "bad_stage": call(lambda: client.transition_model_version_stage("stages", "1", "Shipping")),
    "unknown": call(lambda: client.transition_model_version_stage("stages", "99", "Staging")),
    "production": call(lambda: client.transition_model_version_stage("stages", "1", "Production")),
    "stage_tag": call(lambda: client.set_model_version_tag("stages", "1", STAGE_TAG, "Production")),
    "after": shown(client.get_model_version("stages", "1")),
    "by_stage": call(lambda: client.search_model_versions("current_stage = 'Staging'")),
    "by_stage_tag": call(lambda: [shown(v) for v in client.search_model_versions(
        "name = 'stages' AND tags.`STAGE_TAG` = 'Staging'")]),
}))
""".replace("`STAGE_TAG`", f"`{STAGE_TAG}`").replace("STAGE_TAG", repr(STAGE_TAG))
)


def test_transitions_archive_existing_and_show_the_stage_everywhere(
    mlflow: MlflowRunner, loopml_url: str
) -> None:
    assert mlflow(REGISTER % ("stages", "stages", 3)) in (["1", "2", "3"], [1, 2, 3])
    out = mlflow(FLOW)
    assert out["moved"] == ["1", "Staging"] and out["swapped"] == ["3", "Staging"]
    # archive_existing_versions moved the other Staging versions to Archived
    assert out["got"] == [["1", "Archived"], ["2", "Archived"], ["3", "Staging"]]
    assert out["latest_staging"] == [["3", "Staging"]]
    assert out["latest_all"] == [["2", "Archived"], ["3", "Staging"]]
    assert out["searched"] == [["1", "Archived"], ["2", "Archived"], ["3", "Staging"]]
    assert out["tags"] == {"team": "growth"}  # the stage is current_stage, not a tag
    assert out["bad_stage"][:2] == ["INVALID_PARAMETER_VALUE", 400]
    assert "Shipping" in out["bad_stage"][2] and "None, Staging, Production, Archived" in out["bad_stage"][2]
    assert out["unknown"][:2] == ["RESOURCE_DOES_NOT_EXIST", 404]
    # Production passes the promotion policy of the `production` alias: unsigned MLflow models do not
    assert out["production"][:2] == ["PERMISSION_DENIED", 403]
    assert "production" in out["production"][2].lower()
    assert out["stage_tag"][:2] == ["INVALID_PARAMETER_VALUE", 400]
    assert out["after"] == ["1", "Archived"]  # neither refusal changed the stage
    # MLflow 3.1.4's SQL store refuses a stage filter: "Invalid attribute key 'current_stage' specified"
    assert out["by_stage"][:2] == ["INVALID_PARAMETER_VALUE", 400]
    assert "Invalid attribute key 'current_stage'" in out["by_stage"][2]
    assert "get_latest_versions" in out["by_stage"][2]
    assert out["by_stage_tag"] == []  # the stage is kept as a tag, but is none of the version's tags
    native = httpx.get(f"{loopml_url}/api/v1/models/stages/versions/3").json()
    assert native["tags"][STAGE_TAG] == "Staging" and native["status"] != "archived"


TRANSITION = (
    CALL
    + r"""
moved = call(lambda: client.transition_model_version_stage("guarded", "1", "%s").current_stage)
print(json.dumps({"to": moved}))
"""
)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    home = tmp_path_factory.mktemp("mlflow-stages-auth")
    store = open_store(Settings(home=home).resolved_store_url())
    auth = AuthService(store)
    tokens = {}
    for name, role in (("ed", Role.EDITOR), ("vi", Role.VIEWER)):
        auth.create_user(name, role=role)
        tokens[name] = auth.create_token(name)[1]
    store.close()
    with serve_in_thread(Settings(home=home), auth_enabled=True) as url:
        yield url, tokens


def test_viewers_cannot_transition_and_production_needs_the_production_alias_permission(
    mlflow_python: Path, secured: tuple[str, dict[str, str]]
) -> None:
    url, tokens = secured
    editor, viewer = ({"MLFLOW_TRACKING_TOKEN": tokens[n]} for n in ("ed", "vi"))
    run_mlflow(mlflow_python, REGISTER % ("guarded", "guarded", 1), uri=url, env=editor)
    refused = run_mlflow(mlflow_python, TRANSITION % "Staging", uri=url, env=viewer)
    assert refused["to"][:2] == ["PERMISSION_DENIED", 403]
    # an editor may stage, not move to Production: that is `aliases.production`, as for a production alias
    staged = run_mlflow(mlflow_python, TRANSITION % "Staging", uri=url, env=editor)
    assert staged["to"] == "Staging"
    production = run_mlflow(mlflow_python, TRANSITION % "production", uri=url, env=editor)
    assert production["to"][:2] == ["PERMISSION_DENIED", 403]
    assert "aliases.production" in production["to"][2]
