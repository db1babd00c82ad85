"""The handle returned by ``start_run``: a context manager that ends the run with the right status."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from os import PathLike
from types import TracebackType
from typing import TYPE_CHECKING, Any

from loopml.store.entities import Artifact, Run, RunStatus

if TYPE_CHECKING:
    from loopml.tracking.client import Client

__all__ = ["ActiveRun", "describe_error"]


def describe_error(exc: BaseException) -> str:
    """Error type, message and traceback, as recorded in ``Run.error``."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {exc}\n" + "".join(lines)


class ActiveRun:
    """A running run bound to its client.

    On normal exit of a ``with`` block the run is FINISHED; on an exception it is FAILED with the
    error recorded and the exception re-raised; on ``KeyboardInterrupt`` it is KILLED.
    """

    def __init__(self, client: Client, run_id: str) -> None:
        self._client = client
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"ActiveRun(run_id={self.run_id!r})"

    @property
    def run(self) -> Run:
        """The run as stored now (pending metrics flushed first)."""
        return self._client.get_run(self.run_id)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._client.end_run(self.run_id, RunStatus.FINISHED)
        elif isinstance(exc, Exception):
            self._client.end_run(self.run_id, RunStatus.FAILED, error=describe_error(exc))
        else:
            self._client.end_run(self.run_id, RunStatus.KILLED, error=describe_error(exc))

    def end(self, status: RunStatus = RunStatus.FINISHED) -> None:
        """End the run now."""
        self._client.end_run(self.run_id, status)

    def log_param(self, key: str, value: Any) -> None:
        """Log one param (immutable once written)."""
        self._client.log_param(self.run_id, key, value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log several params at once."""
        self._client.log_params(self.run_id, params)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Log one metric point (buffered)."""
        self._client.log_metric(self.run_id, key, value, step=step, timestamp=timestamp)

    def log_metrics(self, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        """Log several metrics at one step (buffered)."""
        self._client.log_metrics(self.run_id, metrics, step=step)

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag (tags may change)."""
        self._client.set_tag(self.run_id, key, value)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags."""
        self._client.set_tags(self.run_id, tags)

    def log_artifact(
        self, path: str | PathLike[str], name: str | None = None, *, type: str = "File"
    ) -> list[Artifact]:
        """Store a file or every file of a directory as outputs of the run."""
        return self._client.log_artifact(self.run_id, path, name, type=type)

    def log_dict(self, obj: Any, name: str) -> Artifact:
        """Store ``obj`` as JSON or YAML (by the suffix of ``name``)."""
        return self._client.log_dict(self.run_id, obj, name)

    def log_text(self, text: str, name: str) -> Artifact:
        """Store ``text`` as a UTF-8 file."""
        return self._client.log_text(self.run_id, text, name)

    def log_input(self, artifact: Artifact | str, role: str = "dataset") -> None:
        """Record ``artifact`` as an input of the run."""
        self._client.log_input(self.run_id, artifact, role=role)
