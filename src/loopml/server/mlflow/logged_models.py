"""MLflow 3 logged models (``/logged-models/*``, ``/runs/outputs``) over loopml run files.

A logged model is recorded as a reference artifact of its source run (type ``LoggedModel``);
its files are the run's artifacts under ``<name>/``, uploaded through the artifact proxy like
any run file (content-addressed, scanned, verdict recorded). Its status is derived from those
files: ``LOGGED_MODEL_READY`` once the ``MLmodel`` file is there, ``LOGGED_MODEL_PENDING`` before.

Params are immutable, as in MLflow: those given at creation live on the record, each later
``log-params`` call that adds keys is one more reference artifact (type ``LoggedModelParams``,
named by the model id, versioned). Logging a key again with its value is accepted; with another
value it is refused (``Conflict``), the whole call with it.

Tags change, as in MLflow: those given at creation live on the record, each later ``PATCH .../tags``
or ``DELETE .../tags/{key}`` call is one more reference artifact (type ``LoggedModelTags``, named by
the model id, versioned) holding the keys it set or the key it deleted; replayed in version order
they give the current tags.

Deleting a logged model records one more reference artifact (type ``LoggedModelDeletion``, named
by the model id): the model is gone from get, search and registration, as in MLflow, while its
files stay with the run that logged them (run artifacts are immutable).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.server._deps import StoreDep
from loopml.server._paths import normalise_artifact_path
from loopml.server._visibility import visibility_of
from loopml.server.mlflow.errors import MlflowRoute
from loopml.server.mlflow.listing import folder_of, listing
from loopml.server.mlflow.paging import offset_of, token_of
from loopml.server.mlflow.wire import Body, KeyValue, key_values, run_artifact_uri
from loopml.store.entities import Artifact, Run, every_item
from loopml.store.repositories import Store
from loopml.store.validation import check_param_value, check_record_key, check_tag_value

__all__ = [
    "LOGGED_MODEL_DELETION_TYPE",
    "LOGGED_MODEL_PARAMS_TYPE",
    "LOGGED_MODEL_TAGS_TYPE",
    "LOGGED_MODEL_TYPE",
    "MLMODEL_FILE",
    "router",
]

router = APIRouter(prefix="/api/2.0/mlflow", tags=["mlflow"], route_class=MlflowRoute)

#: Artifact type recording an MLflow logged model of a run.
LOGGED_MODEL_TYPE = "LoggedModel"
#: Artifact type recording params logged to a logged model after its creation (one per call).
LOGGED_MODEL_PARAMS_TYPE = "LoggedModelParams"
#: Artifact type recording a change of a logged model's tags (one per call).
LOGGED_MODEL_TAGS_TYPE = "LoggedModelTags"
#: Artifact type recording that a logged model was deleted.
LOGGED_MODEL_DELETION_TYPE = "LoggedModelDeletion"
#: MLflow's batch size for logged-model params.
MAX_PARAMS_PER_CALL = 100
#: The file that makes a folder an MLflow model.
MLMODEL_FILE = "MLmodel"
_ID_PREFIX = "m-"
_CLAUSE = re.compile(r"\s*(name|source_run_id|model_id)\s*=\s*'([^']*)'\s*", re.IGNORECASE)
Empty = dict[str, Any]


def model_id_of(artifact: Artifact) -> str:
    """The MLflow model id of a logged-model record (``m-`` and the artifact id)."""
    return _ID_PREFIX + artifact.artifact_id


def _missing(model_id: str) -> NotFound:
    return NotFound(f"No logged model {model_id!r}; `mlflow.search_logged_models()` lists them.")


def _record_of(store: Store, model_id: str) -> Artifact:
    """The logged-model record of ``model_id``, deleted or not."""
    if not model_id.startswith(_ID_PREFIX):
        raise _missing(model_id)
    try:
        found = store.artifacts.get(model_id.removeprefix(_ID_PREFIX))
    except NotFound as err:
        raise _missing(model_id) from err
    if found.type != LOGGED_MODEL_TYPE:
        raise _missing(model_id)
    return found


def is_deleted(store: Store, record: Artifact) -> bool:
    """Whether the logged model of ``record`` was deleted."""
    return store.artifacts.find_version(LOGGED_MODEL_DELETION_TYPE, model_id_of(record)) is not None


def find_logged_model(store: Store, model_id: str) -> Artifact:
    """The logged-model record of ``model_id``.

    Raises:
        NotFound: no logged model has that id, or it was deleted.
    """
    found = _record_of(store, model_id)
    if is_deleted(store, found):
        raise _missing(model_id)
    return found


def _run_files(store: Store, run_id: str, prefix: str) -> list[Artifact]:
    return [
        a
        for a in every_item(lambda token: store.artifacts.list(run_id=run_id, page_token=token))
        if not a.is_reference and a.name.startswith(prefix)
    ]


def model_params(store: Store, record: Artifact) -> dict[str, str]:
    """The params of a logged model: those of its creation, then those logged later, in version order.

    Where two calls raced to add one key, the earlier version holds it (the later call was refused).
    """
    params = dict(record.properties.get("params", {}))
    later = every_item(
        lambda token: store.artifacts.list(
            type=LOGGED_MODEL_PARAMS_TYPE, name=model_id_of(record), page_token=token
        )
    )
    for added in sorted(later, key=lambda a: a.version or 0):
        for key, value in added.properties.get("params", {}).items():
            params.setdefault(key, value)
    return params


def _tag_changes(store: Store, record: Artifact) -> list[Artifact]:
    changes = every_item(
        lambda token: store.artifacts.list(
            type=LOGGED_MODEL_TAGS_TYPE, name=model_id_of(record), page_token=token
        )
    )
    return sorted(changes, key=lambda a: a.version or 0)


def model_tags(store: Store, record: Artifact, changes: list[Artifact] | None = None) -> dict[str, str]:
    """The tags of a logged model: those of its creation, with the later sets and deletes applied in order."""
    tags = dict(record.properties.get("tags", {}))
    for change in _tag_changes(store, record) if changes is None else changes:
        tags.update(change.properties.get("set", {}))
        if change.properties.get("deleted") is not None:
            tags.pop(change.properties["deleted"], None)
    return tags


def _record_change(
    store: Store, record: Artifact, kind: str, properties: dict[str, Any], *, versioned: bool = True
) -> None:
    """Store one change of a logged model (tags, params, deletion) as a reference record of ``kind``."""
    store.artifacts.create(
        type=kind,
        name=model_id_of(record),
        uri=record.uri,
        sha256=None,
        size=None,
        is_reference=True,
        run_id=record.run_id,
        properties=properties,
        versioned=versioned,
    )


def _check_unchanged(model_id: str, current: dict[str, str], wanted: dict[str, str]) -> None:
    changed = {k: v for k, v in wanted.items() if k in current and current[k] != v}
    if changed:
        shown = ", ".join(f"{k!r} is {current[k]!r:.60}, not {v!r:.60}" for k, v in list(changed.items())[:5])
        raise Conflict(
            f"Params of logged model {model_id} cannot change: {shown}. Nothing was logged; "
            "log a new model (or use a new param key) for other values."
        )


def logged_model_json(store: Store, record: Artifact) -> Empty:
    """A logged-model record as MLflow's ``LoggedModel`` message."""
    props, changes = record.properties, _tag_changes(store, record)
    ready = any(a.name == f"{record.name}/{MLMODEL_FILE}" for a in _run_files(store, record.run_id or "", ""))
    info: Empty = {
        "model_id": model_id_of(record),
        "experiment_id": props.get("experiment_id", ""),
        "name": record.name,
        "creation_timestamp_ms": record.created_at,
        "last_updated_timestamp_ms": max([record.created_at, *(c.created_at for c in changes)]),
        "artifact_uri": record.uri,
        "status": "LOGGED_MODEL_READY" if ready else "LOGGED_MODEL_PENDING",
        "source_run_id": record.run_id or "",
        "tags": key_values(model_tags(store, record, changes)),
    }
    if props.get("model_type"):
        info["model_type"] = props["model_type"]
    return {"info": info, "data": {"params": key_values(model_params(store, record)), "metrics": []}}


