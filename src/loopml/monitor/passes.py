"""One monitoring pass: register the closed hours of the log as dataset versions, compute the windows
that are due, then evaluate the alert rules on them;
one retraining step: the retrain loop on a deployment's stored windows and open alerts.

What ``loopml monitor run`` does once, ``loopml monitor watch`` on a schedule, and ``loopml server
--monitor-every`` in the background (with ``--retrain-policies``, each pass is followed by a
retraining step of every deployment that has a policy, as ``loopml monitor retrain`` does). Passes
are idempotent: a window already computed (with no new labels) is not computed again and an alert
is recorded once.

The log's hours are registered here, not by the serving processes: every replica and worker writes
its own files into the same hour partition, so none of them knows when an hour is complete; the
pass sees the whole partition once the hour has ended and settled. Run one pass at a time per store
(the server's background pass or a cron ``loopml monitor run``, not both): two passes racing on the
same new hour could each register it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loopml.errors import LoopmlError
from loopml.monitor.alerts import AlertEvaluation, AlertService, AlertStatus
from loopml.monitor.log_versions import LogVersion
from loopml.monitor.records import WindowRecord
from loopml.monitor.retrain import Decision, RetrainLoop, RetrainPolicy
from loopml.monitor.service import MonitorService
from loopml.monitor.targets import Target
from loopml.monitor.windows import MonitorConfig

__all__ = [
    "MonitoringPass",
    "RetrainPass",
    "monitoring_pass",
    "pass_document",
    "retrain_pass",
    "retrain_step",
]

_log = logging.getLogger("loopml.monitor")

_OPEN_ALERTS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitoringPass:
    """What one pass did: the targets looked at, the log hours registered (and those it could not
    register, why), the windows computed, the alerts that changed."""

    targets: tuple[Target, ...]
    computed: tuple[WindowRecord, ...]
    evaluation: AlertEvaluation
    registered: tuple[LogVersion, ...] = ()
    log_problems: tuple[str, ...] = ()


def monitoring_pass(
    service: MonitorService,
    alerts: AlertService,
    config: MonitorConfig,
    *,
    name: str | None = None,
    is_model: bool = False,
    now: dt.datetime | None = None,
) -> MonitoringPass:
    """Register the closed log hours and compute what is due for ``name`` (default: everything
    logged), then evaluate the alert rules."""
    targets = [service.target(name, is_model=is_model)] if name else service.targets()
    registrations = [service.register_log(t, config, now=now) for t in targets]
    computed = [r for t in targets for r in service.run(t, config, now=now)]
    history = [r for t in targets for r in service.windows(t, window=config.window.name)]
    return MonitoringPass(
        targets=tuple(targets),
        computed=tuple(computed),
        evaluation=alerts.evaluate(history),
        registered=tuple(v for r in registrations for v in r.registered),
        log_problems=tuple(p for r in registrations for p in r.problems),
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


def pass_document(done: MonitoringPass, retrained: RetrainPass | None = None) -> dict[str, Any]:
    """What a pass (and the retraining after it) did, as JSON-ready values: ``loopml monitor run
    --json`` prints it, the server's ``POST /api/v1/deployments/{name}/monitoring/run`` answers it."""
    document: dict[str, Any] = {
        "targets": [t.deployment for t in done.targets],
        "log_versions": [
            {
                "ref": v.ref,
                "hour": v.hour.isoformat(),
                "versions": dict(v.versions),
                "model_versions": dict(v.model_versions),
            }
            for v in done.registered
        ],
        "log_problems": list(done.log_problems),
        "computed": [r.to_document() for r in done.computed],
        "alerts": {
            "new": [a.view() for a in done.evaluation.new],
            "resolved": [a.view() for a in done.evaluation.resolved],
            "open": [a.view() for a in done.evaluation.open],
        },
    }
    if retrained is not None:
        document["retraining"] = {
            "decisions": {
                k: [{**d.view(), "kind": d.kind.value} for d in v] for k, v in retrained.decisions.items()
            },
            "errors": dict(retrained.errors),
        }
    return document
