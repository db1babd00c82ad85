"""MLflow clients authenticate with a bearer token or HTTP Basic (user + token), under loopml's grants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.security.auth import AuthService, Resource, ResourceKind, Role
from loopml.server.background import serve_in_thread
from loopml.store.sql import open_store
from tests.server.mlflow.conftest import run_mlflow

pytestmark = pytest.mark.slow

LOG = r"""
import json, mlflow
from mlflow.exceptions import MlflowException
try:
    mlflow.set_experiment("shared")
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
    print(json.dumps({"ok": mlflow.get_run(run.info.run_id).data.metrics}))
except MlflowException as err:
    print(json.dumps({"error": [err.error_code, err.get_http_status_code(), err.message[:300]]}))
"""

READ = r"""
import json
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
try:
    print(json.dumps({"ok": MlflowClient().get_run("%s").info.run_name}))
except MlflowException as err:
    print(json.dumps({"error": [err.error_code, err.get_http_status_code(), err.message[:300]]}))
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("mlflow-auth")
    store = open_store(Settings(home=home).resolved_store_url())
    auth = AuthService(store)
    tokens = {}
    for name, role in (("ed", Role.EDITOR), ("vi", Role.VIEWER), ("other", Role.EDITOR)):
        auth.create_user(name, role=role)
        tokens[name] = auth.create_token(name)[1]
    store.close()
    with serve_in_thread(Settings(home=home), auth_enabled=True) as url:
        yield url, tokens, home


def test_bearer_and_basic_log_and_viewers_are_refused(
    mlflow_python: Path, secured: tuple[str, dict[str, str], Path]
) -> None:
    url, tokens, _ = secured
    bearer = run_mlflow(mlflow_python, LOG, uri=url, env={"MLFLOW_TRACKING_TOKEN": tokens["ed"]})
    basic = run_mlflow(
        mlflow_python,
        LOG,
        uri=url,
        env={"MLFLOW_TRACKING_USERNAME": "ed", "MLFLOW_TRACKING_PASSWORD": tokens["ed"]},
    )
    assert bearer == basic == {"ok": {"m": 1.0}}
    nobody = run_mlflow(mlflow_python, LOG, uri=url)
    assert nobody["error"][:2] == ["UNAUTHENTICATED", 401] and "token" in nobody["error"][2]
    wrong_user = run_mlflow(
        mlflow_python,
        LOG,
        uri=url,
        env={"MLFLOW_TRACKING_USERNAME": "vi", "MLFLOW_TRACKING_PASSWORD": tokens["ed"]},
    )
    assert (
        wrong_user["error"][:2] == ["UNAUTHENTICATED", 401]
        and "belongs to user 'ed'" in wrong_user["error"][2]
    )
    viewer = run_mlflow(mlflow_python, LOG, uri=url, env={"MLFLOW_TRACKING_TOKEN": tokens["vi"]})
    assert viewer["error"][:2] == ["PERMISSION_DENIED", 403]


def test_grants_restrict_runs_read_through_the_mlflow_api(
    mlflow_python: Path, secured: tuple[str, dict[str, str], Path]
) -> None:
    url, tokens, home = secured
    made = run_mlflow(
        mlflow_python,
        "import json, mlflow\nmlflow.set_experiment('private')\n"
        "with mlflow.start_run(run_name='secret') as r: pass\n"
        "print(json.dumps([r.info.run_id, r.info.experiment_id]))",
        uri=url,
        env={"MLFLOW_TRACKING_TOKEN": tokens["ed"]},
    )
    run_id, experiment_id = made
    store = open_store(Settings(home=home).resolved_store_url())
    try:
        AuthService(store).grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key=experiment_id), "write")
    finally:
        store.close()
    mine = run_mlflow(mlflow_python, READ % run_id, uri=url, env={"MLFLOW_TRACKING_TOKEN": tokens["ed"]})
    other = {"MLFLOW_TRACKING_TOKEN": tokens["other"]}
    theirs = run_mlflow(mlflow_python, READ % run_id, uri=url, env=other)
    assert mine == {"ok": "secret"}
    assert theirs["error"][:2] == ["PERMISSION_DENIED", 403]


