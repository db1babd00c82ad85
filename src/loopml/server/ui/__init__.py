"""The web UI at ``/ui``: server-rendered pages over the same domain calls, grants and audit as the API.

:func:`mount_ui` adds the UI's routes and its session middleware to an app whose security layer is
already installed (call it last in the app factory, so the session middleware runs first).
"""

from __future__ import annotations

from typing import Any

from loopml.server._security import STATE_LAYER, SecurityLayer
from loopml.server.ui import (
    admin,
    artifacts,
    auth,
    datasets,
    deployments,
    graphs,
    models,
    monitoring,
    static,
    tracking,
)
from loopml.server.ui._session import UI_PREFIX, UiSessionMiddleware

__all__ = ["UI_PREFIX", "mount_ui"]


def mount_ui(app: Any) -> None:
    """Add the ``/ui`` pages to ``app`` (FastAPI) behind its security layer, when it has one."""
    for module in (
        auth,
        static,
        tracking,
        models,
        artifacts,
        datasets,
        deployments,
        monitoring,
        graphs,
        admin,
    ):
        app.include_router(module.router)
    layer = getattr(app.state, STATE_LAYER, None)
    auth_enabled = isinstance(layer, SecurityLayer) and layer.auth_enabled
    open_paths = static.static_paths() | {f"{UI_PREFIX}/login", f"{UI_PREFIX}/logout"}
    if isinstance(layer, SecurityLayer):
        # the login form, logout and the bundled files are served before any session exists
        layer.open_paths = layer.open_paths | open_paths
    app.add_middleware(UiSessionMiddleware, auth_enabled=auth_enabled, open_paths=open_paths)
