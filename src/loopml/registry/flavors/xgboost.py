"""XGBoost models in XGBoost's own JSON format (``save_model``), never pickle."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from loopml.errors import IntegrityError, InvalidInput, require_extra

require_extra("xgboost", extra="xgboost", feature="The XGBoost model flavor")

import xgboost as xgb  # noqa: E402

__all__ = ["XGBoostFlavor"]

_MODEL, _META = "model.json", "xgboost.meta.json"
_CLASSES: dict[str, type[Any]] = {
    "XGBClassifier": xgb.XGBClassifier,
    "XGBRegressor": xgb.XGBRegressor,
    "XGBRanker": xgb.XGBRanker,
}


class XGBoostFlavor:
    """XGBoost scikit-learn wrappers and raw ``Booster`` objects."""

    name = "xgboost"
    runs_code = False

    def handles(self, model: object) -> bool:
        """True for ``xgboost.Booster`` and the scikit-learn wrappers."""
        return isinstance(model, xgb.Booster) or type(model).__name__ in _CLASSES

    def framework_versions(self) -> dict[str, str]:
        """The installed xgboost version."""
        return {"xgboost": str(xgb.__version__)}

    def save(self, model: Any, directory: Path) -> list[str]:
        """Write ``model.json`` (native JSON) and a small meta file naming the wrapper class."""
        kind = "Booster" if isinstance(model, xgb.Booster) else type(model).__name__
        model.save_model(str(directory / _MODEL))
        (directory / _META).write_text(json.dumps({"class": kind}, sort_keys=True) + "\n", encoding="utf-8")
        return [_MODEL, _META]

    def load(self, directory: Path, files: Sequence[str]) -> Any:
        """Rebuild the recorded class (from a fixed list) and load the JSON model into it."""
        by_name = {Path(f).name: directory / f for f in files}
        meta = json.loads(by_name[_META].read_text(encoding="utf-8"))
        kind = meta.get("class")
        if kind == "Booster":
            booster = xgb.Booster()
            booster.load_model(str(by_name[_MODEL]))
            return booster
        if kind not in _CLASSES:
            raise IntegrityError(
                f"{_META} names class {kind!r}; expected Booster or one of {sorted(_CLASSES)}."
            )
        model = _CLASSES[kind]()
        model.load_model(str(by_name[_MODEL]))
        return model

    def predict(self, model: Any, data: Any) -> np.ndarray:
        """Predictions (a ``DMatrix`` is built for raw boosters)."""
        if isinstance(model, xgb.Booster):
            return np.asarray(model.predict(xgb.DMatrix(data)))
        return np.asarray(model.predict(data))

    def predict_proba(self, model: Any, data: Any) -> np.ndarray:
        """Class probabilities of a classifier."""
        if not hasattr(model, "predict_proba"):
            raise InvalidInput(f"{type(model).__name__} has no predict_proba; call predict instead.")
        return np.asarray(model.predict_proba(data))
