"""Deployments, read only: the list, and one deployment's routes, rollout, gates and history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from loopml.deploy.service import DeploymentService
from loopml.server.ui._render import page
from loopml.server.ui._session import UI_PREFIX
from loopml.services import Services
from loopml.ui import deployment_routes, rollout_steps, verdicts

__all__ = ["router"]

router = APIRouter(prefix=f"{UI_PREFIX}/deployments", include_in_schema=False)
HISTORY = 500


def _service(request: Request) -> DeploymentService:
    services: Services = request.app.state.services
    return services.deployments


@router.get("")
def deployments(request: Request) -> HTMLResponse:
    found = sorted(_service(request).list(), key=lambda d: d.name)
    return page(request, "deployments.html", deployments=[(d, deployment_routes(d)) for d in found])


@router.get("/{name}")
def deployment_page(request: Request, name: str) -> HTMLResponse:
    service = _service(request)
    deployment = service.get(name)
    history = service.history(name, limit=HISTORY)
    return page(
        request,
        "deployment.html",
        d=deployment,
        routes=deployment_routes(deployment),
        steps=rollout_steps(deployment),
        history=sorted(history, key=lambda e: (e.at, e.event_id), reverse=True),
        verdicts=verdicts(history),
    )
