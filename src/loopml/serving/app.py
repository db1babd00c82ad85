"""The inference ASGI app: every protocol's routes over one data plane, guarded the same way.

Each endpoint goes through one guard: authentication (when enabled) and the per-model ``predict``
permission, the in-flight gauge, the error table (``{"error": ...}`` with a 4xx, never a stack
trace), and for inference requests the request counter and latency histogram. Every refusal
(401, 403, 429: bad token, no permission, over a limit, probing) is written to the audit log,
and a 401 says how to authenticate (``WWW-Authenticate``). Every response carries the security
headers of :mod:`loopml.web.headers`. The per-model guards (limits, probing, atypical inputs)
run in the data plane, for every protocol.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loopml.errors import InvalidInput
from loopml.monitor.feedback import FeedbackService
from loopml.security.audit import AuditLog
from loopml.serving._answers import answered_versions
from loopml.serving._auth import ModelForbidden, RequestAuthenticator
from loopml.serving._http import Guard, Handler, json_response
from loopml.serving.batching import Arrivals
from loopml.serving.dataplane import DataPlane
from loopml.serving.errors import error_response, status_of
from loopml.serving.heap import freeze_loaded
from loopml.serving.metrics import CONTENT_TYPE_LATEST, ServingMetrics
from loopml.serving.protocols import feedback, mlflow, tfserving, v2
from loopml.serving.tracing import Tracing
from loopml.web.audit import REFUSALS, record_request
from loopml.web.authentication import bearer_challenge
from loopml.web.headers import SecurityHeadersMiddleware

__all__ = ["AppOptions", "create_app"]

_log = logging.getLogger("loopml.serving")

#: Paths answered without credentials (load-balancer and orchestrator probes).
OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/ping", "/health"})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AppOptions:
    """How the app guards requests.

    Attributes:
        max_body_bytes: Largest request body accepted (413 beyond).
        authenticator: Checks bearer tokens; None serves without authentication (loopback only).
        audit: Where refused requests are recorded (None: not recorded).
        default_model: The model answering routes that name none (MLflow's ``/invocations``);
            its ``predict`` permission is checked for them.
        tracing: OpenTelemetry traces of inference requests (default: off).
        feedback: Where ``POST /v2/models/{m}/feedback`` stores labels (None: the route refuses).
    """

    max_body_bytes: int = 32 * 1024 * 1024
    authenticator: RequestAuthenticator | None = None
    audit: AuditLog | None = None
    default_model: str | None = None
    tracing: Tracing = dataclasses.field(default_factory=Tracing)
    feedback: FeedbackService | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1024:
            raise InvalidInput(f"max_body_bytes must be an integer >= 1024; got {self.max_body_bytes!r}.")


async def _audit_denial(audit: AuditLog, request: Request, response: Response, model: str | None) -> None:
    try:
        message = orjson.loads(bytes(response.body)).get("error", "")
    except (orjson.JSONDecodeError, AttributeError):
        message = ""
    await record_request(
        audit,
        actor=request.scope.get("loopml.principal"),
        action="serving.predict",
        target=f"model:{model}" if model else None,
        client=request.client.host if request.client else None,
        status_code=response.status_code,
        details={"method": request.method, "path": request.url.path, "message": str(message)[:500]},
    )


async def _traced(
    tracing: Tracing, handler: Handler, request: Request, protocol: str, model: str | None
) -> Response:
    attributes = {
        "loopml.protocol": protocol,
        "http.request.method": request.method,
        "url.path": request.url.path,
    }
    with tracing.request(f"{request.method} {protocol}", request.headers, attributes) as span:
        try:
            response = await handler(request)
        except Exception as err:
            span.set_attribute("http.response.status_code", status_of(err))
            raise
        span.set_attribute("http.response.status_code", response.status_code)
        span.set_attribute("loopml.model", request.scope.get("loopml.model") or model or "")
        span.set_attribute("loopml.version", ",".join(answered_versions(request.scope)))
        return response


def _guard_factory(metrics: ServingMetrics, options: AppOptions, arrivals: Arrivals) -> Guard:
    auth = options.authenticator
    tracing = options.tracing

    def guard(handler: Handler, protocol: str, is_inference: bool) -> Handler:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            metrics.in_flight.inc()
            model = request.path_params.get("model") or (options.default_model if is_inference else None)
            try:
                with arrivals.request() if is_inference else contextlib.nullcontext():
                    if auth is not None and request.url.path not in OPEN_PATHS:
                        principal = await auth.check(request.headers.get("authorization"), model)
                        request.scope["loopml.principal"] = principal.name
                        request.scope["loopml.caller"] = principal.rate_key
                    else:
                        request.scope["loopml.caller"] = (
                            f"client:{request.client.host if request.client else '-'}"
                        )
                    if is_inference and tracing.enabled:
                        response = await _traced(tracing, handler, request, protocol, model)
                    else:
                        response = await handler(request)
            except Exception as err:
                if isinstance(err, ModelForbidden) and err.principal is not None:
                    request.scope["loopml.principal"] = err.principal.name
                response = error_response(err)
                if response.status_code == 401:
                    challenge = bearer_challenge(request.headers.get("authorization"))
                    response.headers["WWW-Authenticate"] = challenge
            finally:
                metrics.in_flight.dec()
            if options.audit is not None and response.status_code in REFUSALS:
                await _audit_denial(
                    options.audit, request, response, request.scope.get("loopml.model") or model
                )
            if is_inference:
                name = request.scope.get("loopml.model") or request.path_params.get("model", "")
                for version in answered_versions(request.scope):  # each arm of a split request
                    metrics.requests.labels(name, version, protocol, str(response.status_code)).inc()
                metrics.latency.labels(name, protocol).observe(time.perf_counter() - started)
            return response

        return endpoint

    return guard


async def _http_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        status = exc.status_code
        message = (
            f"No route {request.method} {request.url.path}; see /v2 (Open Inference Protocol), "
            "/v1/models/NAME (TF Serving) and /invocations (MLflow)."
            if status == 404
            else f"{request.method} is not allowed on {request.url.path}."
            if status == 405
            else str(exc.detail)
        )
        return json_response({"error": message}, status_code=status, headers=dict(exc.headers or {}))
    response = error_response(exc)
    assert status_of(exc) == response.status_code
    return response


def create_app(
    plane: DataPlane, *, metrics: ServingMetrics | None = None, options: AppOptions | None = None
) -> Starlette:
    """The ASGI app serving ``plane`` over the V2, TF Serving and MLflow protocols, plus ``/metrics``.

    Args:
        plane: The data plane (its models are already loaded and verified).
        metrics: Prometheus metrics (default: fresh ones).
        options: Body limit and authentication.
    """
    metrics = metrics or ServingMetrics()
    options = options or AppOptions()
    if options.default_model is None and plane.names():
        options = dataclasses.replace(options, default_model=plane.names()[0])
    guard = _guard_factory(metrics, options, plane.arrivals)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    routes: list[Route] = [
        *v2.routes(plane, max_body_bytes=options.max_body_bytes, guard=guard),
        *tfserving.routes(plane, max_body_bytes=options.max_body_bytes, guard=guard),
        *mlflow.routes(plane, max_body_bytes=options.max_body_bytes, guard=guard),
        *feedback.routes(
            plane, feedback=options.feedback, max_body_bytes=options.max_body_bytes, guard=guard
        ),
        Route("/metrics", guard(metrics_endpoint, "metrics", False), methods=["GET"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await plane.start()
        freeze_loaded()  # what start-up loaded is never garbage: keep full collections off it
        yield
        await plane.close()
        options.tracing.shutdown()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},
        middleware=[Middleware(SecurityHeadersMiddleware)],
        lifespan=lifespan,
    )
    app.state.plane = plane
    app.state.metrics = metrics
    return app
