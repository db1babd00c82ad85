"""The ONE table that maps error types to HTTP statuses, and the JSON error body.

Every error leaves the API as ``{"error": {"code": ..., "message": ...}}``. Domain errors map by
type; request-level problems (body too large, malformed JSON) are :class:`RequestRejected`.
Nothing a client sends may produce a 5xx: unexpected exceptions are logged and answered with a
generic 500 that leaks no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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

__all__ = ["ERROR_TABLE", "RequestRejected", "error_body", "install_error_handlers", "status_of"]

_log = logging.getLogger("loopml.server")

#: Error type -> (HTTP status, error code). The first matching type (in order) wins.
ERROR_TABLE: tuple[tuple[type[LoopmlError], int, str], ...] = (
    (NotFound, 404, "not_found"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (PolicyViolation, 403, "policy_violation"),
    (Conflict, 409, "conflict"),
    (InvalidState, 409, "invalid_state"),
    (IntegrityError, 422, "integrity_error"),
    (UnsafeArtifact, 422, "unsafe_artifact"),
    (InvalidInput, 400, "invalid_input"),
    (StoreUnavailable, 503, "store_unavailable"),
    (MissingDependency, 501, "not_available"),
)

#: Error code of each HTTP status produced by the framework itself (routing, methods).
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


class RequestRejected(HTTPException):
    """A request refused before reaching the domain (size, encoding, nesting, path)."""

    def __init__(self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code


def status_of(error: LoopmlError) -> tuple[int, str]:
    """The HTTP status and error code of a domain error (500/"internal" if unmapped)."""
    for kind, status, code in ERROR_TABLE:
        if isinstance(error, kind):
            return status, code
    return 500, "internal"


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {"error": {"code": code, "message": message}}


def _respond(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def _on_loopml(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LoopmlError)
    status, code = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _respond(status, code, str(exc), headers)


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return _respond(exc.status_code, code, message, dict(exc.headers) if exc.headers else None)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{_where(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in exc.errors()[:10]]
    message = "The request does not match the API schema: " + "; ".join(problems)
    return _respond(422, "invalid_request", message[:2000])


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(500, "internal", "The server failed to handle the request; see its log.")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as JSON."""
    app.add_exception_handler(LoopmlError, _on_loopml)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_unexpected)
