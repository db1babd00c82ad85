"""Serving's error table: error type → HTTP status, and the ``{"error": "..."}`` body every protocol uses.

Request-level problems that have no domain meaning (a body over the limit, a content type the
endpoint does not read) get their own types here; everything else maps by its loopml error type.
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

__all__ = [
    "ERROR_STATUS",
    "PayloadTooLarge",
    "RateLimited",
    "UnsupportedMediaType",
    "error_response",
    "status_of",
]

_log = logging.getLogger("loopml.serving")


class PayloadTooLarge(InvalidInput):
    """The request body is larger than the server accepts.

    Attributes:
        limit: The limit in bytes.
    """

    code = "payload_too_large"
    fields = ("limit",)

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


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
    PayloadTooLarge: 413,
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
    headers = {"Retry-After": str(max(1, round(err.retry_after)))} if isinstance(err, RateLimited) else None
    return Response(
        orjson.dumps({"error": message}), status_code=status, media_type="application/json", headers=headers
    )
