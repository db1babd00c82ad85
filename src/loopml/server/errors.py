"""The ONE table that maps error types to HTTP statuses, and the JSON error body.

Every error leaves the API as ``{"error": {"code": ..., "message": ..., "request_id": ...}}``,
plus ``"details"`` holding a domain error's structured fields (``rules`` of a
:class:`~loopml.errors.PolicyViolation`). Domain errors map by type; their code is the class's
own ``code``. Request-level problems (body too large, malformed JSON) are
:class:`~loopml.web.errors.RequestRejected`.
Nothing a client sends may produce a 5xx: unexpected exceptions are logged and answered with a
generic 500 that leaks no internals. Messages never carry a server path: they are scrubbed, and
the unscrubbed text is logged under the request id the client receives.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from loopml.errors import (
    LoopmlError,
)
from loopml.web.authentication import bearer_challenge
from loopml.web.errors import http_status
from loopml.web.request_ids import HEADER as REQUEST_ID_HEADER
from loopml.web.request_ids import request_id_of
from loopml.web.scrub import scrub

__all__ = ["error_body", "install_error_handlers", "status_of"]

_log = logging.getLogger("loopml.server")

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


def status_of(error: LoopmlError) -> tuple[int, str]:
    """The HTTP status and error code of a domain error (500 for a bare :class:`LoopmlError`).

    The status comes from :data:`loopml.web.errors.STATUS_BY_TYPE`; the code is the class's own
    ``code`` (``loopml.errors``), the same name the remote client reads.
    """
    return http_status(error), error.code


def error_body(
    code: str, message: str, *, request_id: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body of an error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    if request_id:
        error["request_id"] = request_id
    return {"error": error}


def _server_roots(request: Request) -> list[str]:
    """Locations of this server that messages must not reveal (artifact root, state folder)."""
    roots: list[str] = []
    blobs = getattr(request.app.state, "blobs", None)
    root_url = getattr(blobs, "root_url", None)
    if isinstance(root_url, str):
        roots.append(root_url)
    settings = getattr(request.app.state, "settings", None)
    home = getattr(settings, "home", None)
    if home is not None:
        roots.append(str(home.expanduser().absolute()))
    return roots


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    """The error response, its message scrubbed of server paths (the original is logged)."""
    rid = request_id_of(request.scope)
    shown = scrub(message, roots=_server_roots(request))
    if shown != message:
        _log.warning("Request %s %s %s: %s %s", rid, request.method, request.url.path, status, message)
    out = dict(headers or {})
    if rid:
        out[REQUEST_ID_HEADER] = rid
    body = error_body(code, shown, request_id=rid, details=details)
    return JSONResponse(body, status_code=status, headers=out or None)


async def _on_loopml(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LoopmlError)
    status, code = status_of(exc)
    headers = (
        {"WWW-Authenticate": bearer_challenge(request.headers.get("authorization"))}
        if status == 401
        else None
    )
    return _respond(request, status, code, str(exc), headers=headers, details=exc.details())


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = dict(exc.headers) if exc.headers else None
    return _respond(request, exc.status_code, code, message, headers=headers)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{_where(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in exc.errors()[:10]]
    message = "The request does not match the API schema: " + "; ".join(problems)
    return _respond(request, 422, "invalid_request", message[:2000])


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = request_id_of(request.scope)
    _log.error("Request %s %s %s failed", rid, request.method, request.url.path, exc_info=exc)
    message = "The server failed to handle the request; its log has the details under the request id."
    return _respond(request, 500, "internal", message)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as JSON."""
    app.add_exception_handler(LoopmlError, _on_loopml)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_unexpected)
