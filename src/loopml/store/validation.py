"""Input checks of the store: keys, value lengths, metric values and steps.

Every check raises :class:`~loopml.errors.InvalidInput` stating the limit and the offending key.
"""

from __future__ import annotations

import json
import numbers
import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from loopml.errors import InvalidInput

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "check_artifact_name",
    "check_json",
    "check_key",
    "check_metric_value",
    "check_name",
    "check_param_value",
    "check_record_key",
    "check_step",
    "check_tag_value",
    "check_timestamp",
    "shorten",
]

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6_000
MAX_TAG_VALUE_LENGTH = 8_000
_INT64_MAX = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters (with ``...``), for error messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_key(key: object, *, kind: str) -> str:
    """Check a param/metric/tag key or an experiment name.

    Args:
        key: The candidate.
        kind: What it is, in words (``"metric key"``), for the message.

    Returns:
        The key.

    Raises:
        InvalidInput: if it is not 1..250 characters, has control characters or path separators,
            leading or trailing whitespace, or is ``.`` / ``..``.
    """
    if not isinstance(key, str):
        raise InvalidInput(f"The {kind} must be a string; got {type(key).__name__} {key!r:.60}.")
    shown = repr(shorten(key))
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidInput(
            f"The {kind} {shown} has {len(key)} characters; it must have 1 to {MAX_KEY_LENGTH}."
        )
    problem = None
    if _CONTROL.search(key):
        problem = "contains a control character"
    elif "/" in key or "\\" in key:
        problem = "contains a path separator ('/' or '\\')"
    elif key != key.strip():
        problem = "has leading or trailing whitespace"
    elif key in (".", ".."):
        problem = "is '.' or '..'"
    if problem:
        raise InvalidInput(
            f"The {kind} {shown} {problem}. Use letters, digits, spaces inside, and . _ - : etc."
        )
    return key


def check_record_key(key: object, *, kind: str) -> str:
    """Check a metric, param or run tag key: as :func:`check_key`, but ``/`` may namespace it.

    ``train/loss`` is accepted (MLflow users log such keys); a leading or trailing ``/``, an
    empty segment and a ``.`` or ``..`` segment are not.

    .. versionchanged:: ``/`` inside metric, param and run tag keys is accepted.

    Raises:
        InvalidInput: as :func:`check_key`, or for a badly placed ``/``.

    Example:
        >>> check_record_key("train/loss", kind="metric key")
        'train/loss'
    """
    if not isinstance(key, str) or "/" not in key:
        return check_key(key, kind=kind)
    segments = key.split("/")
    if any(s in ("", ".", "..") or s != s.strip() for s in segments):
        raise InvalidInput(
            f"The {kind} {shorten(key)!r} has an empty, '.' or '..' part between '/' (or one with "
            "surrounding whitespace); write keys like 'train/loss'."
        )
    for segment in segments:
        check_key(segment, kind=kind)
    if len(key) > MAX_KEY_LENGTH:
        check_key(key.replace("/", "_"), kind=kind)  # the length message
    return key


def check_name(name: object, *, kind: str) -> str:
    """Check a free-form name (run, artifact, context, role): 1..250 chars, no control characters."""
    if not isinstance(name, str):
        raise InvalidInput(f"The {kind} must be a string; got {type(name).__name__} {name!r:.60}.")
    if not 1 <= len(name) <= MAX_KEY_LENGTH or _CONTROL.search(name):
        raise InvalidInput(
            f"The {kind} {shorten(name)!r} must have 1 to {MAX_KEY_LENGTH} characters and no "
            f"control characters (it has {len(name)})."
        )
    return name


def check_artifact_name(name: object) -> str:
    """Check an artifact name: :func:`check_name`, then no traversal however it is spelled.

    The name is checked in its NFKC form (full-width dots and slash, U+FF0E U+FF0E U+FF0F,
    read ``../``) and, when it holds percent escapes, decoded too (``%2e%2e`` reads ``..``;
    escapes that are not valid UTF-8, such as the overlong ``%c0%ae``, are refused). A ``..``
    segment (also as ``..;`` with path parameters), control characters and text that is not
    valid UTF-8 are refused. The name is kept as given.

    Raises:
        InvalidInput: naming the name and the rule it breaks.

    Example:
        >>> check_artifact_name("model/weights.bin")
        'model/weights.bin'
        >>> check_artifact_name("%2e%2e/etc")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        loopml.errors.InvalidInput: The artifact name '%2e%2e/etc' is refused: it contains a '..' segment ...
    """
    name = check_name(name, kind="artifact name")
    problem = _artifact_name_problem(name)
    if problem:
        raise InvalidInput(
            f"The artifact name {shorten(name)!r} is refused: {problem}. Use a plain name such as "
            "'model' or 'plots/roc.svg'."
        )
    return name


