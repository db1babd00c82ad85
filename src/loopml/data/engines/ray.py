"""The ``ray`` engine: the same accumulators as Ray tasks over files / row groups, merged here.

Connects to a running Ray cluster (``RAY_ADDRESS`` or ``ray.init()`` already called) or starts a
local one. Ray sets one BLAS thread per worker itself. Needs ``pip install 'loopml[ray]'``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from loopml.errors import require_extra

require_extra("ray", extra="ray", feature="The Ray statistics engine")

import ray  # noqa: E402  (after the friendly missing-extra check)

from loopml.data.accumulator import StatisticsAccumulator  # noqa: E402
from loopml.data.engines._work import accumulate_each, split_units  # noqa: E402
from loopml.data.sources import BATCH_ROWS, WorkUnit  # noqa: E402

__all__ = ["run_ray"]


def _accumulate(units: Sequence[WorkUnit], batch_rows: int) -> list[StatisticsAccumulator]:
    return accumulate_each(units, batch_rows)


def run_ray(
    units: Sequence[WorkUnit],
    *,
    max_workers: int | None = None,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> StatisticsAccumulator:
    """Accumulate statistics of ``units`` as Ray tasks (about two groups per CPU of the cluster)."""
    if not ray.is_initialized():
        ray.init(include_dashboard=False)
    cpus = max_workers or int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
    remote = ray.remote(num_cpus=1, max_retries=1)(_accumulate)
    refs = [remote.remote(group, batch_rows) for group in split_units(units, cpus * 2)]
    total = StatisticsAccumulator()
    for done, ref in enumerate(refs, start=1):  # in submission order: results do not depend on timing
        for part in ray.get(ref):  # in unit order: the same bytes as the local engine
            total.merge(part)
        if progress is not None:
            progress(done, len(refs))
    return total
