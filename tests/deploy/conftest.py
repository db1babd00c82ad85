"""Fixtures for deployment tests: services over a fresh store with a registry holding real models."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.analysis import Blessing, CheckKind, CheckOutcome
from loopml.config import Settings
from loopml.registry import KeySigner, package_model, sign_package
from loopml.services import Services


def blessing(passed: bool) -> Blessing:
    outcome = CheckOutcome(
        metric="accuracy",
        slice="overall",
        kind=CheckKind.LOWER_BOUND,
        passed=passed,
        value=0.9 if passed else 0.7,
        bound=0.8,
        message="accuracy on overall" if passed else "accuracy 0.7 below 0.8 on overall",
    )
    return Blessing(outcomes=(outcome,))


@dataclass
class World:
    services: Services
    home: Path


@pytest.fixture(scope="session")
def _model() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    labels = (frame["a"] - frame["b"] > 0).astype(int).to_numpy()
    return LogisticRegression().fit(frame, labels), frame


@pytest.fixture
def world(tmp_path: Path, _model: tuple[LogisticRegression, pd.DataFrame]) -> Iterator[World]:
    """churn v1 (champion), v2 (signed, blessed), v3 (signed, not blessed)."""
    home = tmp_path / "home"
    with Services(Settings(home=home)) as services:
        info = services.key_ring.generate("release")
        services.trust_store.add(services.key_ring.export_public("release"), name="release")
        model, frame = _model
        registry = services.registry
        for i, passed in enumerate((True, True, False), start=1):
            package = package_model(model, tmp_path / f"pkg{i}", sample=frame, created_by="tests")
            sign_package(package.path, KeySigner(info.private_path))
            registry.register(package, "churn", blessing=blessing(passed), actor="ann")
        registry.set_alias("churn", "champion", 1, actor="ann")
        yield World(services=services, home=home)
