"""Fixtures for registry tests: a small trained model, keys, a trust store and a signed package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from loopml.registry import KeyRing, KeySigner, ModelPackage, TrustStore, package_model, sign_package


@pytest.fixture(scope="session")
def training_data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=["age", "income", "tenure", "score"])
    labels = (frame["age"] + 0.5 * frame["income"] - frame["score"] > 0).astype(int).to_numpy()
    return frame, labels


@pytest.fixture(scope="session")
def fitted(training_data: tuple[pd.DataFrame, np.ndarray]) -> tuple[StandardScaler, LogisticRegression]:
    frame, labels = training_data
    transform = StandardScaler().fit(frame)
    model = LogisticRegression().fit(transform.transform(frame), labels)
    return transform, model


@pytest.fixture
def key_ring(tmp_path: Path) -> KeyRing:
    return KeyRing(tmp_path / "home" / "keys")


@pytest.fixture
def trust_store(tmp_path: Path) -> TrustStore:
    return TrustStore(tmp_path / "home" / "trust")


@pytest.fixture
def signing_key(key_ring: KeyRing, trust_store: TrustStore) -> KeySigner:
    info = key_ring.generate("release")
    trust_store.add(key_ring.export_public("release"), name="release")
    return KeySigner(info.private_path)


@pytest.fixture
def signed_package(
    tmp_path: Path,
    training_data: tuple[pd.DataFrame, np.ndarray],
    fitted: tuple[StandardScaler, LogisticRegression],
    signing_key: KeySigner,
) -> ModelPackage:
    transform, model = fitted
    frame, _ = training_data
    package = package_model(
        model,
        tmp_path / "pkg",
        transform=transform,
        sample=frame,
        metrics={"accuracy": 0.97},
        lineage={"run_id": "a" * 32},
        created_by="tests",
    )
    sign_package(package.path, signing_key)
    return package
