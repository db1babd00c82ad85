"""A deployment as tables: its routes with their traffic share, the rollout's steps, the verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from loopml.deploy.records import Deployment
from loopml.errors import InvalidInput
from loopml.registry.uris import parse_model_uri
from loopml.store.entities import DeploymentEvent

__all__ = ["RolloutStep", "Route", "deployment_routes", "model_href", "rollout_steps", "verdicts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """Where requests go: the role (primary, canary, shadow, A/B arm, ensemble member) and the share."""

    role: str
    name: str
    target: str
    share: str
    href: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutStep:
    """One step of the policy's schedule and whether the rollout is before, at or past it."""

    weight: float
    state: str


def model_href(target: str, *, prefix: str = "/ui") -> str | None:
    """The UI page of a ``models:/`` target (a version's page, or the model's for an alias).

    Example:
        >>> model_href("models:/churn/3"), model_href("models:/churn@champion"), model_href("blend")
        ('/ui/models/churn/versions/3', '/ui/models/churn', None)
    """
    try:
        uri = parse_model_uri(target)
    except InvalidInput:
        return None
    base = f"{prefix}/models/{quote(uri.name, safe='')}"
    return f"{base}/versions/{uri.version}" if uri.version is not None else base


def deployment_routes(deployment: Deployment) -> list[Route]:
    """Every route of ``deployment`` in the order requests meet them.

    Example:
        >>> from loopml.deploy.spec import Canary, DeploymentSpec
        >>> spec = DeploymentSpec(name="churn", primary="models:/churn/1",
        ...                       canary=Canary(target="models:/churn/2", weight=25))
        >>> [(r.role, r.share) for r in deployment_routes(Deployment(spec=spec))]
        [('primary', '75% of requests'), ('canary', '25% of requests')]
    """
    spec = deployment.spec
    canary = spec.canary.weight if spec.canary is not None else 0.0
    routes = []
    if spec.ab is None:
        routes.append(_route("primary", "primary", spec.primary, f"{100 - canary:g}% of requests"))
    else:
        share = f"{100 - canary:g}% of requests, split by {spec.ab.key}"
        routes.append(_route("primary", "primary", spec.primary, "when no arm applies"))
        routes += [
            _route("A/B arm", a.name, a.target, f"{a.weight:g}% of the split ({share})") for a in spec.ab.arms
        ]
    if spec.canary is not None:
        routes.append(_route("canary", "canary", spec.canary.target, f"{canary:g}% of requests"))
    routes += [
        _route("shadow", s.name, s.target, f"mirrors {s.mirror_percent:g}% (answers never returned)")
        for s in spec.shadows
    ]
    for e in spec.ensembles:
        routes += [
            _route(f"ensemble {e.method.value}", e.name, m.target, f"weight {m.weight:g}") for m in e.members
        ]
    return routes


def _route(role: str, name: str, target: str, share: str) -> Route:
    return Route(role=role, name=name, target=target, share=share, href=model_href(target))


def rollout_steps(deployment: Deployment) -> list[RolloutStep]:
    """The policy's steps, each ``done``, ``current`` or ``next`` (all ``next`` without a rollout)."""
    status = deployment.rollout
    steps = []
    for i, weight in enumerate(deployment.policy.steps):
        if status is None:
            state = "next"
        elif status.phase.value == "promoted" or i < status.step:
            state = "done"
        elif i == status.step:
            state = "stopped" if status.phase.value == "rolled_back" else "current"
        else:
            state = "next"
        steps.append(RolloutStep(weight=weight, state=state))
    return steps


def verdicts(events: Sequence[DeploymentEvent]) -> list[DeploymentEvent]:
    """The events carrying a gate verdict or an alert, newest first."""
    kept = [e for e in events if "verdict" in e.details or e.action in ("alert", "promote", "rollback")]
    return sorted(kept, key=lambda e: (e.at, e.event_id), reverse=True)
