"""MLflow 3 logged models through the official client: params are immutable, as in MLflow."""

from __future__ import annotations

import pytest

from tests.server.mlflow.conftest import MlflowRunner

pytestmark = pytest.mark.slow

PARAMS = r"""
import json, mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient()
out = {}
mlflow.set_experiment("logged-model-params")
with mlflow.start_run():
    mid = mlflow.create_external_model(name="m", params={"a": "1"}).model_id
    def attempt(name, params):
        try:
            mlflow.log_model_params(params, model_id=mid)
            out[name] = None
        except MlflowException as err:
            out[name] = [err.error_code, err.get_http_status_code(), err.message[:300]]
    attempt("new_key", {"b": "2"})
    attempt("same_value", {"a": "1", "b": "2"})
    attempt("changed", {"a": "2"})
    attempt("batch_with_a_change", {"c": "3", "b": "9"})
    out["params"] = client.get_logged_model(mid).params
    out["searched"] = mlflow.search_logged_models(output_format="list")[0].params
try:
    client.log_model_params("m-" + "0" * 32, {"a": "1"})
except MlflowException as err:
    out["unknown_model"] = [err.error_code, err.get_http_status_code(), err.message[:200]]
print(json.dumps(out))
"""


def test_logged_model_params_are_immutable(mlflow: MlflowRunner) -> None:
    # MLflow 3.1.4's own server refuses any key logged again, even with its value (BAD_REQUEST,
    # from a unique constraint); loopml accepts the same value again, as for run params.
    out = mlflow(PARAMS)
    assert out["new_key"] is None and out["same_value"] is None
    for refused in ("changed", "batch_with_a_change"):
        assert out[refused][:2] == ["RESOURCE_ALREADY_EXISTS", 400], out[refused]
        assert "cannot change" in out[refused][2]
    assert "'a' is '1', not '2'" in out["changed"][2]
    assert out["params"] == out["searched"] == {"a": "1", "b": "2"}  # nothing of the refused batch
    # the client looks the model up first and reports the server's 404 its own way
    assert out["unknown_model"][:2] == ["INVALID_PARAMETER_VALUE", 400]
    assert "Failed to get logged model" in out["unknown_model"][2]


TAGS = r"""
import json, mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient()
out = {}
def own(tags):  # the client adds its system tags (mlflow.*) at creation
    return {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
mlflow.set_experiment("logged-model-tags")
with mlflow.start_run():
    mid = mlflow.create_external_model(name="m", tags={"made": "at-creation"}).model_id
mlflow.set_logged_model_tags(mid, {"stage": "dev", "team/owner": "ana"})
out["set"] = own(client.get_logged_model(mid).tags)
mlflow.set_logged_model_tags(mid, {"stage": "prod"})
out["overwritten"] = own(client.get_logged_model(mid).tags)
mlflow.delete_logged_model_tag(mid, "made")
mlflow.delete_logged_model_tag(mid, "team/owner")
out["deleted"] = own(client.get_logged_model(mid).tags)
out["searched"] = own(mlflow.search_logged_models(output_format="list")[0].tags)
try:
    mlflow.delete_logged_model_tag(mid, "made")
except MlflowException as err:
    out["delete_missing"] = [err.error_code, err.get_http_status_code(), err.message[:300]]
try:
    mlflow.set_logged_model_tags("m-" + "0" * 32, {"a": "1"})
except MlflowException as err:
    out["unknown_model"] = [err.error_code, err.get_http_status_code(), err.message[:300]]
print(json.dumps(out))
"""


def test_logged_model_tags_are_set_overwritten_and_deleted(mlflow: MlflowRunner) -> None:
    out = mlflow(TAGS)
    assert out["set"] == {"made": "at-creation", "stage": "dev", "team/owner": "ana"}
    assert out["overwritten"] == {"made": "at-creation", "stage": "prod", "team/owner": "ana"}
    assert out["deleted"] == out["searched"] == {"stage": "prod"}
    assert out["delete_missing"][:2] == ["RESOURCE_DOES_NOT_EXIST", 404], out["delete_missing"]
    assert "has no tag 'made'" in out["delete_missing"][2]
    # the client looks the model up first and reports the server's 404 its own way
    assert out["unknown_model"][:2] == ["INVALID_PARAMETER_VALUE", 400], out["unknown_model"]
    assert "Failed to get logged model" in out["unknown_model"][2]
