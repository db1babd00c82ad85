"""Turning ``log_dict`` / ``log_text`` payloads into bytes, by the artifact name's suffix."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import yaml

from loopml.errors import InvalidInput

__all__ = ["dict_bytes", "text_bytes"]


def dict_bytes(obj: Any, name: str) -> bytes:
    """``obj`` as YAML for ``.yaml``/``.yml`` names, JSON otherwise.

    Raises:
        InvalidInput: when ``obj`` cannot be represented in that format.
    """
    suffix = PurePosixPath(name).suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True).encode("utf-8")
        return (json.dumps(obj, indent=2, allow_nan=True) + "\n").encode("utf-8")
    except (TypeError, ValueError, yaml.YAMLError) as err:
        kind = "YAML" if suffix in (".yaml", ".yml") else "JSON"
        raise InvalidInput(
            f"Cannot write {name!r} as {kind}: {err}. Pass plain dicts, lists, strings and numbers."
        ) from err


def text_bytes(text: str, name: str) -> bytes:
    """``text`` encoded as UTF-8."""
    if not isinstance(text, str):
        raise InvalidInput(f"log_text needs a str for {name!r}. Got {type(text).__name__}.")
    return text.encode("utf-8")
