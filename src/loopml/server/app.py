"""The app factory: :func:`create_app` builds the REST API over one store and one blob store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from loopml.artifacts import BlobStore
from loopml.config import Settings
from loopml.errors import MissingDependency
from loopml.server._config import ServerConfig
from loopml.server._maintenance import periodic_statistics
from loopml.server._middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from loopml.server.errors import install_error_handlers
from loopml.server.routes import artifacts, datasets, experiments, health, lineage, models, runs
from loopml.server.schemas.common import ERROR_RESPONSES
from loopml.store.repositories import Store

__all__ = ["API_PREFIX", "create_app"]

_log = logging.getLogger("loopml.server")

API_PREFIX = "/api/v1"


def _install_security(
    app: FastAPI, store: Store, settings: Settings, *, auth_enabled: bool | None, max_body_bytes: int
) -> None:
    """Install the identity / authorisation / audit / rate-limit layer (outermost middleware).

    Raises:
        MissingDependency: auth was asked for explicitly but the security layer cannot be loaded.
    """
    try:
        from loopml.server._security import SecurityLayer
    except ImportError as err:
        if auth_enabled:
            raise MissingDependency(
                f"Authentication was requested but the security layer cannot load: {err}"
            ) from err
        _log.warning("Serving without the security layer (%s); loopback only.", err)
        return
    if not hasattr(store, "identity"):
        if auth_enabled:
            raise MissingDependency(
                f"Authentication needs a store with identity tables; {store.url} has none."
            )
        _log.warning("Serving without the security layer: the store %s has no identity tables.", store.url)
        return
    identity_store: Any = store  # a SqlStore: the Store protocol plus `identity`
    layer = SecurityLayer.from_settings(identity_store, settings, auth_enabled=auth_enabled is not False)
    app.include_router(layer.router(), responses=ERROR_RESPONSES)
    layer.install(app, max_body_bytes=max_body_bytes)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    blobs: BlobStore | None = None,
    auth_enabled: bool | None = None,
    config: ServerConfig | None = None,
) -> FastAPI:
    """Build the REST API app.

    Args:
        settings: Where the metadata store and artifact root live.
        store: An open store to serve (default: open ``settings.resolved_store_url()`` at startup;
            the app closes what it opened).
        blobs: A blob store (default: ``BlobStore(settings.resolved_artifacts_url())``).
        auth_enabled: Whether bearer auth guards the API (default: on when the security layer is installed).
        config: Request-safety limits (default :class:`ServerConfig`).

    Returns:
        The FastAPI app; run it with uvicorn.
    """
    limits = config or ServerConfig()
    owned = store is None
    if store is None:
        from loopml.store.sql import open_store

        store = open_store(settings.resolved_store_url())
    served: Store = store
    refresh = getattr(store, "refresh_statistics", None)  # SQL stores; a remote store has none

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with periodic_statistics(refresh, limits.statistics_interval_s):
                yield
        finally:
            if owned:
                served.close()

    app = FastAPI(
        title="loopml",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.blobs = blobs if blobs is not None else BlobStore(settings.resolved_artifacts_url())
    app.state.config = limits
    app.state.max_json_depth = limits.max_json_depth
    app.state.settings = settings
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
    for module in (experiments, runs, artifacts, lineage, datasets, models):
        api.include_router(module.router)
    app.include_router(health.router)
    app.include_router(api)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=limits.max_body_bytes,
        max_artifact_bytes=limits.max_artifact_bytes,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    _install_security(app, served, settings, auth_enabled=auth_enabled, max_body_bytes=limits.max_body_bytes)
    return app


def app_from_environment() -> FastAPI:
    """The app with settings from ``LOOPML_*`` / ``loopml.toml`` (uvicorn factory for ``--workers``).

    ``LOOPML_SERVER_NO_AUTH=1`` turns authentication off (the CLI only allows that on loopback).
    """
    import os

    from loopml.config import load_settings

    no_auth = os.environ.get("LOOPML_SERVER_NO_AUTH") == "1"
    return create_app(load_settings(), auth_enabled=False if no_auth else None)
