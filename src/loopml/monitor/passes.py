"""One monitoring pass: compute the windows that are due, then evaluate the alert rules on them.

What ``loopml monitor run`` does once, ``loopml monitor watch`` on a schedule, and ``loopml server
--monitor-every`` in the background. Passes are idempotent: a window already computed (with no new
labels) is not computed again and an alert is recorded once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from loopml.monitor.alerts import AlertEvaluation, AlertService
from loopml.monitor.records import WindowRecord
from loopml.monitor.service import MonitorService
from loopml.monitor.targets import Target
from loopml.monitor.windows import MonitorConfig

__all__ = ["MonitoringPass", "monitoring_pass"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitoringPass:
    """What one pass did: the targets looked at, the windows computed, the alerts that changed."""

    targets: tuple[Target, ...]
    computed: tuple[WindowRecord, ...]
    evaluation: AlertEvaluation


def monitoring_pass(
    service: MonitorService,
    alerts: AlertService,
    config: MonitorConfig,
    *,
    name: str | None = None,
    is_model: bool = False,
    now: dt.datetime | None = None,
) -> MonitoringPass:
    """Compute what is due for ``name`` (default: everything logged) and evaluate the alert rules."""
    targets = [service.target(name, is_model=is_model)] if name else service.targets()
    computed = [r for t in targets for r in service.run(t, config, now=now)]
    history = [r for t in targets for r in service.windows(t, window=config.window.name)]
    return MonitoringPass(
        targets=tuple(targets), computed=tuple(computed), evaluation=alerts.evaluate(history)
    )
