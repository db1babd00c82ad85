"""The served OpenAPI document, with integer bounds written as integers.

FastAPI's OpenAPI models type ``minimum``/``maximum`` as floats, so the bound ``2**63 - 1024`` of
an int64 field came out as ``9.223372036854775e+18``. A client reading it as a decimal number
then takes integers just above the real bound as valid; written as integers they are exact.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

__all__ = ["install_openapi"]

_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def _whole_bounds(node: Any) -> None:
    """Turn whole-number float bounds of integer schemas into ints, in place, everywhere in ``node``."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in _BOUNDS:
                value = node.get(key)
                if isinstance(value, float) and value.is_integer():
                    node[key] = int(value)
        for value in node.values():
            _whole_bounds(value)
    elif isinstance(node, list):
        for item in node:
            _whole_bounds(item)


def install_openapi(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document with exact integer bounds (built once, on first request)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            _whole_bounds(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
