"""Periodic store upkeep while the server runs: refresh PostgreSQL's planner statistics.

A server that receives many new runs on a PostgreSQL whose autovacuum is off would otherwise search
with statistics from when it started (see ``SqlStore.refresh_statistics``). The check is one catalog
query; the work happens in a worker thread so requests are never held up.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread

from loopml.errors import LoopmlError

__all__ = ["periodic_statistics"]

_log = logging.getLogger("loopml.server")


@asynccontextmanager
async def periodic_statistics(
    refresh: Callable[[], list[str]] | None, interval_s: float
) -> AsyncIterator[None]:
    """Call ``refresh`` every ``interval_s`` seconds while the block runs (nothing when ``None``)."""
    if refresh is None:
        yield
        return
    check = refresh

    async def loop() -> None:
        while True:
            await anyio.sleep(interval_s)
            try:
                analysed = await anyio.to_thread.run_sync(check)
            except LoopmlError as err:  # the store is unreachable for now: try again next time
                _log.warning("Could not refresh planner statistics: %s", err)
                continue
            if analysed:
                _log.info("Refreshed planner statistics of %s", ", ".join(analysed))

    async with anyio.create_task_group() as group:
        group.start_soon(loop)
        try:
            yield
        finally:
            group.cancel_scope.cancel()
