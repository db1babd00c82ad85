"""train: user function, tracking run linked both ways with the execution, package with the transform."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sklearn.tree import DecisionTreeClassifier

from loopml.components import infra_validate, ingest, schema, statistics, train, transform
from loopml.pipeline import StepState
from loopml.registry import load_model
from loopml.store import EventType

from ._harness import Harness


def shallow_tree(X: Any, y: Any, params: Mapping[str, Any]) -> DecisionTreeClassifier:
    return DecisionTreeClassifier(max_depth=int(params.get("depth", 2)), random_state=0).fit(X, y)


def _steps(data_file: Path, trainer: str, **params: Any):  # type: ignore[no-untyped-def]
    examples = ingest(source=str(data_file), dataset_name="people", key="id")
    spec = schema(statistics=statistics(examples=examples.output).output)
    prep = transform(examples=examples.output, schema=spec.output, label="label", exclude=["id", "year"])
    return train(
        examples=examples.output, transform=prep.output, trainer=trainer, model_name="people", **params
    )


def test_user_function_tracked_and_packaged_with_transform(harness: Harness, data_file: Path) -> None:
    result = harness.run(_steps(data_file, f"{__name__}:shallow_tree", hyperparams={"depth": 3}))
    step = result.step("train")
    assert step.state is StepState.COMPLETE, step.error
    props = harness.props(result, "train", "model")
    run = harness.store.runs.get(props["run_id"])
    assert run.tags["loopml.execution_id"] == step.execution_id
    assert run.params["depth"] == "3" and "train_accuracy" in run.metrics
    roles = {
        e.role
        for e in harness.store.lineage.list_events(execution_id=step.execution_id)
        if e.type is EventType.INPUT
    }
    assert roles == {"examples", "transform", "training_run"}
    predictor = load_model(harness.export(result, "train", "model"))
    assert predictor.transform is not None and predictor.package.spec.lineage["run_id"] == props["run_id"]
    assert predictor.package.spec.lineage["execution_id"] == step.execution_id
    raw = {"age": [30.0], "color": ["red"], "group": [1]}
    import pandas as pd

    assert predictor.predict(pd.DataFrame(raw)).shape == (1,)


def test_bad_trainer_name_fails_clearly(harness: Harness, data_file: Path) -> None:
    result = harness.run(_steps(data_file, "no_such_module:fit"))
    step = result.step("train")
    assert step.state is StepState.FAILED and "no_such_module" in (step.error or "")


def xgboost_trainer(X: Any, y: Any, params: Mapping[str, Any]) -> Any:
    from xgboost import XGBClassifier  # the loopml[xgboost] extra

    return XGBClassifier(n_estimators=20, max_depth=3, **params).fit(X, y)


def lightgbm_trainer(X: Any, y: Any, params: Mapping[str, Any]) -> Any:
    from lightgbm import LGBMClassifier  # the loopml[lightgbm] extra

    return LGBMClassifier(n_estimators=20, verbose=-1, **params).fit(X, y)


@pytest.mark.parametrize(
    ("trainer", "flavor"), [("xgboost_trainer", "xgboost"), ("lightgbm_trainer", "lightgbm")]
)
def test_xgboost_and_lightgbm_through_the_same_interface(
    harness: Harness, data_file: Path, trainer: str, flavor: str
) -> None:
    model = _steps(data_file, f"{__name__}:{trainer}")
    examples = model.inputs["examples"].step
    assert examples is not None
    served = infra_validate(model=model.output, examples=examples.output, rows=20)
    result = harness.run(served)
    assert result.is_ok, [s.error for s in result.steps if s.error]
    assert harness.props(result, "train", "model")["flavor"] == flavor
    assert harness.props(result, "infra_validate", "infra_blessing")["passed"] is True


def busy_tree(X: Any, y: Any, params: Mapping[str, Any]) -> DecisionTreeClassifier:
    import time

    deadline = time.process_time() + 0.4  # CPU spent inside the fit, as a real training does
    while time.process_time() < deadline:
        pass
    return DecisionTreeClassifier(max_depth=2, random_state=int(params["random_state"])).fit(X, y)


def test_the_run_wraps_the_fit_and_records_its_seeds(harness: Harness, data_file: Path) -> None:
    result = harness.run(_steps(data_file, f"{__name__}:busy_tree", hyperparams={"random_state": 11}))
    assert result.step("train").state is StepState.COMPLETE, result.step("train").error
    run = harness.store.runs.get(harness.props(result, "train", "model")["run_id"])
    resources = run.reproducibility["resources"]
    fit_s = run.metrics["fit_time_s"]
    assert fit_s >= 0.4
    assert resources["wall_seconds"] >= fit_s and resources["cpu_seconds"] >= 0.35
    assert run.reproducibility["seeds"] == {"random_state": 11}
