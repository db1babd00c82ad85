"""Ensembles of verified packages: vote, mean and weighted, served over HTTP."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from loopml.errors import InvalidInput
from loopml.inference.ensemble import Combine, EnsembleSource, load_ensemble
from loopml.inference.inputs import from_columns
from loopml.registry import ColumnSpec, ModelSignature, package_model
from loopml.serving import DataPlane, ModelRepository, create_app
from loopml.serving.background import serve_in_thread
from loopml.serving.config import ServeConfig

COLUMNS = ("a", "b", "c", "d")
SIGNATURE = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in COLUMNS))


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[object], np.ndarray]:
    root = tmp_path_factory.mktemp("ensemble")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 3] > 0).astype(int)
    fitted: list[object] = [
        LogisticRegression(C=1.0).fit(x, y),
        DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y),
        LogisticRegression(C=0.01).fit(x[:, :4] * 2, y),
    ]
    paths = []
    for i, model in enumerate(fitted):
        pkg = package_model(model, root / f"m{i}", signature=SIGNATURE)
        paths.append(str(pkg.path))
    other = ModelSignature(
        inputs=(ColumnSpec(name="rooms", type="double"), ColumnSpec(name="floor", type="int64"))
    )
    x2 = rng.normal(size=(50, 2))
    paths.append(
        str(package_model(LinearRegression().fit(x2, x2[:, 0]), root / "other", signature=other).path)
    )
    return paths, fitted, x[:40]


def _rows(x: np.ndarray) -> dict[str, np.ndarray]:
    return {n: x[:, i] for i, n in enumerate(COLUMNS)}


def test_vote_mean_and_weighted_combine_the_members(
    members: tuple[list[str], list[object], np.ndarray],
) -> None:
    paths, fitted, x = members
    vote = load_ensemble(EnsembleSource(name="v", members=tuple(paths[:3]), combine=Combine.VOTE))
    rows = from_columns(vote.schema, _rows(x), as_matrix=vote.accepts_matrix)
    labels = np.stack([m.predict(x) for m in fitted], axis=1)  # type: ignore[attr-defined]
    majority = (labels.sum(axis=1) >= 2).astype(int)
    assert vote.predict(rows)["predict"].tolist() == majority.tolist()
    assert not vote.has_probabilities and vote.flavor == "ensemble"

    mean = load_ensemble(EnsembleSource(name="m", members=tuple(paths[:2]), combine=Combine.MEAN))
    expected = (fitted[0].predict_proba(x) + fitted[1].predict_proba(x)) / 2  # type: ignore[attr-defined]
    out = mean.predict(rows)
    np.testing.assert_allclose(out["predict_proba"], expected)
    assert out["predict"].tolist() == np.argmax(expected, axis=1).tolist()

    weighted = load_ensemble(
        EnsembleSource(name="w", members=tuple(paths[:2]), combine=Combine.WEIGHTED, weights=(3, 0))
    )
    np.testing.assert_allclose(weighted.predict(rows)["predict_proba"], fitted[0].predict_proba(x))  # type: ignore[attr-defined]


def test_members_with_another_signature_are_refused(
    members: tuple[list[str], list[object], np.ndarray],
) -> None:
    paths, _, _ = members
    with pytest.raises(InvalidInput) as err:
        load_ensemble(EnsembleSource(name="bad", members=(paths[0], paths[3])))
    assert (
        "member" in str(err.value) and "same input signature" in str(err.value) and paths[3] in str(err.value)
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"name": "e", "ensemble": {"members": ["models:/a@b"]}}, "at least two members"),
        (
            {"name": "e", "ensemble": {"combine": "max", "members": ["x", "y"]}},
            "combine must be vote, mean or weighted",
        ),
        (
            {"name": "e", "ensemble": {"combine": "weighted", "members": ["x", "y"], "weights": [1]}},
            "one non-negative",
        ),
        ({"name": "e", "uri": "models:/a@b", "ensemble": {"members": ["x", "y"]}}, "not a uri"),
    ],
)
def test_bad_ensemble_config_is_named(doc: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ServeConfig.from_mapping({"models": [doc]})
    assert message in str(err.value)


def test_ensemble_served_over_v2(members: tuple[list[str], list[object], np.ndarray]) -> None:
    paths, fitted, x = members
    config = ServeConfig.from_mapping(
        {
            "models": [
                {
                    "name": "ens",
                    "ensemble": {"combine": "mean", "members": paths[:2]},
                    "output": {"decimals": 3},
                }
            ]
        }
    )
    source = config.models[0]
    assert isinstance(source, EnsembleSource)
    ensemble = load_ensemble(source)
    body = {"inputs": [{"name": "m", "shape": [5, 4], "datatype": "FP64", "data": x[:5].ravel().tolist()}]}
    with serve_in_thread(create_app(DataPlane(ModelRepository([ensemble])))) as url:
        r = httpx.post(f"{url}/v2/models/ens/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o["data"] for o in r.json()["outputs"]}
    expected = (fitted[0].predict_proba(x[:5]) + fitted[1].predict_proba(x[:5])) / 2  # type: ignore[attr-defined]
    np.testing.assert_allclose(outputs["predict_proba"], np.round(expected, 3).ravel())
