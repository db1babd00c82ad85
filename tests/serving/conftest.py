"""Fixtures for serving tests: signed, blessed packages registered in a real registry.

* ``numeric``: logistic regression on 4 numeric columns fitted on a NumPy matrix (the NumPy path),
  alias ``champion``;
* ``mixed``: a one-hot + scaling ColumnTransformer packaged as the transform, then logistic
  regression, over a frame with a string column (the column path), alias ``champion``;
* ``price``: a linear regression on 2 numeric columns, alias ``staging``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from loopml.analysis import Blessing
from loopml.analysis.blessing import CheckKind, CheckOutcome
from loopml.artifacts import BlobStore
from loopml.registry import (
    ColumnSpec,
    KeyRing,
    KeySigner,
    ModelRegistry,
    ModelSignature,
    TrustStore,
    package_model,
    sign_package,
)
from loopml.serving import AppOptions, DataPlane, ModelRepository, ModelSource, create_app, load_served_model
from loopml.serving.background import serve_in_thread
from loopml.store.sql import open_store

NUMERIC_COLUMNS = ("a", "b", "c", "d")


def blessing(passed: bool = True) -> Blessing:
    outcome = CheckOutcome(
        metric="accuracy",
        slice="overall",
        kind=CheckKind.LOWER_BOUND,
        passed=passed,
        value=0.9,
        bound=0.8,
        message="accuracy on overall",
    )
    return Blessing(outcomes=(outcome,))


@dataclass
class Models:
    """What the session registry holds, plus the fitted objects to compare predictions with."""

    registry: ModelRegistry
    signer: KeySigner
    root: Path
    numeric: LogisticRegression
    numeric_x: np.ndarray
    mixed: LogisticRegression
    mixed_transform: ColumnTransformer
    mixed_frame: pd.DataFrame
    price: LinearRegression


def _numeric(rng: np.random.Generator) -> tuple[LogisticRegression, np.ndarray]:
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] + x[:, 1] - x[:, 3] > 0).astype(int)
    return LogisticRegression().fit(x, y), x


def _mixed(rng: np.random.Generator) -> tuple[ColumnTransformer, LogisticRegression, pd.DataFrame]:
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, size=200).astype(np.int64),
            "income": rng.normal(50, 10, size=200),
            "city": rng.choice(["paris", "lyon", "nice"], size=200),
        }
    )
    labels = np.where((frame["age"] > 40) & (frame["city"] != "nice"), "yes", "no")
    transform = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ],
        sparse_threshold=0.0,
    ).fit(frame)
    model = LogisticRegression().fit(transform.transform(frame), labels)
    return transform, model, frame


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Models]:
    root = tmp_path_factory.mktemp("serving")
    rng = np.random.default_rng(3)
    keys = KeyRing(root / "home" / "keys")
    trust = TrustStore(root / "home" / "trust")
    info = keys.generate("release")
    trust.add(keys.export_public("release"), name="release")
    signer = KeySigner(info.private_path)
    store = open_store(f"sqlite:///{root / 'store.db'}")
    registry = ModelRegistry(store, BlobStore(root / "blobs"), trust_store=trust, cache_dir=root / "cache")

    numeric, numeric_x = _numeric(rng)
    signature = ModelSignature(
        inputs=tuple(ColumnSpec(name=n, type="double") for n in NUMERIC_COLUMNS),
        outputs=(ColumnSpec(name="prediction", type="int64"),),
    )
    pkg = package_model(numeric, root / "pkg-numeric", signature=signature)
    sign_package(pkg.path, signer)
    registry.register(pkg, "numeric", blessing=blessing())
    registry.set_alias("numeric", "champion", 1, actor="tests")

    transform, mixed, frame = _mixed(rng)
    pkg = package_model(mixed, root / "pkg-mixed", transform=transform, sample=frame)
    sign_package(pkg.path, signer)
    registry.register(pkg, "mixed", blessing=blessing())
    registry.set_alias("mixed", "champion", 1, actor="tests")

    x2 = rng.normal(size=(100, 2))
    price = LinearRegression().fit(x2, x2 @ np.array([2.0, -1.0]) + 3)
    signature = ModelSignature(
        inputs=(ColumnSpec(name="rooms", type="double"), ColumnSpec(name="floor", type="int64")),
        outputs=(ColumnSpec(name="prediction", type="double"),),
    )
    pkg = package_model(price, root / "pkg-price", signature=signature)
    registry.register(pkg, "price")
    registry.set_alias("price", "staging", 1, actor="tests")

    yield Models(
        registry=registry,
        signer=signer,
        root=root,
        numeric=numeric,
        numeric_x=numeric_x,
        mixed=mixed,
        mixed_transform=transform,
        mixed_frame=frame,
        price=price,
    )
    store.close()


@contextmanager
def serving(models: Models, *sources: ModelSource, options: AppOptions | None = None) -> Iterator[str]:
    """A live server (uvicorn in a thread) over ``sources``; yields its base URL."""
    served = [load_served_model(s, registry=models.registry) for s in sources]
    with serve_in_thread(create_app(DataPlane(ModelRepository(served)), options=options)) as url:
        yield url


@pytest.fixture(scope="session")
def server_url(models: Models) -> Iterator[str]:
    """A server with numeric@champion, mixed@champion and price@staging."""
    with serving(
        models,
        ModelSource(uri="models:/numeric@champion"),
        ModelSource(uri="models:/mixed@champion"),
        ModelSource(uri="models:/price@staging"),
    ) as url:
        yield url


@pytest.fixture
def client(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as c:
        yield c
