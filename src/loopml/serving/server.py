"""Run the model server: build the registry from settings, load and verify every model, listen.

Workers are separate processes sharing nothing but the listening socket; each loads and verifies
the models itself.
"""

from __future__ import annotations

import functools
import logging
import time

import uvicorn
from starlette.applications import Starlette

from loopml.config import Settings
from loopml.registry import ModelRegistry
from loopml.serving._auth import RequestAuthenticator
from loopml.serving.app import AppOptions, create_app
from loopml.serving.config import ServeConfig
from loopml.serving.dataplane import DataPlane, ModelRepository
from loopml.serving.loading import load_served_model
from loopml.serving.metrics import ServingMetrics
from loopml.serving.prediction_log import PredictionLogger

__all__ = ["build_app", "run_server"]

_log = logging.getLogger("loopml.serving")


def build_app(config: ServeConfig, settings: Settings) -> Starlette:
    """Load and verify the configured models and build the app (one per worker).

    Raises:
        LoopmlError: a model cannot be found, verified or loaded (nothing is served).
    """
    registry = ModelRegistry.from_settings(settings)
    authenticator = None
    if config.auth:
        from loopml.security.auth import AuthService

        pepper = settings.token_pepper.get_secret_value() if settings.token_pepper else None
        authenticator = RequestAuthenticator(AuthService(registry.store, pepper=pepper))  # type: ignore[arg-type]
    models = [load_served_model(source, registry=registry) for source in config.models]
    metrics = ServingMetrics()
    sinks = []
    if config.prediction_log:
        root = config.log_dir or settings.home.expanduser().absolute() / "predictions"
        sinks.append(
            PredictionLogger(
                root,
                sample_rates={m.name: s.log_sample_rate for m, s in zip(models, config.models, strict=True)},
                on_drop=metrics.log_dropped.inc,
                on_write=metrics.log_written.inc,
            )
        )
    plane = DataPlane(ModelRepository(models), metrics=metrics, sinks=sinks)
    options = AppOptions(max_body_bytes=config.max_body_bytes, authenticator=authenticator)
    return create_app(plane, metrics=metrics, options=options)


def run_server(config: ServeConfig, settings: Settings) -> None:
    """Serve until interrupted.

    Args:
        config: Models and listener settings.
        settings: Where the registry, store and trust store are.
    """
    started = time.perf_counter()
    common = {"host": config.host, "port": config.port, "log_level": "info", "access_log": False}
    if config.workers == 1:
        app = build_app(config, settings)
        _log.info("models loaded in %.2f s", time.perf_counter() - started)
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    build_app(config, settings)  # fail here, with one clear error, before any worker starts
    uv_config = uvicorn.Config(
        functools.partial(build_app, config, settings),
        factory=True,
        workers=config.workers,
        **common,  # type: ignore[arg-type]
    )
    sock = uv_config.bind_socket()
    from uvicorn.supervisors import Multiprocess

    Multiprocess(uv_config, sockets=[sock]).run()
