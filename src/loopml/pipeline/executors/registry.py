"""Executors by name (``local``, ``ray``), as the CLI and settings select them."""

from __future__ import annotations

import importlib
from typing import Any

from loopml.errors import InvalidInput
from loopml.pipeline.executors.base import Executor
from loopml.pipeline.executors.local import LocalExecutor

__all__ = ["EXECUTOR_NAMES", "create_executor"]

EXECUTOR_NAMES = ("local", "ray")


def create_executor(name: str, **options: Any) -> Executor:
    """An executor by name; ``ray`` imports Ray only when asked for.

    Raises:
        InvalidInput: for an unknown name (listing the known ones).
        MissingDependency: for ``ray`` without the ``ray`` extra.

    Example:
        >>> create_executor("local").name
        'local'
    """
    if name == "local":
        return LocalExecutor(**options)
    if name == "ray":
        module = importlib.import_module("loopml.pipeline.executors.ray")
        executor: Executor = module.RayExecutor(**options)
        return executor
    raise InvalidInput(f"Unknown executor {name!r}; choose one of: {', '.join(EXECUTOR_NAMES)}.")