class CreateLoggedModel(Body):
    experiment_id: str
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: list[KeyValue] = []
    tags: list[KeyValue] = []


class LogModelParams(Body):
    model_id: str | None = None
    params: list[KeyValue] = []


class SetLoggedModelTags(Body):
    model_id: str | None = None
    tags: list[KeyValue] = []


class FinalizeLoggedModel(Body):
    status: str | None = None


class SearchLoggedModels(Body):
    experiment_ids: list[str] = []
    filter: str | None = None
    max_results: int = 100
    page_token: str | None = None


class ModelOutput(Body):
    model_id: str
    step: int = 0


class LogOutputs(Body):
    run_id: str
    models: list[ModelOutput] = []


def _source_run(store: Store, body: CreateLoggedModel) -> Run:
    if not body.source_run_id:
        raise InvalidInput(
            "loopml keeps a logged model's files with the run that logs it: log the model inside a "
            "run (`with mlflow.start_run():`) or pass source_run_id."
        )
    run = store.runs.get(body.source_run_id)
    if run.experiment_id != body.experiment_id:
        raise InvalidInput(
            f"Run {run.run_id} is in experiment {run.experiment_id}, not {body.experiment_id}; "
            "log the model to the run's experiment."
        )
    return run


@router.post("/logged-models")
def create_logged_model(body: CreateLoggedModel, store: StoreDep) -> Empty:
    run = _source_run(store, body)
    name = normalise_artifact_path(body.name or "model")
    if any(True for _ in _run_files(store, run.run_id, f"{name}/")) or any(
        a.run_id == run.run_id
        for a in every_item(
            lambda token: store.artifacts.list(type=LOGGED_MODEL_TYPE, name=name, page_token=token)
        )
    ):
        raise Conflict(
            f"Run {run.run_id} already has a model or files named {name!r}; log it under another name."
        )
    record = store.artifacts.create(
        type=LOGGED_MODEL_TYPE,
        name=name,
        uri=f"{run_artifact_uri(run.experiment_id, run.run_id)}/{name}",
        sha256=None,
        size=None,
        is_reference=True,
        run_id=run.run_id,
        properties={
            "experiment_id": run.experiment_id,
            "model_type": body.model_type,
            "params": {p.key: p.value or "" for p in body.params},
            "tags": {t.key: t.value or "" for t in body.tags},
        },
    )
    return {"model": logged_model_json(store, record)}


