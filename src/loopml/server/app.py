"""The app factory: :func:`create_app` builds the REST API over one store and one blob store."""

from __future__ import annotations

import importlib
import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI

from loopml.artifacts import BlobStore
from loopml.config import Settings
from loopml.errors import InvalidState, MissingDependency
from loopml.server._config import ServerConfig
from loopml.server._maintenance import periodic_monitoring, periodic_statistics
from loopml.server._openapi import install_openapi
from loopml.server.errors import error_body, install_error_handlers
from loopml.server.mlflow.envelope import MlflowEnvelopeMiddleware
from loopml.server.mlflow.routes import mlflow_routers
from loopml.server.routes import (
    artifacts,
    datasets,
    deployments,
    experiments,
    health,
    lineage,
    models,
    monitoring,
    runs,
)
from loopml.server.schemas.common import ERROR_RESPONSES
from loopml.server.ui import mount_ui
from loopml.services import Services
from loopml.store.repositories import IdentityStore, Store
from loopml.store.sql import SqlStore
from loopml.web.allow import AllowMiddleware
from loopml.web.body_limits import BodyLimitMiddleware, UploadLimit
from loopml.web.headers import SecurityHeadersMiddleware
from loopml.web.request_ids import RequestIdMiddleware

if TYPE_CHECKING:
    from loopml.server._security import SecurityLayer

__all__ = ["API_PREFIX", "create_app", "load_security_layer"]

_log = logging.getLogger("loopml.server")

API_PREFIX = "/api/v1"
#: Paths whose bodies are artifact bytes (bounded by the artifact limit, not the JSON limit).
UPLOAD_PATHS = re.compile(
    r"^/api/v1/(blobs$|runs/[^/]+/artifacts/)|^/api/2\.0/mlflow-artifacts/(artifacts|mpu/parts)/"
)


SECURITY_MODULE = "loopml.server._security"


def load_security_layer() -> type[SecurityLayer]:
    """The security layer's class, or an error that stops the server: it never serves without it.

    Raises:
        MissingDependency: the security layer cannot be imported (a broken or partial install).
    """
    try:
        module = importlib.import_module(SECURITY_MODULE)
        layer: type[SecurityLayer] = module.SecurityLayer
    except Exception as err:  # any failure to load it, not only ImportError: fail closed
        raise MissingDependency(
            f"The server's security layer ({SECURITY_MODULE}) cannot be loaded: {type(err).__name__}: "
            f"{err}. The server does not start without authentication, authorisation and audit; "
            "reinstall loopml (pip install --force-reinstall loopml) and check that `python -c "
            f"'import {SECURITY_MODULE}'` succeeds."
        ) from err
    return layer


def _install_security(
    app: FastAPI, services: Services, *, auth_enabled: bool | None, max_body_bytes: int
) -> None:
    """Install the identity / authorisation / audit / rate-limit layer (outermost middleware).

    Raises:
        MissingDependency: the security layer cannot be loaded.
        InvalidState: the store has no identity tables and authentication was not turned off.
    """
    layer_class = load_security_layer()
    store = services.store
    if not isinstance(store, IdentityStore):
        if auth_enabled is not False:
            raise InvalidState(
                f"The server needs a store with users, tokens and an audit log to authenticate "
                f"requests; {store.url} has none. Serve a SQL store (LOOPML_STORE_URL)."
            )
        _log.warning("Serving without the security layer: the store %s has no identity tables.", store.url)
        return
    layer = layer_class(store, services.settings, auth_enabled=auth_enabled is not False, auth=services.auth)
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
        blobs: A blob store (default: the settings' artifact root, with their encryption key).
        auth_enabled: Whether bearer auth guards the API (default: on when the security layer is installed).
        config: Request-safety limits (default :class:`ServerConfig`).

    Returns:
        The FastAPI app; run it with uvicorn.

    Raises:
        MissingDependency: the security layer cannot be loaded (the server never runs without it).
    """
    limits = config or ServerConfig()
    load_security_layer()  # before anything is opened: fail closed, and fast
    services = Services(settings, store=store, blobs=blobs)
    served = services.store
    refresh = served.refresh_statistics if isinstance(served, SqlStore) else None
    monitor_lock = threading.Lock()  # one monitoring pass at a time: background or asked for

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with (
                periodic_statistics(refresh, limits.statistics_interval_s),
                periodic_monitoring(
                    services,
                    limits.monitor_interval_s,
                    slices=limits.monitor_slices,
                    retrain_policies=limits.retrain_policies,
                    lock=monitor_lock,
                ),
            ):
                yield
        finally:
            services.close()

    app = FastAPI(
        title="loopml",
        version="1",
        description=(
            "The loopml platform API. The MLflow-compatible API the same server answers under "
            "/api/2.0/mlflow and /api/2.0/mlflow-artifacts follows MLflow's REST API reference and is "
            "not part of this document."
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.store = served
    app.state.blobs = services.blobs
    app.state.config = limits
    app.state.monitor_lock = monitor_lock
    app.state.max_json_depth = limits.max_json_depth
    app.state.settings = settings
    install_error_handlers(app)
    install_openapi(app)
    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
    for module in (experiments, runs, artifacts, lineage, datasets, models, deployments, monitoring):
        api.include_router(module.router)
    app.include_router(health.router)
    app.include_router(api)
    for mlflow_router in mlflow_routers():  # MLflow's contract, documented by MLflow
        app.include_router(mlflow_router, include_in_schema=False)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=limits.max_body_bytes,
        error_body=error_body,
        uploads=UploadLimit(paths=UPLOAD_PATHS, max_bytes=limits.max_artifact_bytes, what="artifact upload"),
    )
    _install_security(app, services, auth_enabled=auth_enabled, max_body_bytes=limits.max_body_bytes)
    app.add_middleware(MlflowEnvelopeMiddleware)  # MLflow clients read MLflow's error shape
    mount_ui(app)  # outside the security layer: its session cookie becomes a bearer token first
    # OPTIONS is answered outside the security layer: the methods of a path are what the public
    # OpenAPI document says, and asking reads nothing stored.
    app.add_middleware(AllowMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: every response carries X-Request-ID
    return app


def app_from_environment() -> FastAPI:
    """The app with settings from ``LOOPML_*`` / ``loopml.toml`` (uvicorn factory for ``--workers``).

    ``LOOPML_SERVER_NO_AUTH=1`` turns authentication off (the CLI only allows that on loopback);
    ``LOOPML_SERVER_MONITOR_EVERY_S`` runs a monitoring pass every so many seconds (sliced by the
    comma-separated features of ``LOOPML_SERVER_MONITOR_SLICES``), and
    ``LOOPML_SERVER_RETRAIN_POLICIES`` (a folder) a retraining step after each.
    """
    import os

    from loopml.config import load_settings

    no_auth = os.environ.get("LOOPML_SERVER_NO_AUTH") == "1"
    every = os.environ.get("LOOPML_SERVER_MONITOR_EVERY_S")
    policies = os.environ.get("LOOPML_SERVER_RETRAIN_POLICIES") or None
    slices = tuple(c for c in os.environ.get("LOOPML_SERVER_MONITOR_SLICES", "").split(",") if c)
    config = (
        ServerConfig(monitor_interval_s=float(every), monitor_slices=slices, retrain_policies=policies)
        if every
        else None
    )
    return create_app(load_settings(), config=config, auth_enabled=False if no_auth else None)
