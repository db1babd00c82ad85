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

Each class names itself on the wire with a ``code`` class attribute, and lists in ``fields`` the
attributes that travel with the message (JSON values), so an error raised by a server comes back
to a remote client as the same type with the same attributes (:func:`error_type`,
:meth:`LoopmlError.details`, :meth:`LoopmlError.from_wire`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

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
    "error_type",
    "error_types",
    "require_extra",
]


class LoopmlError(Exception):
    """Base class of every error loopml raises on purpose.

    Attributes:
        code: The error's name on the wire (snake_case, unique per class).
        fields: Attributes sent along with the message; each is a keyword of ``__init__``.

    Example:
        >>> err = PolicyViolation("Only signed models may be champion.", rules=("signed",))
        >>> wire = err.details()
        >>> wire
        {'rules': ['signed']}
        >>> back = error_type(err.code).from_wire(str(err), wire)
        >>> type(back).__name__, back.rules
        ('PolicyViolation', ('signed',))
    """

    code: ClassVar[str] = "error"
    fields: ClassVar[tuple[str, ...]] = ()

    def details(self) -> dict[str, Any]:
        """The ``fields`` as JSON values (tuples become lists)."""
        return {name: _to_json(getattr(self, name)) for name in self.fields}

    @classmethod
    def from_wire(cls, message: str, details: Mapping[str, Any] | None = None) -> LoopmlError:
        """Rebuild an error sent as ``message`` plus :meth:`details` (unknown keys are ignored).

        When the details do not fit the constructor (missing or of the wrong shape), the nearest
        base class that takes a message alone is built instead, so the caller still gets an error
        its ``except`` clauses recognise.
        """
        given = details or {}
        kwargs = {name: _from_json(given[name]) for name in cls.fields if name in given}
        try:
            return cls(message, **kwargs)
        except TypeError:
            pass
        for base in cls.__mro__[1:]:
            if issubclass(base, LoopmlError) and not base.fields:
                return base(message)
        return LoopmlError(message)  # pragma: no cover - LoopmlError itself has no fields


class NotFound(LoopmlError, LookupError):
    """An id or name does not exist."""

    code = "not_found"


class Conflict(LoopmlError, ValueError):
    """A write contradicts what is stored (e.g. a param re-logged with another value)."""

    code = "conflict"


class InvalidInput(LoopmlError, ValueError):
    """An argument, file or request is malformed."""

    code = "invalid_input"


class InvalidState(LoopmlError, RuntimeError):
    """The operation is not allowed in the object's current state (e.g. logging to a finished run)."""

    code = "invalid_state"


class Unauthorized(LoopmlError, PermissionError):
    """Credentials are missing, malformed, expired or revoked."""

    code = "unauthorized"


class Forbidden(LoopmlError, PermissionError):
    """The caller is known but lacks a permission."""

    code = "forbidden"


class IntegrityError(LoopmlError, ValueError):
    """Stored bytes do not match their recorded hash, size or signature."""

    code = "integrity_error"


class UnsafeArtifact(LoopmlError, ValueError):
    """A file is refused because loading it could run code or it failed a safety check."""

    code = "unsafe_artifact"


class PolicyViolation(LoopmlError, PermissionError):
    """A configured rule refuses the operation (e.g. promoting an unsigned model to ``champion``).

    Attributes:
        rules: The names of the violated rules.
    """

    code = "policy_violation"
    fields = ("rules",)

    def __init__(self, message: str, *, rules: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.rules = rules


class StoreUnavailable(LoopmlError, ConnectionError):
    """The metadata store (database) cannot be reached or opened."""

    code = "store_unavailable"


class MissingDependency(LoopmlError, ImportError):
    """An optional extra needed by a feature is not installed."""

    code = "not_available"


def _to_json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _from_json(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def error_types() -> dict[str, type[LoopmlError]]:
    """Every loaded error class by its ``code`` (subclasses defined elsewhere included once imported).

    Example:
        >>> error_types()["not_found"] is NotFound
        True
    """
    found: dict[str, type[LoopmlError]] = {LoopmlError.code: LoopmlError}
    pending: list[type[LoopmlError]] = [LoopmlError]
    while pending:
        for sub in pending.pop().__subclasses__():
            if "code" in sub.__dict__:  # a class without its own code travels as its base
                found.setdefault(sub.code, sub)
            pending.append(sub)
    return found


def error_type(code: str) -> type[LoopmlError] | None:
    """The error class named ``code`` on the wire, or None if no loaded class has that code."""
    return error_types().get(code)


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
