"""A skops file whose decision trees point outside their arrays is refused at load (scikit-learn's
tree code trusts those indices; a crafted file could make predict read out of bounds), while
every common tree model loads as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    IsolationForest,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from loopml.errors import UnsafeArtifact
from loopml.registry.flavors.sklearn import load_skops, save_skops

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 5))
Y = (X[:, 0] + X[:, 1] > 0).astype(int)
Y3 = RNG.integers(0, 3, 300)


@pytest.mark.parametrize(
    "fit",
    [
        lambda: DecisionTreeClassifier().fit(X, Y),
        lambda: DecisionTreeRegressor().fit(X, X[:, 0]),
        lambda: RandomForestClassifier(5).fit(X, Y3),
        lambda: GradientBoostingClassifier(n_estimators=5).fit(X, Y3),
        lambda: HistGradientBoostingClassifier(max_iter=5).fit(X, Y),
        lambda: ExtraTreesRegressor(5).fit(X, X[:, 0]),
        lambda: IsolationForest(n_estimators=5).fit(X),
        lambda: make_pipeline(StandardScaler(), RandomForestClassifier(5)).fit(X, Y),
    ],
)
def test_tree_models_load_and_predict_as_saved(fit: Callable[[], Any], tmp_path: Path) -> None:
    model = fit()
    save_skops(model, tmp_path / "m.skops")
    loaded = load_skops(tmp_path / "m.skops")
    assert np.array_equal(loaded.predict(X), model.predict(X))


def _tamper_child(m: DecisionTreeClassifier) -> None:
    m.tree_.children_left[0] = 10**6


def _tamper_feature(m: RandomForestClassifier) -> None:
    m.estimators_[1].tree_.feature[0] = 99


def _tamper_one_child(m: DecisionTreeClassifier) -> None:
    leaf = int(np.flatnonzero(m.tree_.children_left == -1)[0])
    m.tree_.children_left[leaf] = 1


def _tamper_predictor(m: HistGradientBoostingClassifier) -> None:
    m._predictors[1][0].nodes["left"][0] = 5000


@pytest.mark.parametrize(
    ("fit", "tamper", "message"),
    [
        (
            lambda: DecisionTreeClassifier().fit(X, Y),
            _tamper_child,
            "DecisionTreeClassifier.tree_: node 0 has left child 1000000",
        ),
        (
            lambda: RandomForestClassifier(3).fit(X, Y),
            _tamper_feature,
            "estimators_[1].tree_: node 0 splits on feature 99 of 5",
        ),
        (lambda: DecisionTreeClassifier().fit(X, Y), _tamper_one_child, "a node has one child"),
        (
            lambda: HistGradientBoostingClassifier(max_iter=3).fit(X, Y),
            _tamper_predictor,
            "_predictors[1][0]: node 0 has left child 5000",
        ),
    ],
)
def test_trees_pointing_outside_their_arrays_are_refused(
    fit: Callable[[], Any], tamper: Callable[[Any], None], message: str, tmp_path: Path
) -> None:
    model = fit()
    tamper(model)
    save_skops(model, tmp_path / "m.skops")
    with pytest.raises(UnsafeArtifact) as refused:
        load_skops(tmp_path / "m.skops")
    assert message in str(refused.value) and "out of bounds" in str(refused.value)


_FRESH_LOAD = """
import json, sys
from loopml.errors import UnsafeArtifact
from loopml.registry.flavors.sklearn import load_skops

def trees():
    return sorted({"sklearn.tree._tree", "sklearn.ensemble"} & set(sys.modules))

before = trees()
try:
    load_skops(sys.argv[1])
    outcome = "loaded"
except UnsafeArtifact as err:
    outcome = str(err)
print(json.dumps({"before": before, "outcome": outcome, "after": trees()}))
"""


def _load_in_fresh_process(path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", _FRESH_LOAD, str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_a_model_without_trees_loads_without_importing_the_ensembles(tmp_path: Path) -> None:
    save_skops(LogisticRegression().fit(X, Y), tmp_path / "m.skops")
    result = _load_in_fresh_process(tmp_path / "m.skops")
    assert result["outcome"] == "loaded"
    assert "sklearn.ensemble" not in result["after"]  # the histogram-boosting predictor's package


@pytest.mark.parametrize(
    ("fit", "tamper", "message"),
    [
        (lambda: DecisionTreeClassifier().fit(X, Y), _tamper_child, "node 0 has left child 1000000"),
        (lambda: HistGradientBoostingClassifier(max_iter=3).fit(X, Y), _tamper_predictor, "left child 5000"),
    ],
)
def test_trees_are_checked_when_loading_imports_their_module(
    fit: Callable[[], Any], tamper: Callable[[Any], None], message: str, tmp_path: Path
) -> None:
    model = fit()
    tamper(model)
    save_skops(model, tmp_path / "m.skops")
    result = _load_in_fresh_process(tmp_path / "m.skops")
    assert result["before"] == []
    assert message in result["outcome"]
    assert "sklearn.tree._tree" in result["after"]
