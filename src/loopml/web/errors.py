"""The HTTP status of each loopml error type: one table for the platform server and the model server.

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

__all__ = ["STATUS_BY_TYPE", "http_status"]

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
