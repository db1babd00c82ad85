"""MLflow's error envelope: ``{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": ...}``.

One table maps loopml's error types to MLflow's error codes and HTTP statuses;
:class:`MlflowRoute` renders every error raised by an MLflow route through it.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from loopml.errors import (
    Conflict,
    Forbidden,
    IntegrityError,
    InvalidInput,
    InvalidState,
    LoopmlError,
    MissingDependency,
    NotFound,
    PolicyViolation,
    StoreUnavailable,
    Unauthorized,
    UnsafeArtifact,
)

__all__ = ["ERROR_CODES", "HTTP_ERROR_CODES", "MlflowRoute", "mlflow_error", "status_and_code"]

_log = logging.getLogger("loopml.server.mlflow")

#: loopml error type -> (HTTP status, MLflow error code); the first matching type wins.
ERROR_CODES: tuple[tuple[type[LoopmlError], int, str], ...] = (
    (NotFound, 404, "RESOURCE_DOES_NOT_EXIST"),
    (Unauthorized, 401, "UNAUTHENTICATED"),
    (Forbidden, 403, "PERMISSION_DENIED"),
    (PolicyViolation, 403, "PERMISSION_DENIED"),
    (Conflict, 400, "RESOURCE_ALREADY_EXISTS"),
    (InvalidState, 400, "INVALID_STATE"),
    (IntegrityError, 400, "INVALID_STATE"),
    (UnsafeArtifact, 400, "INVALID_PARAMETER_VALUE"),
    (InvalidInput, 400, "INVALID_PARAMETER_VALUE"),
    (StoreUnavailable, 503, "TEMPORARILY_UNAVAILABLE"),
    (MissingDependency, 501, "NOT_IMPLEMENTED"),
)

#: HTTP status (from the framework or the security layer) -> MLflow error code.
HTTP_ERROR_CODES: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_ALREADY_EXISTS",
    413: "INVALID_PARAMETER_VALUE",
    415: "BAD_REQUEST",
    422: "INVALID_PARAMETER_VALUE",
    429: "REQUEST_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
}


def status_and_code(error: LoopmlError) -> tuple[int, str]:
    """The HTTP status and MLflow error code of a domain error."""
    for kind, status, code in ERROR_CODES:
        if isinstance(error, kind):
            return status, code
    return 500, "INTERNAL_ERROR"


def mlflow_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An MLflow error response."""
    return JSONResponse({"error_code": code, "message": message}, status_code=status, headers=headers)


def _render(request: Request, exc: Exception) -> Response:
    if isinstance(exc, LoopmlError):
        status, code = status_and_code(exc)
        return mlflow_error(status, code, str(exc))
    if isinstance(exc, RequestValidationError):
        problems = [
            ".".join(str(p) for p in e.get("loc", ()) if p != "body") + ": " + str(e.get("msg", "invalid"))
            for e in exc.errors()[:10]
        ]
        message = "The request does not match the MLflow API: " + "; ".join(problems)
        return mlflow_error(400, "INVALID_PARAMETER_VALUE", message[:2000])
    if isinstance(exc, HTTPException):
        code = HTTP_ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return mlflow_error(exc.status_code, code, detail, dict(exc.headers) if exc.headers else None)
    _log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return mlflow_error(500, "INTERNAL_ERROR", "The server failed to handle the request; see its log.")


#: MLflow handlers answer ``dict[str, Any]`` (MLflow's JSON), rendered as FastAPI would render it.
_MLFLOW_BODY: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
_RENDERED = "__loopml_rendered__"


def _rendered(endpoint: Callable[..., Any], status_code: int) -> Callable[..., Any]:
    """``endpoint``, rendering its JSON in its own worker thread, when it is a plain handler of MLflow JSON.

    FastAPI checks a plain (``def``) handler's answer against its return annotation in a second
    worker thread before rendering it: a thread hop per request, for a check that ``dict[str,
    Any]`` always passes. The same check and rendering (pydantic's) run here, in the handler's
    thread, and FastAPI passes the finished response on. Coroutines, generators and handlers of
    any other return type are left to FastAPI.
    """
    plain = inspect.isfunction(endpoint) and not (
        inspect.iscoroutinefunction(endpoint)
        or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint)
    )
    if not plain or getattr(endpoint, _RENDERED, False):
        return endpoint
    try:
        answers = get_type_hints(endpoint).get("return")
    except (NameError, TypeError):  # an annotation that does not resolve: FastAPI's to judge
        return endpoint
    if answers != dict[str, Any]:
        return endpoint

    @functools.wraps(endpoint)
    def rendered(*args: Any, **kwargs: Any) -> Any:
        answer = endpoint(*args, **kwargs)
        if isinstance(answer, Response):
            return answer
        body = _MLFLOW_BODY.dump_json(
            _MLFLOW_BODY.validate_python(answer, from_attributes=True), by_alias=True
        )
        return Response(body, status_code=status_code, media_type="application/json")

    setattr(rendered, _RENDERED, True)
    return rendered


class MlflowRoute(APIRoute):
    """A route whose errors leave in MLflow's envelope instead of loopml's.

    Its plain handlers' JSON is rendered in the handler's own worker thread (:func:`_rendered`).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _rendered(endpoint, kwargs.get("status_code") or 200), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def mlflow_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every error leaves as MLflow's envelope
                return _render(request, exc)

        return mlflow_handler
