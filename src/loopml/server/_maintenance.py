"""Periodic work while the server runs: refresh PostgreSQL's planner statistics, monitoring passes
and the retraining they lead to; and the same monitoring pass when a caller asks for one
(``POST /api/v1/deployments/{name}/monitoring/run``), one pass at a time.

A server that receives many new runs on a PostgreSQL whose autovacuum is off would otherwise search
with statistics from when it started (see ``SqlStore.refresh_statistics``). The check is one catalog
query; the work happens in a worker thread so requests are never held up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from loopml.errors import Conflict, LoopmlError
from loopml.services import Services

if TYPE_CHECKING:
    from loopml.monitor.alerts import AlertService
    from loopml.monitor.passes import MonitoringPass, RetrainPass
    from loopml.monitor.windows import MonitorConfig

__all__ = ["ServerPass", "monitor_now", "periodic_monitoring", "periodic_statistics"]

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
    lock: threading.Lock | None = None,
) -> AsyncIterator[None]:
    """A monitoring pass (due windows, then alert rules, to the log) every ``interval_s`` seconds.

    Windows are hourly, with figures and drift per slice of the ``slices`` features.

    With ``retrain_policies`` (a folder of ``<deployment>.yaml``, read again at every pass), each
    pass is followed by one step of the retrain loop of every deployment with a policy.
    ``lock`` is shared with the passes asked for through the API: one pass at a time.
    """
    lock = lock or threading.Lock()
    if interval_s is None:
        yield
        return

    def run() -> str | None:
        from loopml.monitor.windows import MonitorConfig

        try:
            result = monitor_now(
                services, MonitorConfig(slice_columns=slices), lock=lock, retrain_policies=retrain_policies
            )
        except Conflict:
            return "Monitoring: a pass asked for through the API is running; skipped this one"
        done, lines = result.done, []
        if done.computed or done.registered or done.evaluation.new or done.evaluation.resolved:
            lines.append(
                f"Monitoring: {len(done.registered)} log hour(s) registered, {len(done.computed)} "
                f"window(s) computed, {len(done.evaluation.new)} alert(s) raised, "
                f"{len(done.evaluation.resolved)} resolved"
            )
        if result.retrained is not None:
            lines += _retrain_lines(result.retrained)
        return "\n".join(lines) or None

    async with _periodically(run, interval_s, "run a monitoring pass"):
        yield


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerPass:
    """A monitoring pass run by the server, and the retraining that followed it (None: no policies)."""

    done: MonitoringPass
    retrained: RetrainPass | None


def monitor_now(
    services: Services,
    config: MonitorConfig,
    *,
    lock: threading.Lock,
    name: str | None = None,
    now: datetime | None = None,
    retrain_policies: str | None = None,
) -> ServerPass:
    """One monitoring pass (of ``name``, default every deployment), alerts to the server's log, then
    one retraining step of each deployment with a policy in ``retrain_policies``.

    Raises:
        Conflict: another pass is running (the background one, or one asked for through the API).
    """
    from loopml.monitor.alerts import LogChannel
    from loopml.monitor.passes import monitoring_pass

    if not lock.acquire(blocking=False):
        raise Conflict(
            "A monitoring pass is already running on the server; try again when it ends "
            "(`loopml monitor status NAME` shows the windows it computed)."
        )
    try:
        alerts = services.alerts(channels=[LogChannel()])
        done = monitoring_pass(services.monitor(), alerts, config, name=name, now=now)
        retrained = None
        if retrain_policies is not None:
            retrained = _retrain(services, alerts, retrain_policies, window=config.window.name, only=name)
        return ServerPass(done=done, retrained=retrained)
    finally:
        lock.release()


def _retrain(
    services: Services, alerts: AlertService, folder: str, *, window: str, only: str | None = None
) -> RetrainPass:
    """One retrain-loop step per deployment with a policy (only ``only``'s when given).

    One deployment's failure is logged and never stops the others (nor the server).
    """
    from loopml.monitor.passes import retrain_pass
    from loopml.monitor.retrain import read_policies

    monitor = services.monitor()
    policies = {k: v for k, v in read_policies(folder).items() if only is None or k == only}
    done = retrain_pass(
        policies,
        lambda policy: services.retrain_loop(policy, monitor=monitor, window=window, alerts=alerts),
        monitor,
        alerts,
        window=window,
    )
    for name, error in done.errors.items():
        _log.warning("Could not retrain %s: %s", name, error)
    return done


def _retrain_lines(done: RetrainPass) -> list[str]:
    """What was decided, one line each (nothing for "nothing to do")."""
    from loopml.monitor.retrain import DecisionKind

    return [
        f"Retraining {name}: {d.kind.value}: {d.reason}"
        for name, decisions in done.decisions.items()
        for d in decisions
        if d.kind is not DecisionKind.NOTHING
    ]
