"""``runs/log-model``: the MLmodel metadata each ``mlflow.<flavor>.log_model`` records on its run.

As MLflow does, the models are kept as a JSON list in the run tag :data:`HISTORY_TAG`, one entry
appended per call, so ``mlflow.get_run(id).data.tags`` (and loopml's run view) lists them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from loopml.errors import InvalidInput
from loopml.server._deps import StoreDep
from loopml.server.mlflow.errors import MlflowRoute
from loopml.server.mlflow.wire import Body
from loopml.store.validation import MAX_TAG_VALUE_LENGTH

__all__ = ["HISTORY_TAG", "REQUIRED_FIELDS", "router"]

router = APIRouter(prefix="/api/2.0/mlflow", tags=["mlflow"], route_class=MlflowRoute)

#: Run tag holding the logged models' metadata (MLflow's name).
HISTORY_TAG = "mlflow.log-model.history"
#: Fields MLflow's server requires in ``model_json``.
REQUIRED_FIELDS = ("artifact_path", "flavors", "run_id", "utc_time_created")


class LogModel(Body):
    run_id: str
    model_json: str


def _model_of(text: str) -> dict[str, Any]:
    try:
        model = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput(f"model_json is not JSON ({err.msg} at character {err.pos}).") from err
    if not isinstance(model, dict):
        raise InvalidInput("model_json must be a JSON object: the MLmodel's fields.")
    missing = [f for f in REQUIRED_FIELDS if f not in model]
    if missing:
        raise InvalidInput(f"Model json is missing mandatory fields: {', '.join(missing)}.")
    return model


@router.post("/runs/log-model")
def log_model(body: LogModel, store: StoreDep) -> dict[str, Any]:
    model = _model_of(body.model_json)
    run = store.runs.get(body.run_id)
    try:
        history = json.loads(run.tags.get(HISTORY_TAG) or "[]")
    except json.JSONDecodeError:
        history = []  # a tag someone set by hand: start the history again
    value = json.dumps([*(history if isinstance(history, list) else []), model])
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"The run's model history would exceed {MAX_TAG_VALUE_LENGTH} characters ({len(value)}); "
            "log the model in a new run, or `MlflowClient().delete_tag(run_id, "
            f"{HISTORY_TAG!r})` first."
        )
    store.runs.log_batch(run.run_id, tags={HISTORY_TAG: value})
    return {}
