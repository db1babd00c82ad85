"""Run the model server: build the registry from settings, load and verify every model, listen.

Workers are separate (spawned) processes sharing nothing but the listening socket; each loads
and verifies the models itself.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import multiprocessing.process
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette

from loopml.config import Settings
from loopml.errors import InvalidState
from loopml.inference.ensemble import EnsembleSource, load_ensemble
from loopml.inference.loading import load_served_model
from loopml.monitor.feedback import FeedbackService
from loopml.security.ratelimit import InProcessLimiter, RedisLimiter
from loopml.services import Services
from loopml.serving._auth import RequestAuthenticator
from loopml.serving.app import AppOptions, create_app
from loopml.serving.config import ServeConfig
from loopml.serving.dataplane import DataPlane, InferenceSink, ModelRepository
from loopml.serving.grpc_server import GrpcOptions, attach_grpc
from loopml.serving.guards import QueryLimiter
from loopml.serving.heap import freeze_loaded
from loopml.serving.io_metrics import IOMetrics
from loopml.serving.metrics import MULTIPROCESS_ENV, ServingMetrics
from loopml.serving.prediction_log import PredictionLogger
from loopml.serving.probes import RedisProbeStore
from loopml.serving.tracing import Tracing
from loopml.store.repositories import DeploymentStore, ObservationRepository

if TYPE_CHECKING:
    from loopml.deploy.shared_analysis import SharedAnalysis
    from loopml.serving.deployments import DeploymentRuntime

__all__ = ["build_app", "run_server"]

_log = logging.getLogger("loopml.serving")


def build_app(config: ServeConfig, settings: Settings) -> Starlette:
    """Load and verify the configured models and build the app (one per worker).

    Raises:
        LoopmlError: a model cannot be found, verified or loaded (nothing is served).
    """
    services = Services(settings)  # held by the app for as long as it serves
    registry = services.registry
    authenticator = RequestAuthenticator(services.auth) if config.auth else None
    models = [
        load_ensemble(source, registry=registry)
        if isinstance(source, EnsembleSource)
        else load_served_model(source, registry=registry)
        for source in config.models
    ]
    metrics = ServingMetrics()
    sinks: list[InferenceSink] = [IOMetrics(metrics)]
    root = config.log_dir or services.prediction_log
    if config.prediction_log:
        sinks.append(
            PredictionLogger(
                root,
                sample_rates={m.name: s.log_sample_rate for m, s in zip(models, config.models, strict=True)},
                on_drop=metrics.log_dropped.inc,
                on_write=metrics.log_written.inc,
            )
        )
    guards = {m.name: config.guards_of(i) for i, m in enumerate(models)}
    limiter = _limiter(settings)
    feedback = _feedback(services, root)
    runtime = (
        _deployment_runtime(
            config, services, settings, limiter=limiter, metrics=metrics, sinks=sinks, feedback=feedback
        )
        if config.deployments
        else None
    )
    plane = DataPlane(
        ModelRepository(models),
        metrics=metrics,
        sinks=sinks,
        guards=guards,
        limiter=limiter,
        deployments=runtime,
    )
    options = AppOptions(
        max_body_bytes=config.max_body_bytes,
        authenticator=authenticator,
        audit=services.audit if config.auth else None,
        tracing=Tracing.from_config(config.tracing),
        feedback=feedback,
    )
    app = create_app(plane, metrics=metrics, options=options)
    if config.grpc_port is not None:
        grpc_options = GrpcOptions(
            host=config.host,
            port=config.grpc_port,
            max_message_bytes=config.max_body_bytes,
            reuse_port=config.workers > 1,
        )
        attach_grpc(
            app,
            plane,
            metrics=metrics,
            authenticator=authenticator,
            options=grpc_options,
            audit=options.audit,
        )
    return app


def _deployment_runtime(
    config: ServeConfig,
    services: Services,
    settings: Settings,
    *,
    limiter: QueryLimiter,
    metrics: ServingMetrics,
    sinks: list[InferenceSink],
    feedback: FeedbackService | None,
) -> DeploymentRuntime:
    """The configured deployments, routed by their stored state, their models verified and loaded."""
    # Routing, rollout gates and shadows (and, through the gates, the data package's statistics
    # engines): imported only when deployments are served, so `loopml serve MODEL` starts without.
    from loopml.serving.deployments import DeploymentRuntime

    runtime = DeploymentRuntime(
        [d.name for d in config.deployments],
        service=services.deployments,
        registry=services.registry,
        guards={d.name: d.guards for d in config.deployments},
        limiter=limiter,
        metrics=metrics,
        sinks=sinks,
        labels=feedback.repository if feedback is not None else None,
        shared=_shared_analysis(services, settings),
        poll_s=config.poll_s,
    )
    runtime.load()
    return runtime


def _feedback(services: Services, log_root: Path) -> FeedbackService | None:
    """Feedback labels in the metadata store; None when the store keeps none (a remote store)."""
    try:
        return services.feedback(log_root)
    except InvalidState:
        return None


def _shared_analysis(services: Services, settings: Settings) -> SharedAnalysis | None:
    """Rollout observations shared by the replicas: in Redis when ``redis_url`` is set (the store
    while Redis fails), else in the store; None when the store keeps none (a remote store)."""
    from loopml.deploy.shared_analysis import SharedAnalysis  # with the deployments runtime only
    from loopml.serving.shared_observations import RedisObservationBoard

    store = services.store
    if not isinstance(store, DeploymentStore):
        return None
    board: ObservationRepository = store.observations
    if settings.redis_url:
        board = RedisObservationBoard(settings.redis_url, fallback=board)
    return SharedAnalysis(board, services.deployments)


def _limiter(settings: Settings) -> QueryLimiter:
    """Query limits and probing windows shared through Redis when ``redis_url`` is set, else per process."""
    if settings.redis_url:
        return QueryLimiter(
            RedisLimiter(settings.redis_url),
            fallback=InProcessLimiter(),
            probes=RedisProbeStore(settings.redis_url),
        )
    return QueryLimiter(InProcessLimiter())


def _loaded() -> None:
    """End of start-up: freeze what loading made, then switch the collector back on.

    Without the freeze, the first collection after start-up would walk every object made while
    the collector was paused (all still in the youngest generation). A full collection here
    instead cost 0.11-0.2 CPU s for about 1,800 unreachable objects and left the resident size
    as it was, so they are frozen with the rest (see :mod:`loopml.serving.heap`).
    """
    freeze_loaded()
    gc.enable()


def _worker(config: ServeConfig, settings: Settings, sock: socket.socket) -> None:
    """One worker process: verify and load the models, then serve on the shared socket."""
    gc.disable()
    app = build_app(config, settings)
    _loaded()
    server = uvicorn.Server(uvicorn.Config(app, log_level="info", access_log=False))
    server.run(sockets=[sock])


def _stop(workers: Sequence[multiprocessing.process.BaseProcess]) -> None:
    for proc in workers:
        if proc.is_alive():
            proc.terminate()
    for proc in workers:
        proc.join(timeout=30)


@contextlib.contextmanager
def _shared_metrics() -> Iterator[None]:
    """A folder the workers write their metrics into, so ``/metrics`` on any of them sums all.

    A folder the operator set in ``PROMETHEUS_MULTIPROC_DIR`` is used as it is; otherwise a fresh
    one is made and removed when the server stops (stale files would add old counts to new ones).
    """
    if os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    folder = tempfile.mkdtemp(prefix="loopml-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder  # inherited by the spawned workers, read at their import
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def run_server(config: ServeConfig, settings: Settings) -> None:
    """Serve until interrupted.

    With several workers, the parent checks that every model verifies and loads (one clear error
    instead of N), binds the socket, starts the workers and stops them all if one exits. The
    garbage collector is switched on once the models are loaded (``loopml serve`` pauses it for
    start-up).

    Args:
        config: Models and listener settings.
        settings: Where the registry, store and trust store are.
    """
    started = time.perf_counter()
    if config.workers == 1:
        app = build_app(config, settings)
        _loaded()
        _log.info("models loaded in %.2f s", time.perf_counter() - started)
        uvicorn.run(app, host=config.host, port=config.port, log_level="info", access_log=False)
        return
    build_app(config, settings)  # fail here, with one clear error, before any worker starts
    _loaded()
    sock = uvicorn.Config("loopml.serving:create_app", host=config.host, port=config.port).bind_socket()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker, args=(config, settings, sock), name=f"loopml-serve-{i}")
        for i in range(config.workers)
    ]
    stopping: list[bool] = []

    def on_term(*_: object) -> None:
        stopping.append(True)
        _stop(workers)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        with _shared_metrics():
            _supervise(workers, stopping)
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()


def _supervise(workers: Sequence[multiprocessing.process.BaseProcess], stopping: list[bool]) -> None:
    """Start the workers, wait until one exits or the server is told to stop, stop them all."""
    try:
        for proc in workers:
            proc.start()
        while all(proc.is_alive() for proc in workers):
            time.sleep(0.5)
        if not stopping:
            _log.error("a worker exited (codes %s); stopping the others", [p.exitcode for p in workers])
    except KeyboardInterrupt:
        pass
    finally:
        _stop(workers)
