"""Monitoring of a deployment: its windows, where monitoring stands, its alerts and its retrainings.

Reads only (``read`` permission; a deployment serving a model the caller may not see answers as a
missing one, as in the deployments API): windows are computed by `loopml monitor run` or the server's
background passes (``--monitor-every``); each handler makes one call to the monitoring services.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from loopml.monitor.alerts import AlertStatus
from loopml.monitor.retrain.history import retrain_history
from loopml.monitor.service import MonitorService
from loopml.monitor.targets import Target
from loopml.server._visibility import visible_deployment
from loopml.server.schemas.common import Name
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