def _artifact_name_problem(name: str) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid UTF-8 (it holds a lone surrogate)"
    forms = [unicodedata.normalize("NFKC", name)]
    if "%" in forms[0]:
        try:
            forms.append(unquote_to_bytes(forms[0]).decode("utf-8"))
        except UnicodeDecodeError:
            return "its percent escapes are not valid UTF-8 (overlong encodings such as %c0%ae)"
    for form in forms:
        if _CONTROL.search(form) or any(unicodedata.category(c) == "Cc" for c in form):
            return "it contains a control character once normalised (NFKC) or percent-decoded"
        segments = re.split(r"[/\\]", form)
        if any(segment.split(";", 1)[0].strip() == ".." for segment in segments):
            return "it contains a '..' segment (path traversal) once normalised (NFKC) or percent-decoded"
    return None


def _check_text(value: object, *, key: str, kind: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(
            f"The value of {kind} {shorten(key)!r} must be a string; got {type(value).__name__} "
            f"{value!r:.60}. Convert it with str() first."
        )
    if len(value) > limit:
        raise InvalidInput(
            f"The value of {kind} {shorten(key)!r} has {len(value)} characters; the limit is {limit}."
        )
    return value


def check_param_value(key: str, value: object) -> str:
    """Check a param value: a string of at most 6,000 characters."""
    return _check_text(value, key=key, kind="param", limit=MAX_PARAM_VALUE_LENGTH)


def check_tag_value(key: str, value: object) -> str:
    """Check a tag value: a string of at most 8,000 characters."""
    return _check_text(value, key=key, kind="tag", limit=MAX_TAG_VALUE_LENGTH)


def check_metric_value(key: str, value: object) -> float:
    """Check a metric value: a real number (NaN and ±inf allowed), not a bool or a string."""
    if type(value) is float:  # fast path for the common case
        return value
    is_bool = isinstance(value, bool) or type(value).__name__ in ("bool_", "bool")
    if is_bool or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"The value of metric {shorten(key)!r} must be a real number (int or float, NaN and "
            f"inf allowed); got {type(value).__name__} {value!r:.60}."
        )
    return float(value)


def check_step(key: str, step: object) -> int:
    """Check a metric step: an integer within 64 bits."""
    if type(step) is int and -_INT64_MAX <= step <= _INT64_MAX:  # fast path
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(
            f"The step of metric {shorten(key)!r} must be an integer; got {type(step).__name__} {step!r:.60}."
        )
    if not -_INT64_MAX <= int(step) <= _INT64_MAX:
        raise InvalidInput(f"The step of metric {shorten(key)!r} is {step}; it must fit in 64 bits.")
    return int(step)


def check_timestamp(timestamp: object, *, what: str) -> int:
    """Check a timestamp: non-negative integer milliseconds since the epoch."""
    if type(timestamp) is int and 0 <= timestamp <= _INT64_MAX:  # fast path
        return timestamp
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, numbers.Integral)
        or not 0 <= int(timestamp) <= _INT64_MAX
    ):
        raise InvalidInput(
            f"The {what} must be a non-negative integer of milliseconds since the epoch; got "
            f"{timestamp!r:.60}."
        )
    return int(timestamp)


def check_json(value: Mapping[str, Any] | None, *, what: str) -> dict[str, Any]:
    """Check that a mapping is JSON-serialisable with finite numbers; returns a plain dict copy."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"The {what} must be a mapping; got {type(value).__name__}.")
    try:
        return dict(json.loads(json.dumps(dict(value), allow_nan=False)))
    except (TypeError, ValueError) as err:
        raise InvalidInput(
            f"The {what} must be JSON-serialisable with finite numbers: {err}. Convert values to "
            f"str, int, float, bool, lists or dicts."
        ) from err
