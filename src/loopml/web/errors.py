"""The HTTP status of each loopml error type: one table for the platform server and the model server.

Also the two request-level errors both servers raise before any domain code runs:
:class:`PayloadTooLarge` (a loopml error, 413, for code that reads a body itself) and
:class:`RequestRejected` (an ``HTTPException`` carrying an error code, for middleware and
framework hooks whose exceptions FastAPI must pass through unchanged).

An error's status is that of the nearest class in its MRO found in the table, so a subclass defined
anywhere inherits its base's status; anything not raised on purpose is a 500. (The MLflow-compatible
API keeps its own table: MLflow's clients expect MLflow's statuses, e.g. 400 for a conflict.)

Example:
    >>> from loopml.errors import NotFound
    >>> http_status(NotFound("no such run"))
    404
    >>> http_status(ValueError("a bug"))
    500
"""

from __future__ import annotations

from collections.abc import Mapping

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

__all__ = ["STATUS_BY_TYPE", "PayloadTooLarge", "RequestRejected", "http_status"]


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


class RequestRejected(HTTPException):
    """A request refused before reaching the domain (size, encoding, nesting, path).

    Args:
        status_code: The HTTP status.
        code: The error code the response names (``payload_too_large``, ``malformed_json``).
        message: What was wrong and what to send instead.
        headers: Extra response headers.
    """

    def __init__(self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code


#: Error type -> HTTP status: the one place statuses of domain errors are chosen.
STATUS_BY_TYPE: Mapping[type[LoopmlError], int] = {
    NotFound: 404,
    Unauthorized: 401,
    Forbidden: 403,
    PolicyViolation: 403,
    Conflict: 409,
    InvalidState: 409,
    IntegrityError: 422,
    UnsafeArtifact: 422,
    InvalidInput: 400,
    PayloadTooLarge: 413,
    StoreUnavailable: 503,
    MissingDependency: 501,
}


def http_status(error: BaseException, extra: Mapping[type[LoopmlError], int] | None = None) -> int:
    """The HTTP status of ``error``: its nearest type in ``extra``, then in the table; else 500.

    Args:
        error: Any exception.
        extra: Request-level error types of one server (a body over the limit: 413, ...).
    """
    if not isinstance(error, LoopmlError):
        return 500
    for kind in type(error).__mro__:
        status = (extra or {}).get(kind) or STATUS_BY_TYPE.get(kind)
        if status is not None:
            return int(status)
    return 500
