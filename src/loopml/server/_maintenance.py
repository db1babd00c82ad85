"""Periodic work while the server runs: refresh PostgreSQL's planner statistics, monitoring passes
and the retraining they lead to.

A server that receives many new runs on a PostgreSQL whose autovacuum is off would otherwise search
with statistics from when it started (see ``SqlStore.refresh_statistics``). The check is one catalog
query; the work happens in a worker thread so requests are never held up.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from loopml.errors import LoopmlError
from loopml.services import Services

if TYPE_CHECKING:
    from loopml.monitor.alerts import AlertService

__all__ = ["periodic_monitoring", "periodic_statistics"]

_log = logging.getLogger("loopml.server")


@asynccontextmanager
async def _periodically(call: Callable[[], str | None], interval_s: float, what: str) -> AsyncIterator[None]:
    """Run ``call`` in a worker thread every ``interval_s`` seconds while the block runs.

    What it returns is logged; a store that cannot be reached now is logged and tried again next time.
    """

    async def loop() -> None:
        while True:
            await anyio.sleep(interval_s)
            try:
                done = await anyio.to_thread.run_sync(call)
            except LoopmlError as err:  # unreachable for now: try again next time
                _log.warning("Could not %s: %s", what, err)
                continue
            if done:
                _log.info("%s", done)

    async with anyio.create_task_group() as group:
        group.start_soon(loop)
        try:
            yield
        finally:
            group.cancel_scope.cancel()


@asynccontextmanager
async def periodic_statistics(
    refresh: Callable[[], list[str]] | None, interval_s: float
) -> AsyncIterator[None]:
    """Call ``refresh`` every ``interval_s`` seconds while the block runs (nothing when ``None``)."""
    if refresh is None:
        yield
        return
    check = refresh

    def run() -> str | None:
        analysed = check()
        return f"Refreshed planner statistics of {', '.join(analysed)}" if analysed else None

    async with _periodically(run, interval_s, "refresh planner statistics"):
        yield


@asynccontextmanager
async def periodic_monitoring(
    services: Services,
    interval_s: float | None,
    *,
    slices: tuple[str, ...] = (),
    retrain_policies: str | None = None,
) -> AsyncIterator[None]:
    """A monitoring pass (due windows, then alert rules, to the log) every ``interval_s`` seconds.

    Windows are hourly, with figures and drift per slice of the ``slices`` features.

    With ``retrain_policies`` (a folder of ``<deployment>.yaml``, read again at every pass), each
    pass is followed by one step of the retrain loop of every deployment with a policy.
    """
    if interval_s is None:
        yield
        return

    def run() -> str | None:
        from loopml.monitor.alerts import LogChannel
        from loopml.monitor.passes import monitoring_pass
        from loopml.monitor.windows import MonitorConfig

        alerts = services.alerts(channels=[LogChannel()])
        config = MonitorConfig(slice_columns=slices)
        done = monitoring_pass(services.monitor(), alerts, config)
        lines = []
        if done.computed or done.registered or done.evaluation.new or done.evaluation.resolved:
            lines.append(
                f"Monitoring: {len(done.registered)} log hour(s) registered, {len(done.computed)} "
                f"window(s) computed, {len(done.evaluation.new)} alert(s) raised, "
                f"{len(done.evaluation.resolved)} resolved"
            )
        if retrain_policies is not None:
            lines += _retrain(services, alerts, retrain_policies, window=config.window.name)
        return "\n".join(lines) or None

    async with _periodically(run, interval_s, "run a monitoring pass"):
        yield


def _retrain(services: Services, alerts: AlertService, folder: str, *, window: str) -> list[str]:
    """One retrain-loop step per deployment with a policy; what was decided, one line each.

    One deployment's failure is logged and never stops the others (nor the server).
    """
    from loopml.monitor.passes import retrain_pass
    from loopml.monitor.retrain import DecisionKind, read_policies

    monitor = services.monitor()
    done = retrain_pass(
        read_policies(folder),
        lambda policy: services.retrain_loop(policy, monitor=monitor, window=window, alerts=alerts),
        monitor,
        alerts,
        window=window,
    )
    for name, error in done.errors.items():
        _log.warning("Could not retrain %s: %s", name, error)
    return [
        f"Retraining {name}: {d.kind.value}: {d.reason}"
        for name, decisions in done.decisions.items()
        for d in decisions
        if d.kind is not DecisionKind.NOTHING
    ]
