"""scikit-learn models saved with skops (never pickle); loading trusts only allow-listed types."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from loopml.errors import InvalidInput, UnsafeArtifact
from loopml.registry.flavors import _skops_defaults
from loopml.registry.flavors._tree_bounds import check_tree_bounds

__all__ = ["SKOPS_TRUSTED_PREFIXES", "SklearnFlavor", "load_skops", "save_skops"]

#: Types under these modules may be constructed when a skops file is loaded.
SKOPS_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
# Names under trusted prefixes that still reach files, code or the network.
_DENIED_PARTS = (
    "numpy.load",
    "numpy.save",
    "numpy.fromfile",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.testing",
    "numpy.ctypeslib",
    "numpy.lib.format",
    "scipy.io",
    "sklearn.datasets",
    "sklearn.utils._testing",
    "sklearn.externals",
)
_FILE = "model.skops"


def _is_allowed(type_name: str) -> bool:
    return type_name.startswith(SKOPS_TRUSTED_PREFIXES) and not any(
        type_name == part or type_name.startswith(part + ".") for part in _DENIED_PARTS
    )


def _skops_io() -> ModuleType:
    """``skops.io``, imported with the narrowed default lists (see ``_skops_defaults``).

    Imported here, not at the top, because the narrowed lists must be in place first.
    """
    _skops_defaults.install()
    import skops.io

    module: ModuleType = skops.io
    return module


def save_skops(obj: Any, path: Path) -> None:
    """Write a scikit-learn object to ``path`` with skops."""
    _skops_io().dump(obj, path)


def load_skops(path: Path) -> Any:
    """Load a skops file, trusting only scikit-learn / NumPy / SciPy types.

    Raises:
        UnsafeArtifact: the file needs a type outside the allowlist, naming every such type; or
            a decision tree in it has indices outside its arrays (see ``_tree_bounds``).
    """
    sio = _skops_io()
    untrusted: list[str] = sio.get_untrusted_types(file=path)
    refused = sorted(t for t in untrusted if not _is_allowed(t))
    if refused:
        raise UnsafeArtifact(
            f"{path.name} needs types outside the allowlist ({', '.join(SKOPS_TRUSTED_PREFIXES)}): "
            f"{', '.join(refused)}. Refusing to load it; re-save the model with standard "
            "scikit-learn components or package it with the signed 'python' flavor."
        )
    loaded = sio.load(path, trusted=list(untrusted))
    check_tree_bounds(loaded)
    return loaded


class SklearnFlavor:
    """scikit-learn estimators and pipelines, stored as ``model.skops``."""

    name = "sklearn"
    runs_code = False

    def handles(self, model: object) -> bool:
        """True for scikit-learn estimators (pipelines included)."""
        return isinstance(model, BaseEstimator)

    def framework_versions(self) -> dict[str, str]:
        """scikit-learn and skops versions."""
        return {p: importlib.metadata.version(p) for p in ("scikit-learn", "skops", "numpy")}

    def save(self, model: Any, directory: Path) -> list[str]:
        """Write ``model.skops``."""
        save_skops(model, directory / _FILE)
        return [_FILE]

    def load(self, directory: Path, files: Sequence[str]) -> Any:
        """Load ``model.skops`` through the type allowlist."""
        return load_skops(directory / files[0])

    def predict(self, model: Any, data: Any) -> np.ndarray:
        """``model.predict(data)``."""
        return np.asarray(model.predict(data))

    def predict_proba(self, model: Any, data: Any) -> np.ndarray:
        """``model.predict_proba(data)``; InvalidInput for models without probabilities."""
        if not hasattr(model, "predict_proba"):
            raise InvalidInput(f"{type(model).__name__} has no predict_proba; call predict instead.")
        return np.asarray(model.predict_proba(data))
