"""Error types raised on purpose anywhere in loopml.

Every error derives from :class:`LoopmlError` and from the builtin exception a caller
already catches, so ``except LookupError`` keeps working::

    LoopmlError
    ├── NotFound            (LookupError)    an id or name that does not exist
    ├── Conflict            (ValueError)     a write that contradicts stored state
    ├── InvalidInput        (ValueError)     a malformed argument, file or request
    ├── InvalidState        (RuntimeError)   an operation not allowed in the current state
    ├── Unauthorized        (PermissionError) missing or bad credentials
    ├── Forbidden           (PermissionError) credentials lack a permission
    ├── IntegrityError      (ValueError)     stored bytes do not match their hash or signature
    ├── UnsafeArtifact      (ValueError)     a file would run code or is otherwise refused
    ├── PolicyViolation     (PermissionError) a rule (e.g. the promotion policy) refuses the change
    ├── StoreUnavailable    (ConnectionError) the metadata store cannot be reached
    └── MissingDependency   (ImportError)    an optional extra is not installed

Messages say what was wrong, the offending value, and what to do about it. Errors carry
identifiers as attributes; adapters (CLI, HTTP) map the *type* to an exit code or status.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "Forbidden",
    "IntegrityError",
    "InvalidInput",
    "InvalidState",
    "LoopmlError",
    "MissingDependency",
    "NotFound",
    "PolicyViolation",
    "StoreUnavailable",
    "Unauthorized",
    "UnsafeArtifact",
    "require_extra",
]


class LoopmlError(Exception):
    """Base class of every error loopml raises on purpose."""


class NotFound(LoopmlError, LookupError):
    """An id or name does not exist."""


class Conflict(LoopmlError, ValueError):
    """A write contradicts what is stored (e.g. a param re-logged with another value)."""


class InvalidInput(LoopmlError, ValueError):
    """An argument, file or request is malformed."""


class InvalidState(LoopmlError, RuntimeError):
    """The operation is not allowed in the object's current state (e.g. logging to a finished run)."""


class Unauthorized(LoopmlError, PermissionError):
    """Credentials are missing, malformed, expired or revoked."""


class Forbidden(LoopmlError, PermissionError):
    """The caller is known but lacks a permission."""


class IntegrityError(LoopmlError, ValueError):
    """Stored bytes do not match their recorded hash, size or signature."""


class UnsafeArtifact(LoopmlError, ValueError):
    """A file is refused because loading it could run code or it failed a safety check."""


class PolicyViolation(LoopmlError, PermissionError):
    """A configured rule refuses the operation (e.g. promoting an unsigned model to ``champion``).

    Attributes:
        rules: The names of the violated rules.
    """

    def __init__(self, message: str, *, rules: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.rules = rules


class StoreUnavailable(LoopmlError, ConnectionError):
    """The metadata store (database) cannot be reached or opened."""


class MissingDependency(LoopmlError, ImportError):
    """An optional extra needed by a feature is not installed."""


def require_extra(module: str, *, extra: str, feature: str) -> None:
    """Raise :class:`MissingDependency` unless ``module`` can be imported.

    Args:
        module: The importable module name, e.g. ``"ray"``.
        extra: The loopml extra that installs it, e.g. ``"ray"``.
        feature: What needs it, in words, e.g. ``"The Ray executor"``.

    Raises:
        MissingDependency: naming the feature and the install command.

    Example:
        >>> require_extra("json", extra="none", feature="JSON")
    """
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependency(
            f"{feature} needs '{module}', which is not installed: pip install 'loopml[{extra}]'"
        )
