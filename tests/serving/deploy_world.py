"""A registry with distinguishable models for the deployment-serving tests, and a live server over it.

``churn`` versions: 1 (champion) and 2 are healthy, different classifiers; 3 is broken (fitted on
four features, its signature says three: every request fails); 4 is healthy and is the one tests
no input signature: it verifies, but no server can load it to answer requests. All signed and blessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from loopml.analysis import Blessing, CheckKind, CheckOutcome
from loopml.config import Settings
from loopml.registry import ColumnSpec, KeySigner, ModelSignature, package_model, sign_package
from loopml.services import Services
from loopml.serving.background import serve_in_thread
from loopml.serving.config import ServeConfig, ServedDeployment
from loopml.serving.deployments import DeploymentRuntime
from loopml.serving.server import build_app

COLUMNS = ("a", "b", "c")


def blessing() -> Blessing:
    outcome = CheckOutcome(
        metric="accuracy",
        slice="overall",
        kind=CheckKind.LOWER_BOUND,
        passed=True,
        value=0.9,
        bound=0.8,
        message="accuracy on overall",
    )
    return Blessing(outcomes=(outcome,))


@dataclass
class World:
    settings: Settings
    services: Services
    home: Path


def make_world(tmp_path: Path, settings: Settings | None = None) -> Iterator[World]:
    home = tmp_path / "home"
    settings = settings or Settings(home=home)
    with Services(settings) as services:
        info = services.key_ring.generate("release")
        services.trust_store.add(services.key_ring.export_public("release"), name="release")
        signer = KeySigner(info.private_path)
        rng = np.random.default_rng(3)
        x = rng.normal(size=(300, 3))
        y = (x[:, 0] - x[:, 1] > 0).astype(int)
        frame = pd.DataFrame(x, columns=list(COLUMNS))
        signature = ModelSignature(
            inputs=tuple(ColumnSpec(name=c, type="double") for c in COLUMNS),
            outputs=(ColumnSpec(name="prediction", type="int64"),),
        )
        broken = LogisticRegression().fit(np.c_[x, x[:, 0]], y)
        fitted = [
            LogisticRegression().fit(x, y),
            LogisticRegression(C=0.001).fit(x, 1 - y),
            broken,
            LogisticRegression(C=0.5).fit(x, y),
        ]
        for i, model in enumerate(fitted, start=1):
            if i < 4:
                pkg = package_model(model, tmp_path / f"pkg{i}", signature=signature, sample=frame)
            else:
                pkg = package_model(model, tmp_path / f"pkg{i}")
            sign_package(pkg.path, signer)
            services.registry.register(pkg, "churn", blessing=blessing(), actor="ann")
        services.registry.set_alias("churn", "champion", 1, actor="ann")
        yield World(settings=settings, services=services, home=home)


def row(seed: int) -> dict[str, Any]:
    """A V2 request of one row."""
    values = np.random.default_rng(seed).normal(size=3)
    return {
        "inputs": [
            {"name": c, "shape": [1], "datatype": "FP64", "data": [float(v)]}
            for c, v in zip(COLUMNS, values, strict=True)
        ]
    }


@dataclass
class Replica:
    client: httpx.Client
    runtime: DeploymentRuntime


@contextmanager
def serve_deployments(world: World, *names: str, poll_s: float = 0.05, **options: Any) -> Iterator[Replica]:
    """A live ``loopml serve`` app (uvicorn in a thread) serving ``names``."""
    config = ServeConfig(
        models=(),
        deployments=tuple(ServedDeployment(name=n) for n in names),
        poll_s=poll_s,
        prediction_log=False,
        **options,
    )
    app = build_app(config, world.settings)
    runtime = app.state.plane.deployments
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Replica(client=client, runtime=runtime)
