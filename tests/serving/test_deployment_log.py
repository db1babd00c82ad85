"""A deployment's prediction log names the registered model versions that answered each row (a canary
of another registered model, an ensemble's members), over every HTTP protocol, and the log's lineage
follows them: model version → log version, downstream, reaches exactly the hours it answered in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.deploy.spec import Canary, DeploymentSpec, Ensemble, EnsembleMember, EnsembleMethod
from loopml.inference.ensemble import Combine, EnsembleSource
from loopml.monitor import read_prediction_log
from loopml.monitor.log_versions import LogVersion
from loopml.registry import ColumnSpec, KeySigner, ModelSignature, package_model, sign_package
from loopml.serving.background import serve_in_thread
from loopml.serving.config import ServeConfig, ServedDeployment
from loopml.serving.server import build_app
from loopml.tracking.lineage import walk
from tests.serving.deploy_world import COLUMNS, World, blessing, make_world, row


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The deployment world plus ``rival``: another registered model whose version 1 shares its
    number with ``churn``'s champion (what a version-number match cannot tell apart)."""
    for world in make_world(tmp_path):
        services = world.services
        signer = KeySigner(services.key_ring.get("release").private_path)
        x = np.random.default_rng(9).normal(size=(200, 3))
        signature = ModelSignature(
            inputs=tuple(ColumnSpec(name=c, type="double") for c in COLUMNS),
            outputs=(ColumnSpec(name="prediction", type="int64"),),
        )
        model = LogisticRegression().fit(x, (x[:, 2] > 0).astype(int))
        pkg = package_model(
            model, tmp_path / "rival", signature=signature, sample=pd.DataFrame(x, columns=list(COLUMNS))
        )
        sign_package(pkg.path, signer)
        services.registry.register(pkg, "rival", blessing=blessing(), actor="ann")
        yield world


def _artifact(world: World, name: str, version: int) -> str:
    artifact = world.services.store.models.get_version(name, version).artifact_id
    assert artifact is not None
    return artifact


def _answer(world: World, requests: int, *, models: tuple[EnsembleSource, ...] = ()) -> None:
    """Send ``requests`` rows to deployment ``churn`` over V2, TF Serving and MLflow (``/invocations``
    answers as the first served model, when there is one), then one to each served model over V2,
    through a live server writing the prediction log."""
    config = ServeConfig(models=models, deployments=(ServedDeployment(name="churn"),), poll_s=0.05)
    app = build_app(config, world.settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for i in range(requests):
            values = {entry["name"]: entry["data"][0] for entry in row(i)["inputs"]}
            if i % 3 == 0:
                answer = client.post("/v2/models/churn/infer", json=row(i))
            elif i % 3 == 1:
                answer = client.post("/v1/models/churn:predict", json={"instances": [values]})
            else:
                answer = client.post(
                    "/invocations",
                    json={"dataframe_split": {"columns": list(COLUMNS), "data": [list(values.values())]}},
                )
            assert answer.status_code == 200, answer.text
        for model in models:
            assert client.post(f"/v2/models/{model.name}/infer", json=row(0)).status_code == 200


def _log_versions(world: World, log: str) -> list[LogVersion]:
    """Register the log's hours (all closed by then)."""
    monitor = world.services.monitor()
    done = monitor.register_log(monitor.target(log), now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))
    assert done.problems == ()
    return list(done.registered)


def _reaches(world: World, artifact: str, targets: list[str]) -> bool:
    reached = {n.id for n in walk(world.services.store, artifact, direction="downstream", depth=2).nodes}
    return set(targets) <= reached


def _logged(world: World, model: str) -> pa.Table:
    return read_prediction_log(world.services.prediction_log, model=model)


def test_a_canary_of_another_registered_model_is_logged_and_linked_as_that_model(world: World) -> None:
    spec = DeploymentSpec(
        name="churn",
        primary="models:/churn@champion",
        canary=Canary(target="models:/rival/1", weight=100),
    )
    world.services.deployments.create(spec, None, actor="ann")
    _answer(world, 6)

    logged = _logged(world, "churn")
    assert logged.num_rows == 6 and set(logged["protocol"].to_pylist()) == {"v2", "tfserving", "mlflow"}
    assert set(logged["version"].to_pylist()) == {"1"}  # the same number as the champion's
    assert logged["model_versions"].to_pylist() == [["rival/1"]] * 6

    (log,) = _log_versions(world, "churn")
    assert log.model_versions == {"rival/1": 6} and log.versions == {"1": 6}
    assert _reaches(world, _artifact(world, "rival", 1), [log.artifact_id])
    assert not _reaches(world, _artifact(world, "churn", 1), [log.artifact_id])  # it answered nothing


def test_an_ensemble_links_each_member_and_a_served_ensemble_logs_its_members(world: World) -> None:
    blend = Ensemble(
        name="blend",
        method=EnsembleMethod.MEAN,
        members=(EnsembleMember(target="models:/churn/2"), EnsembleMember(target="models:/rival/1")),
    )
    spec = DeploymentSpec(name="churn", primary="blend", ensembles=(blend,))
    world.services.deployments.create(spec, None, actor="ann")
    served = EnsembleSource(
        name="vote", members=("models:/churn@champion", "models:/rival/1"), combine=Combine.VOTE
    )
    _answer(world, 3, models=(served,))  # V2 and TF Serving to the deployment, MLflow and V2 to "vote"

    assert _logged(world, "churn")["model_versions"].to_pylist() == [["churn/2", "rival/1"]] * 2
    assert _logged(world, "vote")["model_versions"].to_pylist() == [["churn/1", "rival/1"]] * 2
    (log,) = _log_versions(world, "churn")
    assert log.model_versions == {"churn/2": 2, "rival/1": 2} and log.versions == {"1": 2}
    for name, number in (("churn", 2), ("rival", 1)):
        assert _reaches(world, _artifact(world, name, number), [log.artifact_id]), (name, number)
    # the ensemble's own version number ("1") is not the champion's, whatever the digits say
    assert not _reaches(world, _artifact(world, "churn", 1), [log.artifact_id])
    (vote,) = _log_versions(world, "vote")
    assert vote.model_versions == {"churn/1": 2, "rival/1": 2}
    assert _reaches(world, _artifact(world, "churn", 1), [vote.artifact_id])
    assert not _reaches(world, _artifact(world, "churn", 2), [vote.artifact_id])
