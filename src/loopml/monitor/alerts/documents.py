"""Strict reading of monitoring policy documents (YAML / JSON): mappings, lists, numbers, durations.

Unknown keys are refused with their full path (``rules[0].treshold``), so a typo never silently
changes nothing; durations read ``90s``, ``15m``, ``6h``, ``7d`` or a number of seconds.

Example:
    >>> read_duration("6h", field="cooldown")
    datetime.timedelta(seconds=21600)
    >>> read_mapping({"every": "1d", "evry": 1}, field="schedule", keys={"every"})
    Traceback (most recent call last):
    ...
    loopml.errors.InvalidInput: Unknown key `schedule.evry`; schedule accepts: every.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from loopml.errors import InvalidInput

__all__ = ["load_yaml", "read_duration", "read_list", "read_mapping", "read_number", "read_text"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def read_mapping(
    value: object, *, field: str, keys: set[str], required: tuple[str, ...] = ()
) -> Mapping[str, Any]:
    """``value`` as a mapping whose keys are all in ``keys`` and include ``required``.

    Raises:
        InvalidInput: not a mapping, an unknown key or a missing one, naming the field.
    """
    where = field or "the document"
    if not isinstance(value, Mapping):
        raise InvalidInput(f"`{where}` must be a mapping. Got {type(value).__name__}.")
    prefix = f"{field}." if field else ""
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        raise InvalidInput(f"Unknown key `{prefix}{unknown[0]}`; {where} accepts: {', '.join(sorted(keys))}.")
    for key in required:
        if key not in value:
            raise InvalidInput(f"`{prefix}{key}` is missing; it is required.")
    return value


def read_list(value: object, *, field: str) -> list[Any]:
    """``value`` as a list (a tuple is accepted)."""
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"`{field}` must be a list. Got {type(value).__name__}.")
    return list(value)


def read_number(value: object, *, field: str, minimum: float | None = None, integer: bool = False) -> float:
    """A finite number (an integer when ``integer``), at least ``minimum`` when given."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer and not float(value).is_integer():  # type: ignore[arg-type]
        ok = False
    if not ok:
        kind = "an integer" if integer else "a finite number"
        raise InvalidInput(f"`{field}` must be {kind}. Got {value!r:.40}.")
    number = float(value)  # type: ignore[arg-type]
    if minimum is not None and number < minimum:
        raise InvalidInput(f"`{field}` must be >= {minimum:g}. Got {number:g}.")
    return number


def read_text(value: object, *, field: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"`{field}` must be a non-empty string. Got {value!r:.40}.")
    return value


def read_duration(value: object, *, field: str) -> timedelta:
    """``90s``, ``15m``, ``6h``, ``7d``, ``2w`` or a number of seconds, as a timedelta (>= 0)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = read_number(value, field=field, minimum=0)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise InvalidInput(
            f"`{field}` must be a duration such as 90s, 15m, 6h, 7d or a number of seconds. "
            f"Got {value!r:.40}."
        )
    if seconds < 0:
        raise InvalidInput(f"`{field}` must not be negative. Got {value!r:.40}.")
    return timedelta(seconds=seconds)


def load_yaml(path: str | Path, *, what: str) -> object:
    """Parse a YAML file (safe loader).

    Raises:
        InvalidInput: the file is missing or is not valid YAML, naming the file and the line.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise InvalidInput(f"The {what} file {str(file)!r} does not exist.") from err
    except OSError as err:
        raise InvalidInput(f"The {what} file {str(file)!r} cannot be read: {err}.") from err
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidInput(f"The {what} file {str(file)!r} is not valid YAML: {err}") from err
