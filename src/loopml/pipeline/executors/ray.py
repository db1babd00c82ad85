"""The Ray executor: each step is a Ray task (``pip install 'loopml[ray]'``)."""

from __future__ import annotations

import os
import sys
from concurrent.futures import Future
from typing import Any

from loopml.errors import require_extra

require_extra("ray", extra="ray", feature="The Ray pipeline executor")

import ray  # noqa: E402  (after the friendly missing-extra check)

from loopml.pipeline._execution import StepOutcome, StepTask, execute_task  # noqa: E402

__all__ = ["RayExecutor"]


def _run(task: StepTask) -> StepOutcome:
    return execute_task(task)


class RayExecutor:
    """Run each step as a Ray task on the connected cluster (started locally when none is).

    Components must be importable on the workers (module-level functions of a module on the
    workers' path); the blob store root must be reachable from them (a shared path or S3).

    Args:
        address: Ray cluster address; None connects to a running cluster or starts a local one.
        num_cpus: CPUs per step task.
        init_options: Extra ``ray.init`` arguments when this executor starts Ray.
    """

    def __init__(
        self, *, address: str | None = None, num_cpus: float = 1, init_options: dict[str, Any] | None = None
    ) -> None:
        if not ray.is_initialized():
            options = dict(init_options or {})
            # Workers import components by module name: give them this process's import path.
            path = os.pathsep.join(p for p in sys.path if p)
            options.setdefault("runtime_env", {"env_vars": {"PYTHONPATH": path}})
            ray.init(address=address, include_dashboard=False, **options)
        self._remote = ray.remote(num_cpus=num_cpus, max_retries=0)(_run)

    @property
    def name(self) -> str:
        return "ray"

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        """Start ``task`` as a Ray task."""
        ref = self._remote.remote(task)
        future: Future[StepOutcome] = ref.future()
        return future

    def close(self) -> None:
        """Nothing to release: the Ray cluster belongs to whoever started it."""
