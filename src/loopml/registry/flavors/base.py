"""The :class:`Flavor` protocol and the registry of flavors by name.

A flavor knows how to write one kind of model to files in a safe format, read it back and call
it. Flavors are looked up by name; the modules of optional libraries (XGBoost, LightGBM, ONNX)
are imported only when their flavor is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from loopml.errors import InvalidInput

__all__ = ["Flavor", "flavor_for", "flavor_names", "get_flavor", "register_flavor"]


@runtime_checkable
class Flavor(Protocol):
    """How one kind of model is saved, loaded and called.

    Attributes:
        name: The flavor name written to ``model.yaml``.
        runs_code: True when loading executes code shipped in the package (the ``python``
            flavor); such packages load only with a signature by a trusted key.
    """

    name: str
    runs_code: bool

    def handles(self, model: object) -> bool:
        """Whether this flavor can save ``model``."""
        ...

    def framework_versions(self) -> dict[str, str]:
        """Library name → installed version, recorded in ``model.yaml``."""
        ...

    def save(self, model: Any, directory: Path) -> list[str]:
        """Write ``model`` into the (existing, empty) ``directory``; return the POSIX paths written."""
        ...

    def load(self, directory: Path, files: Sequence[str]) -> Any:
        """Read the model back from ``files`` (relative to ``directory``)."""
        ...

    def predict(self, model: Any, data: Any) -> np.ndarray:
        """Predictions for ``data``."""
        ...

    def predict_proba(self, model: Any, data: Any) -> np.ndarray:
        """Class probabilities for ``data``; InvalidInput when the model has none."""
        ...


_FACTORIES: dict[str, Callable[[], Flavor] | str] = {
    "sklearn": "loopml.registry.flavors.sklearn:SklearnFlavor",
    "xgboost": "loopml.registry.flavors.xgboost:XGBoostFlavor",
    "lightgbm": "loopml.registry.flavors.lightgbm:LightGBMFlavor",
    "onnx": "loopml.registry.flavors.onnx:OnnxFlavor",
    "python": "loopml.registry.flavors.python:PythonFlavor",
}
# Top-level module of a model's class → flavor name (checked without importing the library).
_BY_MODULE = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "onnx": "onnx",
    "loopml": "python",  # PythonModelCode
}


def register_flavor(name: str, factory: Callable[[], Flavor]) -> None:
    """Make a flavor available by ``name`` (replacing a built-in one of that name)."""
    _FACTORIES[name] = factory


def flavor_names() -> list[str]:
    """Names of every known flavor."""
    return sorted(_FACTORIES)


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``.

    Raises:
        InvalidInput: no such flavor, listing the known ones.
        MissingDependency: the flavor's optional library is not installed.

    Example:
        >>> get_flavor("sklearn").name
        'sklearn'
    """
    factory = _FACTORIES.get(name)
    if factory is None:
        raise InvalidInput(f"Unknown model flavor {name!r}; known flavors: {', '.join(flavor_names())}.")
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
    flavor = factory()
    if not isinstance(flavor, Flavor):
        raise InvalidInput(f"Flavor factory for {name!r} returned {flavor!r}, which is not a Flavor.")
    return flavor


def flavor_for(model: object) -> Flavor:
    """The flavor that saves ``model``, chosen by the top-level module of its class.

    Raises:
        InvalidInput: no flavor recognises the model; pass ``flavor=`` explicitly.
    """
    top = type(model).__module__.split(".")[0]
    name = _BY_MODULE.get(top)
    if name is not None:
        flavor = get_flavor(name)
        if flavor.handles(model):
            return flavor
    raise InvalidInput(
        f"No flavor recognises a model of type {type(model).__module__}.{type(model).__qualname__}; "
        f"pass flavor= one of {', '.join(flavor_names())}."
    )
