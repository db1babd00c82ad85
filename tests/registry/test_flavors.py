"""One contract over every flavor (save → package → load → same predictions), plus flavor rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from loopml.errors import InvalidInput, UnsafeArtifact
from loopml.registry import (
    KeySigner,
    TrustStore,
    flavor_names,
    get_flavor,
    load_model,
    package_model,
    sign_package,
)
from loopml.registry.flavors.python import PythonModelCode
from loopml.registry.flavors.sklearn import load_skops

Data = tuple[pd.DataFrame, np.ndarray]


def _sklearn(x: pd.DataFrame, y: np.ndarray) -> Any:
    return RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)


def _xgboost(x: pd.DataFrame, y: np.ndarray) -> Any:
    xgb = pytest.importorskip("xgboost")
    return xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)


def _lightgbm(x: pd.DataFrame, y: np.ndarray) -> Any:
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(x, y)


@pytest.mark.parametrize("make", [_sklearn, _xgboost, _lightgbm], ids=["sklearn", "xgboost", "lightgbm"])
def test_flavor_contract_round_trip(make: Any, training_data: Data, tmp_path: Path) -> None:
    frame, labels = training_data
    model = make(frame, labels)
    package = package_model(model, tmp_path / "pkg", sample=frame)
    predictor = load_model(package.path)
    assert predictor.package.spec.flavor == predictor.flavor.name
    np.testing.assert_array_equal(predictor.predict(frame), model.predict(frame))
    np.testing.assert_allclose(predictor.predict_proba(frame), model.predict_proba(frame), rtol=1e-6)
    assert not any(f.endswith((".pkl", ".pickle", ".joblib")) for f in package.spec.files)


def test_flavor_registry_names_and_errors() -> None:
    assert {"sklearn", "xgboost", "lightgbm", "onnx", "python"} <= set(flavor_names())
    with pytest.raises(InvalidInput, match=r"Unknown model flavor 'torch'.*sklearn"):
        get_flavor("torch")
    with pytest.raises(InvalidInput, match="No flavor recognises"):
        package_model(object(), Path("unused"))


def _shout(values: Any) -> Any:
    return values


def test_skops_types_outside_the_allowlist_are_named(tmp_path: Path) -> None:
    path = tmp_path / "t.skops"
    skops.io.dump(FunctionTransformer(func=_shout), path)
    with pytest.raises(UnsafeArtifact, match=r"test_flavors\._shout"):
        load_skops(path)


def test_regressor_has_no_predict_proba(training_data: Data, tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    frame, labels = training_data
    package = package_model(Ridge().fit(frame, labels), tmp_path / "pkg")
    with pytest.raises(InvalidInput, match="Ridge has no predict_proba"):
        load_model(package.path).predict_proba(frame)


_CODE = """
class _Model:
    def predict(self, rows):
        return [len(rows)] * len(rows)


def load_model(directory):
    return _Model()
"""


def test_python_flavor_needs_a_trusted_signature(
    tmp_path: Path, signing_key: KeySigner, trust_store: TrustStore
) -> None:
    source = tmp_path / "custom.py"
    source.write_text(_CODE)
    package = package_model(PythonModelCode(source=source), tmp_path / "pkg")
    with pytest.raises(UnsafeArtifact, match=r"runs the code it ships.*signature absent"):
        load_model(package.path, trust_store=trust_store)
    sign_package(package.path, signing_key)
    with pytest.raises(UnsafeArtifact, match="signature unchecked"):
        load_model(package.path)  # signed, but nobody checked by whom
    predictor = load_model(package.path, trust_store=trust_store)
    assert list(predictor.predict([1, 2, 3])) == [3, 3, 3]


def test_onnx_conversion_kept_when_it_matches(
    training_data: Data, fitted: tuple[StandardScaler, LogisticRegression], tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    frame, _ = training_data
    transform, model = fitted
    package = package_model(
        model, tmp_path / "pkg", flavor="onnx", transform=transform, sample=frame, eval_data=frame
    )
    assert package.spec.flavor == "onnx" and package.spec.files == ("model/model.onnx",)
    assert package.spec.conversion["kept"] is True
    assert package.spec.conversion["max_abs_diff"] <= 1e-5
    predictor = load_model(package.path)
    np.testing.assert_array_equal(predictor.predict(frame), model.predict(transform.transform(frame)))
    np.testing.assert_allclose(
        predictor.predict_proba(frame), model.predict_proba(transform.transform(frame)), atol=1e-5
    )


def test_onnx_conversion_dropped_when_outside_tolerance(
    training_data: Data, fitted: tuple[StandardScaler, LogisticRegression], tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    frame, _ = training_data
    transform, model = fitted
    # float32 inference differs from float64 by ~1e-7; a zero tolerance cannot be met
    package = package_model(
        model, tmp_path / "pkg", flavor="onnx", transform=transform, eval_data=frame, onnx_atol=0.0
    )
    assert package.spec.flavor == "sklearn"
    assert package.spec.conversion["kept"] is False and package.spec.conversion["max_abs_diff"] > 0.0
    assert not (package.path / "model" / "model.onnx").exists()
    np.testing.assert_array_equal(
        load_model(package.path).predict(frame), model.predict(transform.transform(frame))
    )


def test_importing_the_registry_loads_no_optional_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, loopml.registry, loopml.cli.keys, loopml.cli.models; "
        "extras = ('onnxruntime', 'xgboost', 'lightgbm', 'skl2onnx', 'model_signing'); "
        "print([m for m in extras if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
