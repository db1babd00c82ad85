"""LightGBM models in LightGBM's text format (``Booster.save_model``), never pickle."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loopml.errors import IntegrityError, InvalidInput, require_extra

require_extra("lightgbm", extra="lightgbm", feature="The LightGBM model flavor")

import lightgbm as lgb  # noqa: E402

__all__ = ["LightGBMFlavor", "LoadedLightGBM"]

_MODEL, _META = "model.txt", "lightgbm.meta.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedLightGBM:
    """A loaded booster plus what the scikit-learn wrapper knew (task, class labels)."""

    booster: Any
    task: str
    classes: tuple[Any, ...] = ()


class LightGBMFlavor:
    """LightGBM boosters and scikit-learn wrappers (loaded back as a booster)."""

    name = "lightgbm"
    runs_code = False

    def handles(self, model: object) -> bool:
        """True for ``lightgbm.Booster`` and ``LGBMModel`` subclasses."""
        return isinstance(model, lgb.Booster | lgb.LGBMModel)

    def framework_versions(self) -> dict[str, str]:
        """The installed lightgbm version."""
        return {"lightgbm": str(lgb.__version__)}

    def save(self, model: Any, directory: Path) -> list[str]:
        """Write ``model.txt`` and a meta file with the task and class labels."""
        booster = model if isinstance(model, lgb.Booster) else model.booster_
        booster.save_model(str(directory / _MODEL))
        meta: dict[str, Any] = {"task": "booster"}
        if isinstance(model, lgb.LGBMClassifier):
            meta = {"task": "classifier", "classes": np.asarray(model.classes_).tolist()}
        elif isinstance(model, lgb.LGBMModel):
            meta = {"task": "regressor"}
        (directory / _META).write_text(json.dumps(meta, sort_keys=True) + "\n", encoding="utf-8")
        return [_MODEL, _META]

    def load(self, directory: Path, files: Sequence[str]) -> LoadedLightGBM:
        """Load the text model into a booster."""
        by_name = {Path(f).name: directory / f for f in files}
        meta = json.loads(by_name[_META].read_text(encoding="utf-8"))
        task = meta.get("task")
        if task not in ("booster", "classifier", "regressor"):
            raise IntegrityError(f"{_META} names task {task!r}; expected booster, classifier or regressor.")
        booster = lgb.Booster(model_file=str(by_name[_MODEL]))
        return LoadedLightGBM(booster=booster, task=task, classes=tuple(meta.get("classes") or ()))

    def predict(self, model: LoadedLightGBM | Any, data: Any) -> np.ndarray:
        """Class labels for classifiers, raw booster output otherwise."""
        if not isinstance(model, LoadedLightGBM):  # an in-memory LightGBM object
            return np.asarray(model.predict(data))
        if model.task == "classifier":
            proba = self.predict_proba(model, data)
            labels: np.ndarray = np.asarray(model.classes)[np.argmax(proba, axis=1)]
            return labels
        return np.asarray(model.booster.predict(data))

    def predict_proba(self, model: LoadedLightGBM | Any, data: Any) -> np.ndarray:
        """Class probabilities (binary output expanded to two columns)."""
        if not isinstance(model, LoadedLightGBM):
            return np.asarray(model.predict_proba(data))
        if model.task != "classifier":
            raise InvalidInput(f"A LightGBM {model.task} has no predict_proba; call predict instead.")
        raw = np.asarray(model.booster.predict(data))
        return np.asarray(np.column_stack([1.0 - raw, raw])) if raw.ndim == 1 else raw
