"""Input restoration in ``loopml serve`` (``restore:`` in serve.yaml): the same repairs as batch
scoring, applied before prediction on every protocol, counted and flagged in the log, and refused
at start-up when the package's training statistics cannot support them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import yaml

from loopml.config import Settings
from loopml.deploy.spec import DeploymentSpec
from loopml.errors import InvalidInput
from loopml.inference.atypical import AtypicalCheck, AtypicalPolicy
from loopml.inference.restoration import InputRestoration
from loopml.monitor import read_prediction_log
from loopml.registry import package_model
from loopml.services import Services
from loopml.serving import DataPlane, ModelRepository, ModelSource, create_app, load_served_model
from loopml.serving.background import serve_in_thread
from loopml.serving.config import ServeConfig
from loopml.serving.grpc_server import GrpcOptions, attach_grpc
from loopml.serving.guards import ModelGuards
from loopml.serving.metrics import ServingMetrics
from loopml.serving.prediction_log import PredictionLogger
from loopml.serving.server import build_app
from tests.serving.conftest import Models
from tests.serving.deploy_world import World, make_world, row

_POLICY = InputRestoration(clip=True, fallbacks=(("city", "paris"),))


@contextmanager
def _serve(models: Models, log: Path, guards: Mapping[str, ModelGuards]) -> Iterator[tuple[Any, ...]]:
    """REST and gRPC over one data plane serving mixed@champion as ``restored`` and ``plain``."""
    sources = (
        ModelSource(uri="models:/mixed@champion", name="restored"),
        ModelSource(uri="models:/mixed@champion", name="plain"),
    )
    metrics = ServingMetrics()
    logger = PredictionLogger(log, flush_interval_s=0.05)
    served = [load_served_model(s, registry=models.registry) for s in sources]
    plane = DataPlane(ModelRepository(served), guards=guards, sinks=[logger], metrics=metrics)
    app = create_app(plane, metrics=metrics)
    attach_grpc(app, plane, metrics=metrics, authenticator=None, options=GrpcOptions(port=0))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client, f"127.0.0.1:{app.state.grpc_port}"


def _records(*rows: tuple[int, float, str]) -> dict[str, object]:
    return {"instances": [{"age": a, "income": i, "city": c} for a, i, c in rows]}


def test_values_are_clipped_and_unseen_categories_fall_back_on_every_protocol(
    models: Models, tmp_path: Path
) -> None:
    frame = models.mixed_frame
    oldest, top_income = int(frame["age"].max()), float(frame["income"].max())
    guards = {
        "restored": ModelGuards(restore=_POLICY, atypical=AtypicalCheck(policy=AtypicalPolicy.FLAG)),
    }
    raw = _records((30, 50.0, "lyon"), (500, 1e4, "berlin"))
    repaired = _records((30, 50.0, "lyon"), (oldest, top_income, "paris"))
    with _serve(models, tmp_path / "log", guards) as (client, grpc_target):
        restored = client.post("/v1/models/restored:predict", json=raw)
        assert restored.status_code == 200, restored.text
        expected = client.post("/v1/models/plain:predict", json=repaired).json()
        assert restored.json() == expected
        assert client.post("/v1/models/plain:predict", json=raw).json() != expected  # the repair matters
        mlflow = client.post("/invocations", json={"dataframe_records": raw["instances"]})
        assert mlflow.json()["predictions"] == [p["predict"] for p in expected["predictions"]]
        v2 = client.post(
            "/v2/models/restored/infer",
            json={
                "inputs": [
                    {"name": "age", "shape": [1], "datatype": "INT64", "data": [500]},
                    {"name": "income", "shape": [1], "datatype": "FP64", "data": [1e4]},
                    {"name": "city", "shape": [1], "datatype": "BYTES", "data": ["berlin"]},
                ]
            },
        )
        predicted = {o["name"]: o["data"] for o in v2.json()["outputs"]}
        assert predicted["predict"] == [expected["predictions"][1]["predict"]]

        with triton_grpc.InferenceServerClient(grpc_target) as tc:
            tensors = []
            for name, datatype, value in (
                ("age", "INT64", np.array([500], dtype=np.int64)),
                ("income", "FP64", np.array([1e4])),
                ("city", "BYTES", np.array(["berlin"], dtype=object)),
            ):
                tensor = triton_grpc.InferInput(name, [1], datatype)
                tensor.set_data_from_numpy(value)
                tensors.append(tensor)
            answer = tc.infer("restored", tensors)
        assert [v.decode() for v in answer.as_numpy("predict")] == predicted["predict"]
        exposition = client.get("/metrics").text
    for line in (  # four requests (TF Serving, MLflow, V2 REST, V2 gRPC) with one repaired row each
        'loopml_serving_restored_values_total{column="age",model="restored",repair="clipped"} 4.0',
        'loopml_serving_restored_values_total{column="income",model="restored",repair="clipped"} 4.0',
        'loopml_serving_restored_values_total{column="city",model="restored",repair="fallback"} 4.0',
    ):
        assert line in exposition
    assert 'model="plain"' not in "\n".join(
        m for m in exposition.splitlines() if m.startswith("loopml_serving_restored_values_total")
    )
    log = read_prediction_log(tmp_path / "log", model="restored").sort_by(
        [("request_id", "ascending"), ("row", "ascending")]
    )
    flags = [f for f in log.column("flags").to_pylist() if f]
    assert len(flags) == 4 and log.num_rows == 6
    assert flags[0] == [
        "out_of_range:age",
        "out_of_range:income",
        "unseen:city",
        "distance",
        "clipped:age",
        "clipped:income",
        "fallback:city",
    ]
    assert sorted(log.column("in.age").to_pylist())[-1] == 500  # the log keeps the values as sent
    plain = read_prediction_log(tmp_path / "log", model="plain")
    assert not any(plain.column("flags").to_pylist())


def test_without_a_policy_nothing_is_restored_or_flagged(models: Models, tmp_path: Path) -> None:
    guards = {"restored": ModelGuards(restore=InputRestoration(clip=True))}
    with _serve(models, tmp_path / "log", guards) as (client, _):
        typical = client.post(
            "/invocations", json={"dataframe_records": _records((30, 50.0, "lyon"))["instances"]}
        )
        assert typical.status_code == 200
        odd = _records((500, 50.0, "berlin"))  # clip only: berlin is passed on as sent
        assert client.post("/v1/models/plain:predict", json=odd).status_code == 200
        assert client.post("/v1/models/restored:predict", json=odd).status_code == 200
        exposition = client.get("/metrics").text
    restored = [m for m in exposition.splitlines() if m.startswith("loopml_serving_restored_values_total")]
    assert restored == [
        'loopml_serving_restored_values_total{column="age",model="restored",repair="clipped"} 1.0'
    ]
    log = read_prediction_log(tmp_path / "log")
    by_model = {
        (m, tuple(f))
        for m, f in zip(log.column("model").to_pylist(), log.column("flags").to_pylist(), strict=True)
    }
    assert by_model == {("restored", ()), ("plain", ()), ("restored", ("clipped:age",))}


@pytest.mark.parametrize(
    ("uri", "policy", "words"),
    [
        ("models:/mixed@champion", {"fallback": {"city": "berlin"}}, "Fallback category 'berlin' for 'city'"),
        ("models:/mixed@champion", {"fallback": {"age": "30"}}, "'age' is not a string input"),
        ("models:/numeric@champion", {"clip": True}, "has none"),
    ],
)
def test_a_policy_the_training_statistics_cannot_support_is_refused(
    models: Models, uri: str, policy: dict[str, Any], words: str
) -> None:
    config = ServeConfig.from_mapping({"models": [{"uri": uri, "restore": policy}]})
    model = load_served_model(config.models[0], registry=models.registry)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as info:
        DataPlane(ModelRepository([model]), guards={model.name: config.guards_of(0)})
    assert "restore:" in str(info.value) and words in str(info.value)


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"clip": "yes"}, "restore.clip must be true or false"),
        ({"fallback": ["city"]}, "fallback must map"),
        ({"clamp": True}, "models[0].restore must be a mapping"),
    ],
)
def test_a_malformed_restore_section_is_refused(section: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidInput) as info:
        ServeConfig.from_mapping({"models": [{"uri": "models:/m/1", "restore": section}]})
    assert words in str(info.value)


def test_loopml_serve_with_a_bad_fallback_exits_2_and_serves_nothing(models: Models, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Services(Settings(home=home)) as services:
        pkg = package_model(
            models.mixed, tmp_path / "pkg", transform=models.mixed_transform, sample=models.mixed_frame
        )
        services.registry.register(pkg, "mixed-cli")
    config = tmp_path / "serve.yaml"
    config.write_text(
        yaml.safe_dump(
            {"models": [{"uri": "models:/mixed-cli/1", "restore": {"fallback": {"city": "rome"}}}]}
        )
    )
    done = subprocess.run(
        [sys.executable, "-c", "from loopml.cli import main; main()", "serve", "--config", str(config)],
        env={**os.environ, "LOOPML_HOME": str(home), "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "input restoration policy (restore:) of model 'mixed-cli'" in done.stderr
    assert "Fallback category 'rome' for 'city' was never seen in training" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def test_a_deployments_routes_restore_too(world: World) -> None:
    world.services.deployments.create(
        DeploymentSpec(name="churn", primary="models:/churn@champion"), None, actor="ann"
    )
    config = ServeConfig.from_mapping(
        {"deployments": [{"name": "churn", "restore": {"clip": True}}], "prediction_log": False}
    )
    app = build_app(config, world.settings)
    stats = app.state.plane.deployments.front("churn").predictor.training_stats["columns"]
    top = [float(stats[c]["max"]) for c in "abc"]
    far = {"inputs": [{"name": c, "shape": [1], "datatype": "FP64", "data": [1e6]} for c in "abc"]}
    clipped = {
        "inputs": [
            {"name": c, "shape": [1], "datatype": "FP64", "data": [v]}
            for c, v in zip("abc", top, strict=True)
        ]
    }
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        answers = [client.post("/v2/models/churn/infer", json=doc).json() for doc in (far, clipped)]
        assert client.post("/v2/models/churn/infer", json=row(1)).status_code == 200
        exposition = client.get("/metrics").text
    assert answers[0]["outputs"] == answers[1]["outputs"]
    assert 'loopml_serving_restored_values_total{column="a",model="churn",repair="clipped"} 1.0' in exposition


def test_a_deployment_with_a_policy_its_model_cannot_support_is_refused(world: World) -> None:
    world.services.deployments.create(
        DeploymentSpec(name="churn", primary="models:/churn@champion"), None, actor="ann"
    )
    config = ServeConfig.from_mapping(
        {"deployments": [{"name": "churn", "restore": {"fallback": {"a": "x"}}}], "prediction_log": False}
    )
    with pytest.raises(InvalidInput) as info:
        build_app(config, world.settings)
    assert "restore:" in str(info.value) and "'a' is not a string input" in str(info.value)


def test_restore_rows_flags_each_repaired_row(models: Models) -> None:
    from loopml.inference.inputs import from_columns
    from loopml.inference.restoration import InputRestorer

    model = load_served_model(ModelSource(uri="models:/mixed@champion"), registry=models.registry)
    restorer = InputRestorer(model.schema, model.predictor.training_stats, _POLICY)
    rows = from_columns(
        model.schema,
        {"age": [30, 30, 900], "income": [50.0, 50.0, 50.0], "city": ["nice", "rome", "rome"]},
        as_matrix=False,
    )
    repaired, counts, flags = restorer.restore_rows(rows)
    assert counts == {"clipped:age": 1, "fallback:city": 2}
    assert flags == ((), ("fallback:city",), ("clipped:age", "fallback:city"))
    assert repaired.columns is not None and list(repaired.columns["city"]) == ["nice", "paris", "paris"]
    assert rows.columns is not None and list(rows.columns["city"]) == ["nice", "rome", "rome"]  # untouched