MODEL_PARAMS = r"""
import json, mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
try:
    MlflowClient().log_model_params("%s", {"extra": "1"})
    print(json.dumps({"ok": MlflowClient().get_logged_model("%s").params}))
except MlflowException as err:
    print(json.dumps({"error": [err.error_code, err.get_http_status_code(), err.message[:300]]}))
"""


def test_logged_model_params_need_write_on_the_source_run(
    mlflow_python: Path, secured: tuple[str, dict[str, str], Path]
) -> None:
    url, tokens, _ = secured
    made = run_mlflow(
        mlflow_python,
        "import json, mlflow\nmlflow.set_experiment('models-of-ed')\n"
        "with mlflow.start_run():\n    m = mlflow.create_external_model(name='m')\n"
        "print(json.dumps(m.model_id))",
        uri=url,
        env={"MLFLOW_TRACKING_TOKEN": tokens["ed"]},
    )
    script = MODEL_PARAMS % (made, made)
    viewer = run_mlflow(mlflow_python, script, uri=url, env={"MLFLOW_TRACKING_TOKEN": tokens["vi"]})
    other = run_mlflow(mlflow_python, script, uri=url, env={"MLFLOW_TRACKING_TOKEN": tokens["other"]})
    owner = run_mlflow(mlflow_python, script, uri=url, env={"MLFLOW_TRACKING_TOKEN": tokens["ed"]})
    assert viewer["error"][:2] == other["error"][:2] == ["PERMISSION_DENIED", 403]
    assert owner == {"ok": {"extra": "1"}}


MODEL_TAGS = r"""
import json, mlflow
from mlflow.exceptions import MlflowException
out = {}
for name, call in (
    ("set", lambda: mlflow.set_logged_model_tags("%s", {"t": "1"})),
    ("delete", lambda: mlflow.delete_logged_model_tag("%s", "kept")),
):
    try:
        call()
        out[name] = None
    except MlflowException as err:
        out[name] = [err.error_code, err.get_http_status_code(), err.message[:300]]
out["tags"] = {k: v for k, v in mlflow.get_logged_model("%s").tags.items() if not k.startswith("mlflow.")}
print(json.dumps(out))
"""


def test_logged_model_tags_need_write_on_the_source_run(
    mlflow_python: Path, secured: tuple[str, dict[str, str], Path]
) -> None:
    url, tokens, home = secured
    made = run_mlflow(
        mlflow_python,
        "import json, mlflow\nmlflow.set_experiment('tagged-models-of-ed')\n"
        "with mlflow.start_run() as r:\n    m = mlflow.create_external_model(name='m', tags={'kept': 'x'})\n"
        "print(json.dumps([m.model_id, r.info.experiment_id]))",
        uri=url,
        env={"MLFLOW_TRACKING_TOKEN": tokens["ed"]},
    )
    model_id, experiment_id = made
    store = open_store(Settings(home=home).resolved_store_url())
    try:  # "other" may read the experiment, not write to it
        AuthService(store).grant("other", Resource(kind=ResourceKind.EXPERIMENT, key=experiment_id), "read")
    finally:
        store.close()
    script = MODEL_TAGS % (model_id, model_id, model_id)
    other = run_mlflow(mlflow_python, script, uri=url, env={"MLFLOW_TRACKING_TOKEN": tokens["other"]})
    for refused in ("set", "delete"):
        assert other[refused][:2] == ["PERMISSION_DENIED", 403], other[refused]
    assert other["tags"] == {"kept": "x"}  # nothing changed
    owner = run_mlflow(mlflow_python, script, uri=url, env={"MLFLOW_TRACKING_TOKEN": tokens["ed"]})
    assert owner == {"set": None, "delete": None, "tags": {"t": "1"}}
