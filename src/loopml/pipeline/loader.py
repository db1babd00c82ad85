"""Load a pipeline from ``FILE.py[:NAME]`` or ``package.module[:NAME]``; read ``--param`` overrides.

A file is imported by path (its folder goes on ``sys.path`` so pool and Ray workers can import
its components); a dotted name is imported as an installed module (``loopml.examples.census.pipeline``).
Without ``NAME`` the module must define exactly one module-level :class:`Pipeline`, or a function
``pipeline()`` returning one.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from loopml.errors import InvalidInput
from loopml.pipeline._param_types import coerce_text
from loopml.pipeline.pipeline import Pipeline

__all__ = ["load_pipeline", "parse_param_overrides"]


def _split_target(target: str) -> tuple[Path, str | None]:
    path_text, sep, name = target.rpartition(":")
    if not sep or not path_text or "/" in name or name.endswith(".py"):
        return Path(target), None  # no NAME (or a Windows drive letter)
    return Path(path_text), name or None


_USAGE = "pass FILE.py[:NAME] or an importable module such as loopml.examples.census.pipeline"


def _is_module_name(text: str) -> bool:
    """Whether ``text`` reads as a dotted module name (and not as a path)."""
    return not text.endswith(".py") and all(part.isidentifier() for part in text.split("."))


def _import_target(text: str) -> ModuleType:
    path = Path(text)
    if _is_module_name(text) and not path.exists():
        return _import_module(text)
    return _import_file(path)


def _import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and (name == err.name or name.startswith(err.name + ".")):
            raise InvalidInput(f"No pipeline file or module {name!r}; {_USAGE}.") from err
        raise InvalidInput(f"Pipeline module {name!r} failed to import: {type(err).__name__}: {err}") from err
    except InvalidInput as err:
        raise InvalidInput(f"Pipeline module {name!r}: {err}") from err
    except Exception as err:
        raise InvalidInput(f"Pipeline module {name!r} failed to import: {type(err).__name__}: {err}") from err


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise InvalidInput(f"Pipeline file {str(path)!r} does not exist; {_USAGE}.")
    if path.suffix != ".py":
        raise InvalidInput(f"Pipeline file {str(path)!r} is not a .py file; pass FILE.py[:NAME].")
    resolved = path.resolve()
    stem = resolved.stem
    existing = sys.modules.get(stem)
    if stem.isidentifier() and (existing is None or getattr(existing, "__file__", None) == str(resolved)):
        module_name = stem
    else:
        module_name = f"_loopml_pipeline_{hashlib.sha256(str(resolved).encode()).hexdigest()[:12]}"
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"Cannot import {str(path)!r} as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(module_name, None)
        if isinstance(err, InvalidInput):
            raise InvalidInput(f"Pipeline file {str(path)!r}: {err}") from err
        raise InvalidInput(
            f"Pipeline file {str(path)!r} failed to import: {type(err).__name__}: {err}"
        ) from err
    return module


def _from_object(obj: Any, *, where: str) -> Pipeline:
    if isinstance(obj, Pipeline):
        return obj
    if callable(obj):
        made = obj()
        if isinstance(made, Pipeline):
            return made
        raise InvalidInput(f"{where}() returned {type(made).__name__}, not a Pipeline.")
    raise InvalidInput(f"{where} is a {type(obj).__name__}, not a Pipeline or a function returning one.")


def load_pipeline(target: str) -> Pipeline:
    """Import ``FILE.py[:NAME]`` or ``package.module[:NAME]`` and return its pipeline.

    Args:
        target: A path to a Python file or a dotted module name, optionally ``:NAME`` of a
            Pipeline object or of a function returning one.

    Returns:
        The pipeline.

    Raises:
        InvalidInput: for a missing file or module, an import error, no pipeline, several
            pipelines (listed) or a NAME that is not a pipeline.
    """
    path, name = _split_target(target)
    module = _import_target(str(path))
    if name is not None:
        if not hasattr(module, name):
            raise InvalidInput(f"{str(path)!r} defines no {name!r}; check the name after ':'.")
        return _from_object(getattr(module, name), where=f"{path}:{name}")
    found = {k: v for k, v in vars(module).items() if isinstance(v, Pipeline) and not k.startswith("_")}
    if len(found) > 1:
        raise InvalidInput(
            f"{str(path)!r} defines several pipelines ({', '.join(sorted(found))}); "
            f"pick one with {path}:NAME."
        )
    if found:
        return next(iter(found.values()))
    factory = getattr(module, "pipeline", None)
    if callable(factory):
        return _from_object(factory, where=f"{path}:pipeline")
    raise InvalidInput(
        f"{path} defines no pipeline; define a module-level Pipeline or name it with {path}:NAME."
    )


def parse_param_overrides(pipeline: Pipeline, items: Sequence[str]) -> dict[str, Any]:
    """Turn ``["epochs=5", "lr=0.1"]`` into typed values using the pipeline's parameter types.

    Raises:
        InvalidInput: for an item without ``=``, an unknown parameter or a value of the wrong type.

    Example:
        >>> from loopml.pipeline import Dataset, Parameter, Pipeline, component
        >>> @component
        ... def make(*, rows: int = 1) -> Dataset:
        ...     return Dataset.from_properties({})
        >>> p = Pipeline("p", steps=[make(rows=Parameter(name="rows", type=int, default=1))])
        >>> parse_param_overrides(p, ["rows=7"])
        {'rows': 7}
    """
    values: dict[str, Any] = {}
    params: Mapping[str, Any] = pipeline.parameters
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"--param {item!r}: expected KEY=VALUE.")
        param = params.get(key)
        if param is None:
            known = ", ".join(params) or "none"
            raise InvalidInput(
                f"Pipeline {pipeline.name!r} has no parameter {key!r}; its parameters: {known}."
            )
        values[key] = coerce_text(text, param.type, what=key)
    return values
