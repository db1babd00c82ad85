"""The narrowed skops default lists trust exactly what skops' own lists and the allowlist trust."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.registry.flavors import _skops_defaults
from loopml.registry.flavors.sklearn import _is_allowed

_SKOPS_OWN = """
import json
import skops.io._trusted_types as t
print(json.dumps({n: list(getattr(t, n)) for n in dir(t) if n.endswith("_TYPE_NAMES")}))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def skops_own() -> dict[str, list[str]]:
    """skops' own default lists, built in a fresh interpreter as skops builds them."""
    proc = _run(_SKOPS_OWN)
    assert proc.returncode == 0, proc.stderr
    lists: dict[str, list[str]] = json.loads(proc.stdout)
    return lists


def test_every_list_skops_defines_is_defined(skops_own: dict[str, list[str]]) -> None:
    narrowed = _skops_defaults.narrowed_defaults()
    assert sorted(n for n in dir(narrowed) if n.endswith("_TYPE_NAMES")) == sorted(skops_own)


def test_kept_lists_equal_skops_own(skops_own: dict[str, list[str]]) -> None:
    narrowed = _skops_defaults.narrowed_defaults()
    for name, names in skops_own.items():
        if name not in _skops_defaults.EMPTIED:
            assert getattr(narrowed, name) == names, name


def test_emptied_lists_hold_only_names_the_allowlist_accepts(skops_own: dict[str, list[str]]) -> None:
    emptied = [n for name in _skops_defaults.EMPTIED for n in skops_own[name]]
    assert len(emptied) > 100  # scikit-learn estimators, SciPy and NumPy ufuncs, NumPy dtypes
    assert [n for n in emptied if not _is_allowed(n)] == []


_LOAD = """
import json, pickle, sys
from pathlib import Path
from loopml.errors import UnsafeArtifact
from loopml.registry.flavors.sklearn import load_skops
model = load_skops(Path(sys.argv[1]))
out = {"estimators": len(sys.modules["skops.io._trusted_types"].SKLEARN_ESTIMATOR_TYPE_NAMES),
       "predicted": model.predict([[0.0, 1.0]]).tolist()}
try:
    load_skops(Path(sys.argv[2]))
except UnsafeArtifact as err:
    out["refused"] = str(err)
print(json.dumps(out))
"""


def test_loading_with_the_narrowed_lists_accepts_models_and_refuses_code(tmp_path: Path) -> None:
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    good = tmp_path / "good.skops"
    skops.io.dump(LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0, 1]), good)
    bad = tmp_path / "bad.skops"
    skops.io.dump(make_pipeline(FunctionTransformer(pickle.loads)), bad)
    proc = _run(_LOAD, str(good), str(bad))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["estimators"] == 0  # the narrowed lists were in use
    assert out["predicted"] == [0]
    assert "_pickle.loads" in out["refused"] and "Refusing to load" in out["refused"]
