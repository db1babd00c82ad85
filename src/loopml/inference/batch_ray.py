"""The ``ray`` engine of batch prediction: partitions scored by a pool of Ray actors.

Each actor loads the model once, from the verified package folder (verified again in the actor),
and scores whole partitions with the same :func:`~loopml.inference.batch_run.score_partition` as
the local engine, so results are identical. The output folder must be reachable from every actor
(one machine, or a shared filesystem). Connects to a running cluster (``RAY_ADDRESS`` or
``ray.init()`` already called) or starts a local one. Needs ``pip install 'loopml[ray]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopml.errors import InvalidState, LoopmlError, require_extra

require_extra("ray", extra="ray", feature="The Ray batch-prediction engine")

import ray  # noqa: E402  (after the friendly missing-extra check)
from ray.exceptions import ActorDiedError, RayTaskError  # noqa: E402
from ray.util import ActorPool  # noqa: E402

from loopml.inference.batch_run import (  # noqa: E402
    Partition,
    PartitionResult,
    ScoringJob,
    load_scorer,
    score_partition,
)

__all__ = ["score_partitions_on_ray"]


class _Scorer:
    """A Ray actor holding one loaded model."""

    def __init__(self, job: ScoringJob) -> None:
        self._job = job
        self._scorer = load_scorer(job)

    def score(self, partition: Partition, dest: str) -> PartitionResult:
        return score_partition(self._scorer, partition, Path(dest), job=self._job)


def score_partitions_on_ray(
    partitions: Sequence[Partition], dest: Path, *, job: ScoringJob, max_workers: int | None = None
) -> list[PartitionResult]:
    """Score every partition into ``dest`` with a pool of actors (one model load per actor).

    Raises:
        InvalidInput: see :func:`~loopml.inference.batch_run.score_partition` (re-raised as is).
        InvalidState: an actor died; nothing is published.
    """
    if not ray.is_initialized():
        ray.init(include_dashboard=False)
    cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
    size = max(1, min(max_workers or cpus, len(partitions)))
    actor = ray.remote(num_cpus=1, max_restarts=0)(_Scorer)
    actors: list[Any] = [actor.remote(job) for _ in range(size)]
    pool = ActorPool(actors)
    try:
        return list(pool.map(lambda a, p: a.score.remote(p, str(dest)), list(partitions)))
    except RayTaskError as err:
        cause = getattr(err, "cause", None)
        if isinstance(cause, LoopmlError):
            raise cause from None  # the scorer's own error (InvalidInput ...), as the local engine raises it
        raise
    except ActorDiedError as err:
        raise InvalidState(
            "A Ray scoring actor died (killed or out of memory); nothing was written. Rerun the command."
        ) from err
    finally:
        for a in actors:
            ray.kill(a)
