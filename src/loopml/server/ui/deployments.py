"""Deployments, read only: the list, and one deployment's routes, rollout, gates and history.

A deployment serving a model the caller may not see is left out of the list and answers 404 in
the words of a missing one (:meth:`~loopml.server._visibility.Visibility.shows_deployment`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from loopml.deploy.records import Deployment
from loopml.deploy.service import DeploymentService
from loopml.server import _visibility
from loopml.server._visibility import visibility_of
from loopml.server.ui._render import page
from loopml.server.ui._session import UI_PREFIX
from loopml.services import Services
from loopml.ui import deployment_routes, rollout_steps, verdicts

__all__ = ["router", "visible_deployment"]

router = APIRouter(prefix=f"{UI_PREFIX}/deployments", include_in_schema=False)
HISTORY = 500


def _service(request: Request) -> DeploymentService:
    services: Services = request.app.state.services
    return services.deployments


def visible_deployment(request: Request, name: str) -> Deployment:
    """The deployment ``name`` if the caller may see it.

    Raises:
        NotFound: no such deployment, or one serving a model hidden from the caller (same words).
    """
    return _visibility.visible_deployment(request, _service(request), name)


@router.get("")
def deployments(request: Request) -> HTMLResponse:
    visible = visibility_of(request)
    found = sorted(
        (d for d in _service(request).list() if visible.shows_deployment(d.spec.model_uris())),
        key=lambda d: d.name,
    )
    return page(request, "deployments.html", deployments=[(d, deployment_routes(d)) for d in found])


@router.get("/{name}")
def deployment_page(request: Request, name: str) -> HTMLResponse:
    deployment = visible_deployment(request, name)
    history = _service(request).history(name, limit=HISTORY)
    return page(
        request,
        "deployment.html",
        d=deployment,
        routes=deployment_routes(deployment),
        steps=rollout_steps(deployment),
        history=sorted(history, key=lambda e: (e.at, e.event_id), reverse=True),
        verdicts=verdicts(history),
    )
