"""Deployments over the REST API (``/api/v1/deployments``): each method is one HTTP call.

The server validates and decides; this client returns the JSON views it answers with, the same
documents the deploy commands print with --json for a local store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from loopml.store.remote._http import ApiSession

__all__ = ["RemoteDeployments"]


def _seg(value: str) -> str:
    return quote(value, safe="") or "%20"


class RemoteDeployments:
    """The deployment operations of a loopml server."""

    def __init__(self, api: ApiSession) -> None:
        self._api = api

    @classmethod
    def connect(cls, url: str, *, token: str | None = None) -> RemoteDeployments:
        """A client of the server at ``url`` (``settings.tracking_uri``), authenticated by ``token``."""
        return cls(ApiSession(url, token=token))

    def close(self) -> None:
        self._api.close()

    def list_deployments(self) -> list[dict[str, Any]]:
        return list(self._api.call("GET", "/deployments")["deployments"])

    def get(self, name: str) -> dict[str, Any]:
        return dict(self._api.call("GET", f"/deployments/{_seg(name)}"))

    def create(self, document: Mapping[str, Any], *, reason: str | None = None) -> dict[str, Any]:
        return dict(
            self._api.call("POST", "/deployments", body={"document": dict(document), "reason": reason})
        )

    def apply(
        self, document: Mapping[str, Any], *, reason: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        body = {"document": dict(document), "reason": reason, "dry_run": dry_run}
        return dict(self._api.call("POST", "/deployments/apply", body=body))

    def history(self, name: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        found = self._api.call("GET", f"/deployments/{_seg(name)}/history", params={"limit": limit})
        return list(found["events"])

    def set_traffic(self, name: str, *, weight: float, reason: str | None = None) -> dict[str, Any]:
        body = {"weight": weight, "reason": reason}
        return dict(self._api.call("PUT", f"/deployments/{_seg(name)}/traffic", body=body))

    def start_canary(self, name: str, target: str, *, reason: str | None = None) -> dict[str, Any]:
        body = {"target": target, "reason": reason}
        return dict(self._api.call("POST", f"/deployments/{_seg(name)}/canary", body=body))

    def set_shadow(
        self,
        name: str,
        shadow: str,
        *,
        target: str | None,
        mirror_percent: float = 100.0,
        reason: str | None = None,
    ) -> dict[str, Any]:
        path = f"/deployments/{_seg(name)}/shadows/{_seg(shadow)}"
        if target is None:
            return dict(self._api.call("DELETE", path))
        body = {"target": target, "mirror_percent": mirror_percent, "reason": reason}
        return dict(self._api.call("PUT", path, body=body))

    def promote(self, name: str, *, reason: str | None = None) -> dict[str, Any]:
        return dict(self._api.call("POST", f"/deployments/{_seg(name)}/promote", body={"reason": reason}))

    def rollback(self, name: str, *, reason: str | None = None) -> dict[str, Any]:
        return dict(self._api.call("POST", f"/deployments/{_seg(name)}/rollback", body={"reason": reason}))
