"""Plain component parameters: which annotations are allowed, value checks and text coercion.

Parameters must be JSON-ready so they can be stored on the execution and hashed into the cache
key: ``int``, ``float``, ``str``, ``bool``, ``list[...]``, ``dict[str, ...]``, ``X | None``,
``Literal[...]`` and ``Any``.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from loopml.errors import InvalidInput

__all__ = ["check_annotation", "coerce_text", "describe", "matches"]

_SCALARS: tuple[type, ...] = (int, float, str, bool)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def describe(annotation: Any) -> str:
    """A short readable name of an annotation (``int``, ``list[str]``, ``float | None``)."""
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def check_annotation(annotation: Any) -> bool:
    """True when ``annotation`` is an allowed parameter type."""
    if annotation is Any or annotation is type(None) or annotation in _SCALARS:
        return True
    if annotation in (list, dict):
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if _is_union(annotation):
        return all(check_annotation(a) for a in args)
    if origin is typing.Literal:
        return all(isinstance(a, _SCALARS) for a in args)
    if origin is list:
        return all(check_annotation(a) for a in args)
    if origin is dict:
        return len(args) == 2 and args[0] is str and check_annotation(args[1])
    return False


def matches(value: Any, annotation: Any) -> bool:
    """True when ``value`` fits ``annotation`` (ints are accepted for floats, bools are not ints)."""
    if annotation is Any:
        return True
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if _is_union(annotation):
        return any(matches(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if annotation is list or origin is list:
        return isinstance(value, list) and (not args or all(matches(v, args[0]) for v in value))
    if annotation is dict or origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            return False
        return not args or all(matches(v, args[1]) for v in value.values())
    return False


def _coerce_scalar(text: str, annotation: Any) -> Any:
    if annotation is str or annotation is Any:
        return text
    if annotation is bool:
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("expected true/false")
    if annotation is int:
        return int(text)
    if annotation is float:
        return float(text)
    if annotation is type(None):
        if text.strip().lower() in ("none", "null", ""):
            return None
        raise ValueError("expected none")
    value = json.loads(text)
    if not matches(value, annotation):
        raise ValueError(f"{value!r} is not a {describe(annotation)}")
    return value


def coerce_text(text: str, annotation: Any, *, what: str) -> Any:
    """Turn a command-line string into a value of ``annotation`` (JSON for lists and dicts).

    Raises:
        InvalidInput: naming ``what``, the text and the expected type.

    Example:
        >>> coerce_text("3", int, what="epochs"), coerce_text("[1, 2]", list[int], what="sizes")
        (3, [1, 2])
    """
    candidates = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    # Try None first for optionals, then the declared order.
    ordered = sorted(candidates, key=lambda a: a is not type(None))
    for candidate in ordered:
        try:
            return _coerce_scalar(text, candidate)
        except ValueError:
            continue
    raise InvalidInput(
        f"Parameter {what!r}: cannot read {text!r} as {describe(annotation)}; "
        f"pass e.g. --param {what}=<{describe(annotation)}> (lists and dicts as JSON)."
    )