def _visible(request: Request, store: Store, model_id: str) -> Artifact:
    record = find_logged_model(store, model_id)
    if not visibility_of(request).shows_run(record.run_id or ""):
        raise _missing(model_id)
    return record


@router.get("/logged-models/{model_id}")
def get_logged_model(model_id: str, request: Request, store: StoreDep) -> Empty:
    return {"model": logged_model_json(store, _visible(request, store, model_id))}


@router.delete("/logged-models/{model_id}")
def delete_logged_model(model_id: str, request: Request, store: StoreDep) -> Empty:
    """Delete a logged model (its files stay with its run); deleting it again is a no-op, as in MLflow."""
    record = _record_of(store, model_id)
    if not visibility_of(request).shows_run(record.run_id or ""):
        raise _missing(model_id)
    if not is_deleted(store, record):
        _record_change(store, record, LOGGED_MODEL_DELETION_TYPE, {}, versioned=False)
    return {}


@router.get("/logged-models/{model_id}/artifacts/directories")
def list_logged_model_artifacts(
    model_id: str,
    request: Request,
    store: StoreDep,
    artifact_directory_path: Annotated[str | None, Query(max_length=1_000)] = None,
) -> Empty:
    """The files and folders one level under a folder of a logged model (paths relative to the model)."""
    record = _visible(request, store, model_id)
    root = f"{record.name}/"
    files = [(a.name[len(root) :], a.size or 0) for a in _run_files(store, record.run_id or "", root)]
    return {"root_uri": record.uri, "files": listing(files, folder_of(artifact_directory_path))}


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(
    model_id: str, body: FinalizeLoggedModel, request: Request, store: StoreDep
) -> Empty:
    """The status follows the files (READY once ``MLmodel`` is uploaded); the call reports it."""
    return {"model": logged_model_json(store, _visible(request, store, model_id))}


