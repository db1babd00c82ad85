"""The fluent SDK behind ``loopml.start_run`` and friends: one lazily created default :class:`Client`.

The default client is built from :func:`loopml.config.load_settings` on first use;
:func:`set_settings` replaces it (tests point it at a temporary folder) and :func:`reset` drops it.
The active-run stack lives in the client and is context-local, so threads and async tasks each
see their own active run.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

from loopml.config import Settings, load_settings
from loopml.errors import InvalidState
from loopml.store.entities import Artifact, Page, Run, RunStatus
from loopml.tracking.active_run import ActiveRun
from loopml.tracking.client import DEFAULT_EXPERIMENT, Client

__all__ = [
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
    "reset",
    "search_runs",
    "set_settings",
    "set_tag",
    "set_tags",
    "start_run",
]

_lock = threading.Lock()
_client: Client | None = None
_settings: Settings | None = None


def set_settings(settings: Settings | None = None, **overrides: Any) -> Settings:
    """Use ``settings`` (or ``load_settings(**overrides)``) for the default client from now on.

    The current default client is flushed and closed first.

    Example:
        >>> import tempfile, loopml
        >>> loopml.set_settings(home=tempfile.mkdtemp()).metric_flush_size
        1000
        >>> loopml.reset()
    """
    global _settings
    chosen = settings if settings is not None else load_settings(**overrides)
    reset()
    with _lock:
        _settings = chosen
    return chosen


def reset() -> None:
    """Flush and close the default client and forget settings given to :func:`set_settings`."""
    global _client, _settings
    with _lock:
        client, _client, _settings = _client, None, None
    if client is not None:
        client.close()


def get_client() -> Client:
    """The default client, created on first use."""
    global _client
    with _lock:
        if _client is None:
            _client = Client(_settings if _settings is not None else load_settings())
        return _client


def active_run() -> ActiveRun | None:
    """The innermost active run in this context, or None."""
    return get_client().active_run()


def _active() -> ActiveRun:
    run = active_run()
    if run is None:
        raise InvalidState(
            "No active run: call loopml.start_run() (or use `with loopml.start_run():`) first."
        )
    return run


def start_run(
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    *,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    seeds: Mapping[str, int] | None = None,
) -> ActiveRun:
    """Start a run and make it the active run; use it as a context manager to end it.

    Raises:
        InvalidState: a run is already active and ``nested`` is False.

    Example:
        >>> import tempfile, loopml
        >>> _ = loopml.set_settings(home=tempfile.mkdtemp())
        >>> with loopml.start_run("demo") as run:
        ...     loopml.log_metric("loss", 0.25)
        >>> loopml.get_run(run.run_id).metrics["loss"]
        0.25
        >>> loopml.reset()
    """
    client = get_client()
    current = client.active_run()
    if current is not None and not nested and parent_run_id is None:
        raise InvalidState(
            f"Run {current.run_id} is already active. End it first, or pass nested=True to start a child run."
        )
    return client.start_run(
        experiment, run_name, parent_run_id=parent_run_id, nested=nested, tags=tags, seeds=seeds
    )


def end_run(status: RunStatus = RunStatus.FINISHED) -> None:
    """End the active run (nothing happens when no run is active)."""
    run = active_run()
    if run is not None:
        get_client().end_run(run.run_id, status)


def log_param(key: str, value: Any) -> None:
    """Log a param of the active run."""
    _active().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log params of the active run."""
    _active().log_params(params)


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
    """Log a metric point of the active run (buffered)."""
    _active().log_metric(key, value, step=step, timestamp=timestamp)


def log_metrics(metrics: Mapping[str, float], *, step: int | None = None) -> None:
    """Log metric points of the active run at one step (buffered)."""
    _active().log_metrics(metrics, step=step)


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the active run."""
    _active().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set tags of the active run."""
    _active().set_tags(tags)


def log_artifact(path: str | PathLike[str], name: str | None = None, *, type: str = "File") -> list[Artifact]:
    """Store a file or directory as outputs of the active run."""
    return _active().log_artifact(path, name, type=type)


def log_dict(obj: Any, name: str) -> Artifact:
    """Store ``obj`` as JSON or YAML output of the active run."""
    return _active().log_dict(obj, name)


def log_text(text: str, name: str) -> Artifact:
    """Store ``text`` as output of the active run."""
    return _active().log_text(text, name)


def log_input(artifact: Artifact | str, role: str = "dataset") -> None:
    """Record an artifact as input of the active run."""
    _active().log_input(artifact, role=role)


def get_run(run_id: str) -> Run:
    """A run by id."""
    return get_client().get_run(run_id)


def search_runs(
    experiments: str | Sequence[str] = DEFAULT_EXPERIMENT,
    *,
    filter: str | None = None,
    order_by: str | Sequence[str] = (),
    max_results: int = 1000,
    page_token: str | None = None,
) -> Page[Run]:
    """Search runs of experiments given by name or id."""
    return get_client().search_runs(
        experiments, filter=filter, order_by=order_by, max_results=max_results, page_token=page_token
    )
