"""A deployment as the domain sees it (spec, policy, rollout state, last analysis) and its stored form.

Example:
    >>> from loopml.deploy.spec import DeploymentSpec
    >>> d = Deployment(spec=DeploymentSpec(name="churn", primary="models:/churn@champion"))
    >>> Deployment.from_document(d.to_document()) == d
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopml.deploy.documents import (
    analysis_from_document,
    analysis_to_document,
    policy_to_document,
    read_document,
    spec_to_document,
    status_from_document,
    status_to_document,
)
from loopml.deploy.gates import Analysis
from loopml.deploy.policy import RolloutPolicy
from loopml.deploy.rollout import RolloutStatus
from loopml.deploy.spec import DeploymentSpec
from loopml.store.entities import DeploymentEvent

__all__ = ["Alert", "Deployment", "event_view"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    """One deployment.

    Attributes:
        spec: Its routes.
        policy: How canaries are rolled out.
        rollout: The automaton's state while (or after) a canary is rolled out; None under manual control.
        last_analysis: The latest gate analysis of the canary.
        shadow_reports: The latest comparison of each shadow with the primary (documents).
        revision: The stored revision (0 before it is stored).
    """

    spec: DeploymentSpec
    policy: RolloutPolicy = field(default_factory=RolloutPolicy)
    rollout: RolloutStatus | None = None
    last_analysis: Analysis | None = None
    shadow_reports: tuple[Mapping[str, Any], ...] = ()
    revision: int = 0
    created_at: int = 0
    created_by: str | None = None
    updated_at: int = 0
    updated_by: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def to_document(self) -> dict[str, Any]:
        """The stored document (spec and policy in the YAML form ``loopml deploy apply`` reads)."""
        return {
            "spec": {**spec_to_document(self.spec), "policy": policy_to_document(self.policy)},
            "rollout": None if self.rollout is None else status_to_document(self.rollout),
            "last_analysis": None if self.last_analysis is None else analysis_to_document(self.last_analysis),
            "shadow_reports": [dict(r) for r in self.shadow_reports],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], **stamps: Any) -> Deployment:
        spec, policy = read_document(doc["spec"])
        rollout = doc.get("rollout")
        analysis = doc.get("last_analysis")
        return cls(
            spec=spec,
            policy=policy,
            rollout=None if rollout is None else status_from_document(rollout),
            last_analysis=None if analysis is None else analysis_from_document(analysis),
            shadow_reports=tuple(doc.get("shadow_reports") or ()),
            **stamps,
        )

    def view(self) -> dict[str, Any]:
        """The JSON view shown by ``loopml deploy show --json`` and the API."""
        return {
            "name": self.name,
            "revision": self.revision,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
            **self.to_document(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """Raised when a rollout fails: what, why, and the evidence."""

    deployment: str
    severity: str
    message: str
    at_ms: int
    details: Mapping[str, Any]


def event_view(event: DeploymentEvent) -> dict[str, Any]:
    """The JSON view of one history event (``loopml deploy history --json`` and the API)."""
    return {
        "event_id": event.event_id,
        "deployment": event.deployment,
        "revision": event.revision,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "reason": event.reason,
        "models": list(event.models),
        "details": dict(event.details),
    }
