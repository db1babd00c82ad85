"""Reading the model registry over the REST API: models, versions and the alias audit trail.

Registering, moving aliases and archiving stay with the server-side registry (they verify, scan
and sign files); these calls are what ``loopml models list|show|versions|history`` need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from loopml.store.entities import (
    AliasEvent,
    AliasEventResult,
    ModelVersion,
    ModelVersionStatus,
    RegisteredModel,
)
from loopml.store.remote._http import ApiSession

__all__ = ["RemoteModelReader"]


def _seg(value: str) -> str:
    return quote(value, safe="") or "%20"


def _model(d: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        model_id=d["model_id"],
        name=d["name"],
        description=d.get("description"),
        tags=dict(d.get("tags") or {}),
        aliases=dict(d.get("aliases") or {}),
        latest_version=d.get("latest_version"),
        created_at=d["created_at"],
        created_by=d.get("created_by"),
        updated_at=d["updated_at"],
    )


def _version(d: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        version_id=d["version_id"],
        name=d["name"],
        version=d["version"],
        artifact_id=d.get("artifact_id"),
        manifest_sha256=d["manifest_sha256"],
        flavor=d["flavor"],
        signature_key_id=d.get("signature_key_id"),
        is_signed=bool(d.get("is_signed")),
        scan_verdict=d["scan_verdict"],
        blessing_artifact_id=d.get("blessing_artifact_id"),
        blessing_passed=d.get("blessing_passed"),
        status=ModelVersionStatus(d["status"]),
        run_id=d.get("run_id"),
        execution_id=d.get("execution_id"),
        description=d.get("description"),
        tags=dict(d.get("tags") or {}),
        properties=dict(d.get("properties") or {}),
        aliases=tuple(d.get("aliases") or ()),
        created_at=d["created_at"],
        created_by=d.get("created_by"),
        updated_at=d["updated_at"],
    )


def _alias_event(d: Mapping[str, Any]) -> AliasEvent:
    return AliasEvent(
        event_id=d["event_id"],
        name=d["name"],
        alias=d["alias"],
        from_version=d.get("from_version"),
        to_version=d.get("to_version"),
        expected_version=d.get("expected_version"),
        actor=d["actor"],
        at=d["at"],
        reason=d.get("reason"),
        result=AliasEventResult(d["result"]),
        detail=d.get("detail"),
    )


class RemoteModelReader:
    """The read side of the model registry of a loopml server (same results as ``ModelRegistry``)."""

    def __init__(self, api: ApiSession) -> None:
        self._api = api

    def search(self, *, name_like: str | None = None, tag: str | None = None) -> list[RegisteredModel]:
        found = self._api.call("GET", "/models", params={"name_like": name_like, "tag": tag})
        return [_model(m) for m in found["models"]]

    def get_model(self, name: str) -> RegisteredModel:
        return _model(self._api.call("GET", f"/models/{_seg(name)}"))

    def versions(self, name: str) -> list[ModelVersion]:
        found = self._api.call("GET", f"/models/{_seg(name)}/versions")
        return [_version(v) for v in found["versions"]]

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        found = self._api.call("GET", f"/models/{_seg(name)}/alias-history", params={"alias": alias})
        return [_alias_event(e) for e in found["events"]]
