"""Monitoring of a deployment: its windows, where monitoring stands, its alerts and its retrainings;
and a monitoring pass run now.

Reads need ``read`` (a deployment serving a model the caller may not see answers as a missing one, as
in the deployments API). Windows are computed by the server's background passes (``--monitor-every``),
by `loopml monitor run` on the server's host, or through ``POST {name}/monitoring/run`` — what
`loopml monitor run NAME` sends with ``LOOPML_TRACKING_URI`` set: it needs ``deployments.manage``
(maintainers and admins), is audited as ``monitoring.run``, and runs the pass the background would
(the server's slices, alert rules and retrain policies), one pass at a time (409 while another runs).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from loopml.errors import InvalidInput
from loopml.monitor.alerts import AlertStatus
from loopml.monitor.passes import pass_document
from loopml.monitor.retrain.history import retrain_history
from loopml.monitor.service import MonitorService
from loopml.monitor.targets import Target
from loopml.monitor.windows import MonitorConfig, WindowSpec, parse_span
from loopml.server._config import ServerConfig
from loopml.server._maintenance import monitor_now
from loopml.server._visibility import visible_deployment
from loopml.server.schemas.common import Name
from loopml.server.schemas.monitoring import MonitorRun
from loopml.services import Services
from loopml.web.json_body import SafeRoute

__all__ = ["router"]

router = APIRouter(prefix="/deployments", tags=["monitoring"], route_class=SafeRoute)

WindowKind = Annotated[
    str | None,
    Query(
        max_length=32,
        pattern=r"^(hour|day|requests:[1-9][0-9]{0,8})$",
        description="hour, day or requests:N.",
    ),
]
Limit = Annotated[int, Query(ge=1, le=10_000)]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _deployment(request: Request, name: str) -> tuple[MonitorService, Target]:
    """The monitoring service and the deployment's target (NotFound: no such deployment)."""
    services = _services(request)
    visible_deployment(request, services.deployments, name)
    service = services.monitor()
    return service, service.target(name)


@router.get("/{name}/windows")
def list_windows(
    name: Name, request: Request, window: WindowKind = None, limit: Limit = 1000
) -> dict[str, Any]:
    """The newest ``limit`` stored monitoring windows of the deployment, oldest first."""
    service, target = _deployment(request, name)
    records = service.windows(target, window=window)[-limit:]
    return {"windows": [r.to_document() for r in records]}


@router.get("/{name}/monitoring")
def monitoring_status(name: Name, request: Request) -> dict[str, Any]:
    """Windows, the latest figures, incomplete windows, labels joined and pending."""
    service, target = _deployment(request, name)
    return service.status(target).to_document()


@router.get("/{name}/alerts")
def list_alerts(
    name: Name, request: Request, open_only: Annotated[bool, Query(alias="open")] = False, limit: Limit = 100
) -> dict[str, Any]:
    """The deployment's monitoring alerts, newest first, with their evidence."""
    _deployment(request, name)
    status = AlertStatus.OPEN if open_only else None
    return {"alerts": [a.view() for a in _services(request).alerts().list(name, status=status, limit=limit)]}


@router.get("/{name}/retrains")
def list_retrains(name: Name, request: Request, limit: Limit = 100) -> dict[str, Any]:
    """The deployment's retrainings, oldest first, each with its steps (alert → run → candidate → canary)."""
    _deployment(request, name)
    return {"retrains": retrain_history(_services(request).monitor_store.retrains, name, limit=limit)}


@router.post("/{name}/monitoring/run")
def run_monitoring(name: Name, body: MonitorRun, request: Request) -> dict[str, Any]:
    """Register the closed log hours and compute the due windows of the deployment now, evaluate the
    alert rules, then (with the server's ``--retrain-policies``) take its retraining step."""
    services = _services(request)
    visible_deployment(request, services.deployments, name)
    server: ServerConfig = request.app.state.config
    config = MonitorConfig(
        window=WindowSpec.parse(body.window),
        slice_columns=tuple(dict.fromkeys((*server.monitor_slices, *body.slices))),
        key_field=body.key_field,
        label_horizon=parse_span(body.label_horizon),
    )
    done = monitor_now(
        services,
        config,
        lock=request.app.state.monitor_lock,
        name=name,
        now=_instant(body.now),
        retrain_policies=server.retrain_policies,
    )
    return pass_document(done.done, done.retrained)


def _instant(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(f"`now` must be an ISO 8601 time (2026-03-01T10:00Z); got {text!r:.64}.") from err
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
