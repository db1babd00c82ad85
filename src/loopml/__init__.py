"""loopml: the whole machine-learning lifecycle in one package.

The fluent tracking SDK lives here as a facade over one lazily created default
:class:`loopml.tracking.Client` (see :mod:`loopml.tracking.fluent`). Its functions load on first
use, so ``import loopml`` stays fast and opens nothing.

Example:
    >>> import tempfile, loopml
    >>> _ = loopml.set_settings(home=tempfile.mkdtemp())
    >>> with loopml.start_run("quick") as run:
    ...     loopml.log_param("alpha", 0.1)
    >>> loopml.get_run(run.run_id).params["alpha"]
    '0.1'
    >>> loopml.reset()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from loopml._predict import predict
    from loopml.tracking.fluent import (
        active_run,
        end_run,
        get_client,
        get_run,
        log_artifact,
        log_dict,
        log_input,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_text,
        reset,
        search_runs,
        set_settings,
        set_tag,
        set_tags,
        start_run,
    )

__all__ = [
    "__version__",
    "active_run",
    "end_run",
    "get_client",
    "get_run",
    "log_artifact",
    "log_dict",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "predict",
    "reset",
    "search_runs",
    "set_settings",
    "set_tag",
    "set_tags",
    "start_run",
]

_FLUENT = frozenset(__all__) - {"__version__", "predict"}


def __getattr__(name: str) -> Any:
    if name == "predict":
        return importlib.import_module("loopml._predict").predict
    if name in _FLUENT:
        return getattr(importlib.import_module("loopml.tracking.fluent"), name)
    raise AttributeError(f"module 'loopml' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The SDK (``__all__``), not this module's imports and helpers: what completion offers."""
    return sorted(__all__)
