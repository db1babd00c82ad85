"""One monitoring pass: compute the windows that are due, then evaluate the alert rules on them;
one retraining step: the retrain loop on a deployment's stored windows and open alerts.

What ``loopml monitor run`` does once, ``loopml monitor watch`` on a schedule, and ``loopml server
--monitor-every`` in the background (with ``--retrain-policies``, each pass is followed by a
retraining step of every deployment that has a policy, as ``loopml monitor retrain`` does). Passes
are idempotent: a window already computed (with no new labels) is not computed again and an alert
is recorded once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from loopml.errors import LoopmlError
from loopml.monitor.alerts import AlertEvaluation, AlertService, AlertStatus
from loopml.monitor.records import WindowRecord
from loopml.monitor.retrain import Decision, RetrainLoop, RetrainPolicy
from loopml.monitor.service import MonitorService
from loopml.monitor.targets import Target
from loopml.monitor.windows import MonitorConfig

__all__ = ["MonitoringPass", "RetrainPass", "monitoring_pass", "retrain_pass", "retrain_step"]

_log = logging.getLogger("loopml.monitor")

_OPEN_ALERTS = 10_000


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


def retrain_step(
    loop: RetrainLoop,
    service: MonitorService,
    alerts: AlertService,
    deployment: str,
    *,
    window: str = "hour",
    dry_run: bool = False,
) -> list[Decision]:
    """One step of the retrain loop for ``deployment``: its stored ``window`` windows and open alerts in.

    Returns:
        The loop's decisions (see :meth:`RetrainLoop.step`).
    """
    records = service.windows(service.target(deployment), window=window)
    open_alerts = alerts.list(deployment, status=AlertStatus.OPEN, limit=_OPEN_ALERTS)
    return loop.step(deployment, records, open_alerts, dry_run=dry_run)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainPass:
    """What one retraining pass decided per deployment, and the deployments it could not step (why)."""

    decisions: Mapping[str, tuple[Decision, ...]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)


def retrain_pass(
    policies: Mapping[str, RetrainPolicy],
    loop_for: Callable[[RetrainPolicy], RetrainLoop],
    service: MonitorService,
    alerts: AlertService,
    *,
    window: str = "hour",
    dry_run: bool = False,
) -> RetrainPass:
    """One :func:`retrain_step` for each deployment of ``policies`` (its loop from ``loop_for``).

    One deployment that cannot be stepped (unknown, or a collaborator that raised) is reported in
    ``errors`` and never stops the others.
    """
    decisions: dict[str, tuple[Decision, ...]] = {}
    errors: dict[str, str] = {}
    for name, policy in policies.items():
        try:
            found = retrain_step(loop_for(policy), service, alerts, name, window=window, dry_run=dry_run)
        except LoopmlError as err:
            errors[name] = str(err)
            continue
        except Exception as err:  # a user's pipeline or model misbehaving: reported, the others go on
            _log.exception("Retraining %s failed unexpectedly", name)
            errors[name] = f"{type(err).__name__}: {err}"
            continue
        decisions[name] = tuple(found)
    return RetrainPass(decisions=decisions, errors=errors)
