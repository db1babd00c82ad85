"""``train``: call a user training function on transformed features, track it, package model + transform."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from loopml.components._artifacts import load_transform
from loopml.components._splits import TRAIN, read_split
from loopml.components._trainers import resolve_trainer
from loopml.config import Settings
from loopml.errors import InvalidInput
from loopml.pipeline import Dataset, Model, StepContext, Transform, component, current_step, scratch_dir
from loopml.registry import package_model
from loopml.store import EventType
from loopml.tracking import Client

__all__ = ["infer_task", "train"]

_MAX_CLASSES = 50


def infer_task(y: pd.Series) -> str:
    """``binary``, ``multiclass`` or ``regression`` from the label values."""
    distinct = y.nunique(dropna=True)
    if pd.api.types.is_float_dtype(y) and distinct > _MAX_CLASSES:
        return "regression"
    if distinct <= 2:
        return "binary"
    return "multiclass" if distinct <= _MAX_CLASSES else "regression"


@contextmanager
def _training_run(
    step: StepContext, *, experiment: str, params: Mapping[str, Any], inputs: Mapping[str, str]
) -> Iterator[tuple[Client, str]]:
    """A tracking run around the fit, linked both ways to this step's execution.

    The run is open while the caller reads and fits, so its duration, CPU time and peak memory
    are the training's own; params named like seeds (``random_state``, ``seed``) become its seeds.
    """
    store = step.open_store()
    client = Client(Settings(), store=store, blobs=step.blobs)
    try:
        tags = {
            "loopml.execution_id": step.execution_id,
            "loopml.pipeline_run": step.pipeline_run,
            "loopml.step": step.step_name,
        }
        with client.start_run(experiment, run_name=f"{step.pipeline_run}.{step.step_name}", tags=tags) as run:
            client.log_params(run.run_id, {k: str(v) for k, v in params.items()})
            for role, artifact_id in inputs.items():
                client.log_input(run.run_id, artifact_id, role=role)
            yield client, run.run_id
    finally:
        client.close()


def _link_record(step: StepContext, client: Client, run_id: str, record: Mapping[str, Any]) -> None:
    """The step reads the run's record, so lineage from the model reaches the training run."""
    summary = client.log_dict(run_id, {**record, "run_id": run_id}, "training.json")
    event = (summary.artifact_id, EventType.INPUT, "training_run")
    client.store.lineage.add_events(step.execution_id, [event])


@component
def train(
    examples: Dataset,
    transform: Transform,
    *,
    trainer: str,
    model_name: str,
    hyperparams: dict[str, Any] | None = None,
    experiment: str = "",
    task: str = "auto",
) -> Model:
    """Fit ``trainer(X, y, hyperparams)`` on the transformed TRAIN split and package the result.

    ``trainer`` names a function ``fn(X, y, params) -> estimator`` as ``module:function``
    (:mod:`loopml.components.trainers` has scikit-learn ones; XGBoost / LightGBM estimators work
    the same way). Params and training metrics go to a tracking run tagged with this step's
    execution id; the run's record is an input of this step, so lineage links them.

    Args:
        examples: Split examples.
        transform: The fitted transform (packaged with the model).
        trainer: ``module:function`` of the training function.
        model_name: Name of the model (the registry name ``push`` uses).
        hyperparams: Passed to the trainer as ``params``.
        experiment: Tracking experiment (default: the pipeline name).
        task: ``binary``, ``multiclass``, ``regression`` or ``auto`` (from the label).

    Returns:
        A model package folder (model + transform, signature, lineage ids).
    """
    step = current_step()
    fitted, facts = load_transform(transform)
    features, label = list(facts["features"]), str(facts["label"])
    frame = read_split(examples, TRAIN)
    if label not in frame.columns:
        raise InvalidInput(f"train: label column {label!r} is missing from the training examples.")
    kind = infer_task(frame[label]) if task == "auto" else task
    fn = resolve_trainer(trainer)
    params = dict(hyperparams or {})
    inputs = {"examples": examples.artifact_id or "", "transform": transform.artifact_id or ""}
    with _training_run(
        step, experiment=experiment or step.pipeline, params={"trainer": trainer, **params}, inputs=inputs
    ) as (client, run_id):
        X, y = fitted.transform(frame[features]), frame[label].to_numpy()
        t0 = time.perf_counter()
        estimator = fn(X, y, params)
        fit_s = time.perf_counter() - t0
        if not hasattr(estimator, "predict"):
            raise InvalidInput(
                f"train: {trainer} returned {type(estimator).__name__}, which has no predict()."
            )
        train_score = (
            float(np.mean(estimator.predict(X) == y))
            if kind != "regression"
            else float(estimator.score(X, y))
        )
        metrics = {"train_accuracy" if kind != "regression" else "train_r2": train_score, "fit_time_s": fit_s}
        client.log_metrics(run_id, metrics)
        record = {
            "trainer": trainer,
            "params": params,
            "metrics": metrics,
            "task": kind,
            "execution_id": step.execution_id,
        }
        _link_record(step, client, run_id, record)
    lineage = {
        "run_id": run_id,
        "execution_id": step.execution_id,
        "examples": examples.artifact_id or "",
        "transform": transform.artifact_id or "",
        "dataset": str(examples.properties.get("dataset_artifact_id", "")),
    }
    package = package_model(
        estimator,
        scratch_dir("model") / "package",
        transform=fitted,
        sample=frame[features].head(5),
        metrics=metrics,
        lineage=lineage,
        created_by=f"pipeline {step.pipeline} step {step.step_name}",
    )
    return Model.from_path(
        package.path,
        properties={
            "model_name": model_name,
            "trainer": trainer,
            "task": kind,
            "label": label,
            "features": features,
            "run_id": run_id,
            "flavor": package.spec.flavor,
            "metrics": metrics,
            "hyperparams": params,
        },
    )
