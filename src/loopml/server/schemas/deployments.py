"""Wire types of ``/api/v1/deployments``: documents, traffic, canary, shadow and override requests."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from loopml.server.schemas.common import Name, Text, Wire

__all__ = ["CanaryStart", "DeploymentApply", "OverrideRequest", "ShadowSet", "TrafficSet"]

Percent = Annotated[float, Field(ge=0, le=100)]


class DeploymentApply(Wire):
    """A deployment document (the YAML of ``loopml deploy apply`` as JSON)."""

    document: dict[str, Any]
    reason: Text | None = None
    dry_run: bool = False


class TrafficSet(Wire):
    weight: Percent
    reason: Text | None = None


class CanaryStart(Wire):
    target: Name
    reason: Text | None = None


class ShadowSet(Wire):
    target: Name
    mirror_percent: Percent = 100.0
    reason: Text | None = None


class OverrideRequest(Wire):
    reason: Text | None = None
