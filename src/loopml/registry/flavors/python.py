"""Custom Python models: arbitrary code, so a package loads only with a trusted signature."""

from __future__ import annotations

import dataclasses
import importlib.util
import platform
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from loopml.errors import InvalidInput

__all__ = ["PythonFlavor", "PythonModelCode"]

_FILE = "model_code.py"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PythonModelCode:
    """A Python source file that defines ``load_model(directory) -> object with predict``.

    Attributes:
        source: Path of the ``.py`` file; it is copied into the package.
    """

    source: Path

    def __post_init__(self) -> None:
        if not Path(self.source).is_file() or Path(self.source).suffix != ".py":
            raise InvalidInput(f"PythonModelCode.source must be an existing .py file, got {self.source}.")


class PythonFlavor:
    """Custom code; loading it imports and runs that code (``runs_code`` is True)."""

    name = "python"
    runs_code = True

    def handles(self, model: object) -> bool:
        """True for :class:`PythonModelCode`."""
        return isinstance(model, PythonModelCode)

    def framework_versions(self) -> dict[str, str]:
        """The Python version."""
        return {"python": platform.python_version()}

    def save(self, model: Any, directory: Path) -> list[str]:
        """Copy the source file in as ``model_code.py``."""
        if not isinstance(model, PythonModelCode):
            raise InvalidInput(f"The python flavor saves PythonModelCode, got {type(model).__name__}.")
        shutil.copyfile(model.source, directory / _FILE)
        return [_FILE]

    def load(self, directory: Path, files: Sequence[str]) -> Any:
        """Import the code and call its ``load_model(directory)``; callers check trust first."""
        path = directory / files[0]
        spec = importlib.util.spec_from_file_location(f"_loopml_python_model_{id(path)}", path)
        if spec is None or spec.loader is None:
            raise InvalidInput(f"Cannot import {path}.")
        module = importlib.util.module_from_spec(spec)
        sys.modules.pop(spec.name, None)
        spec.loader.exec_module(module)
        loader = getattr(module, "load_model", None)
        if not callable(loader):
            raise InvalidInput(f"{files[0]} must define load_model(directory) returning the model.")
        return loader(path.parent)

    def predict(self, model: Any, data: Any) -> np.ndarray:
        """``model.predict(data)``."""
        return np.asarray(model.predict(data))

    def predict_proba(self, model: Any, data: Any) -> np.ndarray:
        """``model.predict_proba(data)`` when the custom model has one."""
        if not hasattr(model, "predict_proba"):
            raise InvalidInput(f"{type(model).__name__} has no predict_proba; call predict instead.")
        return np.asarray(model.predict_proba(data))
