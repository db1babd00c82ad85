"""Serving's error table: error type → HTTP status, and the ``{"error": "..."}`` body every protocol uses.

Request-level problems that have no domain meaning (a content type the endpoint does not read, a
caller over a model's query limit) get their own types here; a body over the limit is
:class:`~loopml.web.errors.PayloadTooLarge`, and everything maps by its loopml error type through
:func:`loopml.web.errors.http_status`.
A client can never cause a 5xx: unexpected exceptions are logged and answered with a generic 500
that names no path, no type and no stack.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from starlette.responses import Response

from loopml.errors import Forbidden, InvalidInput, LoopmlError
from loopml.web.errors import http_status
from loopml.web.rate_limits import retry_after_headers

__all__ = [
    "ERROR_STATUS",
    "RateLimited",
    "UnsupportedMediaType",
    "error_response",
    "status_of",
]

_log = logging.getLogger("loopml.serving")


class UnsupportedMediaType(InvalidInput):
    """The request's Content-Type is not one the endpoint reads."""

    code = "unsupported_media_type"


class RateLimited(Forbidden):
    """Too many requests; ``retry_after`` seconds until the next is allowed."""

    code = "predict_rate_limited"  # the platform server's own 429 is ``rate_limited``
    fields = ("retry_after",)

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: Serving's own request-level errors; every other status comes from :mod:`loopml.web.errors`.
ERROR_STATUS: Mapping[type[LoopmlError], int] = {
    UnsupportedMediaType: 415,
    RateLimited: 429,
}

_GENERIC_500 = "The model server failed to answer this request; the error was logged on the server."


def status_of(err: BaseException) -> int:
    """The HTTP status of an exception (500 for anything not raised on purpose)."""
    return http_status(err, ERROR_STATUS)


def error_response(err: BaseException) -> Response:
    """``{"error": message}`` with the status of ``err``; unexpected errors are logged, not shown."""
    status = status_of(err)
    if status == 500:
        _log.error("Unexpected error while serving a request", exc_info=err)
        message = _GENERIC_500
    else:
        message = str(err)
    headers = retry_after_headers(err.retry_after) if isinstance(err, RateLimited) else None
    return Response(
        orjson.dumps({"error": message}), status_code=status, media_type="application/json", headers=headers
    )
