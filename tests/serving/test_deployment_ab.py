"""A/B keys read row by row: a batch of several keys' rows is split by arm and answered in order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest

from loopml.deploy.routing import choose_route
from loopml.deploy.spec import ABArm, ABSplit, DeploymentSpec
from loopml.errors import InvalidInput
from loopml.monitor import read_prediction_log
from loopml.serving.background import serve_in_thread
from loopml.serving.config import ServeConfig, ServedDeployment
from loopml.serving.row_split import reassemble_flags, reassemble_outputs
from loopml.serving.server import build_app
from tests.serving.deploy_world import COLUMNS, World, make_world

ARMS = (
    ABArm(name="a", target="models:/churn/1", weight=50),
    ABArm(name="b", target="models:/churn/2", weight=50),
)
SPEC = DeploymentSpec(name="churn", primary="models:/churn/1", ab=ABSplit(key="a", arms=ARMS))
VERSION = {"a": "1", "b": "2"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def body(rows: np.ndarray, request_id: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "inputs": [
            {"name": c, "shape": [len(rows)], "datatype": "FP64", "data": rows[:, i].tolist()}
            for i, c in enumerate(COLUMNS)
        ],
    }


def arm_of(value: float) -> str:
    return choose_route(SPEC, key=str(value), request_id="-").route


def outputs(doc: dict[str, Any]) -> dict[str, np.ndarray]:
    return {o["name"]: np.reshape(o["data"], o["shape"]) for o in doc["outputs"]}


def rows_on_both_arms() -> np.ndarray:
    """Six rows, three on each arm, interleaved: a, b, a, b, a, b."""
    rng = np.random.default_rng(11)
    by_arm: dict[str, list[np.ndarray]] = {"a": [], "b": []}
    while min(len(v) for v in by_arm.values()) < 3:
        row = rng.normal(size=3).round(3)
        by_arm[arm_of(float(row[0]))].append(row)
    return np.array([by_arm[arm][i] for i in range(3) for arm in ("a", "b")])


def logged_rows(root: Path, request_id: str, n: int) -> list[dict[str, Any]]:
    """The logged rows of ``request_id``, once ``n`` are written."""
    deadline = time.monotonic() + 15
    while True:
        found = []
        if root.exists():
            found = [
                r
                for r in read_prediction_log(root, model="churn").to_pylist()
                if r["request_id"] == request_id
            ]
        if len(found) >= n:
            return found
        assert time.monotonic() < deadline, f"request {request_id!r} was not logged"
        time.sleep(0.1)


@pytest.fixture
def served(world: World, tmp_path: Path) -> Iterator[httpx.Client]:
    world.services.deployments.create(SPEC, actor="ann")
    config = ServeConfig(
        models=(), deployments=(ServedDeployment(name="churn"),), poll_s=0.05, log_dir=tmp_path / "log"
    )
    with serve_in_thread(build_app(config, world.settings)) as url, httpx.Client(base_url=url) as client:
        yield client


def test_a_batch_of_one_key_takes_that_keys_arm(served: httpx.Client) -> None:
    rows = np.random.default_rng(5).normal(size=(4, 3))
    rows[:, 0] = 0.25
    doc = served.post("/v2/models/churn/infer", json=body(rows, "one-key")).json()
    assert doc["model_version"] == VERSION[arm_of(0.25)]
    assert len(outputs(doc)["predict"]) == 4


def test_a_batch_of_several_keys_is_split_by_arm_and_answered_in_order(
    served: httpx.Client, tmp_path: Path
) -> None:
    rows = rows_on_both_arms()
    response = served.post("/v2/models/churn/infer", json=body(rows, "mixed"))
    assert response.status_code == 200, response.text
    doc = response.json()
    assert set(doc["model_version"].split(",")) == {"1", "2"}
    split = outputs(doc)
    for i, row in enumerate(rows):  # each row answered as its key's arm answers it alone
        alone = served.post("/v2/models/churn/infer", json=body(row[None, :], f"alone-{i}")).json()
        assert alone["model_version"] == VERSION[arm_of(float(row[0]))]
        assert outputs(alone)["predict"].tolist() == [split["predict"][i]]
        assert outputs(alone)["predict_proba"][0] == pytest.approx(split["predict_proba"][i])
    # the log keeps each row under the version that answered it, at its place in the request
    by_row = {r["row"]: r for r in logged_rows(tmp_path / "log", "mixed", 6)}
    assert sorted(by_row) == list(range(6))
    for i, row in enumerate(rows):
        assert by_row[i]["version"] == VERSION[arm_of(float(row[0]))]
        assert by_row[i]["in.a"] == pytest.approx(row[0])


def test_arms_whose_outputs_differ_cannot_answer_one_batch() -> None:
    models = [SimpleNamespace(source="models:/churn/1"), SimpleNamespace(source="models:/other/1")]
    positions = [np.array([0, 2]), np.array([1])]
    two = {"predict": np.array([1, 0]), "predict_proba": np.zeros((2, 2))}
    three = {"predict": np.array([2]), "predict_proba": np.zeros((1, 3))}
    with pytest.raises(InvalidInput, match=r"differ in output shapes.*own request"):
        reassemble_outputs([two, three], positions, models)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"models:/other/1\), whose answers differ in outputs"):
        reassemble_outputs([two, {"predict": np.array([2])}], positions, models)  # type: ignore[arg-type]
    joined = reassemble_outputs([two, {**three, "predict_proba": np.ones((1, 2))}], positions, models)  # type: ignore[arg-type]
    assert joined["predict"].tolist() == [1, 2, 0] and joined["predict_proba"][1].tolist() == [1.0, 1.0]
    assert reassemble_flags([(), (("out_of_range:a",),)], positions) == ((), ("out_of_range:a",), ())
