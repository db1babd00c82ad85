"""Resolve a user training function named ``module:function`` and call it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from loopml.errors import InvalidInput

__all__ = ["TrainFn", "resolve_trainer"]

TrainFn = Callable[[Any, Any, Mapping[str, Any]], Any]


def resolve_trainer(target: str) -> TrainFn:
    """The function at ``module:function`` (or ``module.function``).

    Raises:
        InvalidInput: the module cannot be imported or has no such callable.

    Example:
        >>> resolve_trainer("loopml.components.trainers:logistic_regression").__name__
        'logistic_regression'
    """
    module_name, sep, attr = target.partition(":")
    if not sep:
        module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise InvalidInput(f"trainer must be 'module:function'. Got {target!r}.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidInput(f"trainer {target!r}: cannot import {module_name!r} ({err}).") from err
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InvalidInput(f"trainer {target!r}: {module_name} has no function {attr!r}.")
    return fn  # type: ignore[no-any-return]
