"""Deployments: create, apply (with a diff), read, history, traffic, canary, shadows, promote, rollback.

Writes need ``deployments.manage`` (the security layer's rule for the ``deployments`` segment);
each handler makes one call to :class:`~loopml.deploy.service.DeploymentService`. Reads follow the
caller's grants as the UI does: a deployment serving a model the caller may not see is left out of
the list and answers 404 in the words of a missing one
(:meth:`~loopml.server._visibility.Visibility.shows_deployment`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from loopml.deploy.records import event_view
from loopml.deploy.service import DeploymentService
from loopml.server._security import principal_of
from loopml.server._visibility import visibility_of, visible_deployment
from loopml.server.schemas.common import Name
from loopml.server.schemas.deployments import (
    CanaryStart,
    DeploymentApply,
    OverrideRequest,
    ShadowSet,
    TrafficSet,
)
from loopml.services import Services
from loopml.web.json_body import SafeRoute

__all__ = ["router"]

router = APIRouter(prefix="/deployments", tags=["deployments"], route_class=SafeRoute)


def _deployments(request: Request) -> DeploymentService:
    services: Services = request.app.state.services
    return services.deployments


Deployments = Annotated[DeploymentService, Depends(_deployments)]


def _actor(request: Request) -> str:
    return principal_of(request).name


@router.get("")
def list_deployments(request: Request, deployments: Deployments) -> dict[str, Any]:
    visible = visibility_of(request)
    shown = [d for d in deployments.list() if visible.shows_deployment(d.spec.model_uris())]
    return {"deployments": [d.view() for d in shown]}


@router.post("", status_code=201)
def create_deployment(body: DeploymentApply, request: Request, deployments: Deployments) -> dict[str, Any]:
    spec, policy, _, _ = deployments.plan(body.document)
    return deployments.create(spec, policy, actor=_actor(request), reason=body.reason).view()


@router.post("/apply")
def apply_deployment(body: DeploymentApply, request: Request, deployments: Deployments) -> dict[str, Any]:
    """Create or update from a document; ``dry_run`` only returns the diff."""
    if body.dry_run:
        _, _, current, diff = deployments.plan(body.document)
        return {"created": current is None, "changed": bool(diff), "diff": diff, "deployment": None}
    result = deployments.apply(body.document, actor=_actor(request), reason=body.reason)
    return {
        "created": result.created,
        "changed": result.changed,
        "diff": list(result.diff),
        "deployment": result.deployment.view(),
    }


@router.get("/{name}")
def get_deployment(name: Name, request: Request, deployments: Deployments) -> dict[str, Any]:
    return visible_deployment(request, deployments, name).view()


@router.get("/{name}/history")
def deployment_history(
    name: Name,
    request: Request,
    deployments: Deployments,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> dict[str, Any]:
    visible_deployment(request, deployments, name)
    return {"events": [event_view(e) for e in deployments.history(name, limit=limit)]}


@router.put("/{name}/traffic")
def set_traffic(name: Name, body: TrafficSet, request: Request, deployments: Deployments) -> dict[str, Any]:
    return deployments.set_traffic(name, weight=body.weight, actor=_actor(request), reason=body.reason).view()


@router.post("/{name}/canary")
def start_canary(name: Name, body: CanaryStart, request: Request, deployments: Deployments) -> dict[str, Any]:
    return deployments.start_canary(name, body.target, actor=_actor(request), reason=body.reason).view()


@router.put("/{name}/shadows/{shadow}")
def set_shadow(
    name: Name, shadow: Name, body: ShadowSet, request: Request, deployments: Deployments
) -> dict[str, Any]:
    return deployments.set_shadow(
        name,
        shadow,
        target=body.target,
        mirror_percent=body.mirror_percent,
        actor=_actor(request),
        reason=body.reason,
    ).view()


@router.delete("/{name}/shadows/{shadow}")
def remove_shadow(name: Name, shadow: Name, request: Request, deployments: Deployments) -> dict[str, Any]:
    return deployments.set_shadow(name, shadow, target=None, actor=_actor(request)).view()


@router.post("/{name}/promote")
def promote(name: Name, body: OverrideRequest, request: Request, deployments: Deployments) -> dict[str, Any]:
    return deployments.promote(name, actor=_actor(request), reason=body.reason).view()


@router.post("/{name}/rollback")
def rollback(name: Name, body: OverrideRequest, request: Request, deployments: Deployments) -> dict[str, Any]:
    return deployments.rollback(name, actor=_actor(request), reason=body.reason).view()