@router.post("/logged-models/{model_id}/params")
def log_logged_model_params(model_id: str, body: LogModelParams, request: Request, store: StoreDep) -> Empty:
    """Add params to a logged model; a key logged again must keep its value (checked again after writing)."""
    record = _visible(request, store, model_id)
    if len(body.params) > MAX_PARAMS_PER_CALL:
        raise InvalidInput(f"A call may log at most {MAX_PARAMS_PER_CALL} params; got {len(body.params)}.")
    wanted: dict[str, str] = {}
    for p in body.params:
        key = check_record_key(p.key, kind="param")
        value = check_param_value(key, p.value or "")
        _check_unchanged(model_id, wanted, {key: value})  # one key twice in a call
        wanted[key] = value
    current = model_params(store, record)
    _check_unchanged(model_id, current, wanted)
    added = {k: v for k, v in wanted.items() if k not in current}
    if added:
        _record_change(store, record, LOGGED_MODEL_PARAMS_TYPE, {"params": added})
        _check_unchanged(model_id, model_params(store, record), wanted)  # a concurrent call won the key
    return {}


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(
    model_id: str, body: SetLoggedModelTags, request: Request, store: StoreDep
) -> Empty:
    """Set (add or overwrite) tags of a logged model, all of them in one change."""
    record = _visible(request, store, model_id)
    wanted: dict[str, str] = {}
    for t in body.tags:
        key = check_record_key(t.key, kind="tag")
        wanted[key] = check_tag_value(key, t.value or "")
    if wanted:
        _record_change(store, record, LOGGED_MODEL_TAGS_TYPE, {"set": wanted})
    return {}


@router.delete("/logged-models/{model_id}/tags/{tag_key:path}")
def delete_logged_model_tag(model_id: str, tag_key: str, request: Request, store: StoreDep) -> Empty:
    """Delete one tag of a logged model; an absent key is ``RESOURCE_DOES_NOT_EXIST``, as in MLflow."""
    record = _visible(request, store, model_id)
    if tag_key not in model_tags(store, record):
        raise NotFound(
            f"Logged model {model_id} has no tag {tag_key!r}; "
            "`mlflow.get_logged_model(...).tags` lists its tags."
        )
    _record_change(store, record, LOGGED_MODEL_TAGS_TYPE, {"deleted": tag_key})
    return {}


def _filter(text: str | None) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for clause in re.split(r"\s+AND\s+", text or "", flags=re.IGNORECASE) if (text or "").strip() else []:
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            raise InvalidInput(
                f"Unsupported logged-model filter {clause!r}; use name = '...', source_run_id = '...' "
                "or model_id = '...' joined with AND."
            )
        wanted[match.group(1).lower()] = match.group(2)
    return wanted


@router.post("/logged-models/search")
def search_logged_models(body: SearchLoggedModels, request: Request, store: StoreDep) -> Empty:
    if not 1 <= body.max_results <= 1000:
        raise InvalidInput(f"max_results must be in 1..1000; got {body.max_results}.")
    wanted, experiments = _filter(body.filter), set(body.experiment_ids)
    visible = visibility_of(request)
    found = [
        r
        for r in every_item(
            lambda token: store.artifacts.list(
                type=LOGGED_MODEL_TYPE, name=wanted.get("name"), page_token=token
            )
        )
        if r.properties.get("experiment_id") in experiments
        and wanted.get("source_run_id", r.run_id) == r.run_id
        and wanted.get("model_id", model_id_of(r)) == model_id_of(r)
        and visible.shows_run(r.run_id or "")
        and not is_deleted(store, r)
    ]
    start = offset_of(body.page_token)
    out: Empty = {"models": [logged_model_json(store, r) for r in found[start : start + body.max_results]]}
    if start + body.max_results < len(found):
        out["next_page_token"] = token_of(start + body.max_results)
    return out


@router.post("/runs/outputs")
def log_outputs(body: LogOutputs, request: Request, store: StoreDep) -> Empty:
    """A run's model outputs are the logged models it is the source of; others are refused."""
    for output in body.models:
        if _visible(request, store, output.model_id).run_id != body.run_id:
            raise InvalidInput(
                f"Logged model {output.model_id} was not logged by run {body.run_id}; loopml records "
                "a model as an output of its source run only."
            )
    return {}
