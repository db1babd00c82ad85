"""Shared wire types: the strict base model, bounded numbers and strings, NaN-safe floats."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "ERROR_RESPONSES",
    "ErrorOut",
    "Id",
    "Int64",
    "Key",
    "Millis",
    "Name",
    "Text",
    "Wire",
    "WireFloat",
    "from_wire_float",
    "to_wire_float",
]

INT64_MAX = 2**63 - 1


class Wire(BaseModel):
    """Base of every request and response body: unknown fields and type coercion are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Key = Annotated[str, StringConstraints(max_length=1_000)]
Name = Annotated[str, StringConstraints(max_length=1_000)]
Text = Annotated[str, StringConstraints(max_length=100_000)]
Int64 = Annotated[int, Field(ge=-INT64_MAX, le=INT64_MAX)]
Millis = Annotated[int, Field(ge=0, le=INT64_MAX)]
#: JSON has no NaN or infinities; they travel as the strings "NaN", "Infinity", "-Infinity".
WireFloat = float | Literal["NaN", "Infinity", "-Infinity"]


class ErrorDetail(Wire):
    """An error: its code (the ``code`` of its class), message, structured fields and request id."""

    code: str
    message: str
    details: dict[str, Any] | None = Field(
        default=None, description="The error's structured fields, e.g. `rules` of a policy_violation."
    )
    request_id: str | None = Field(
        default=None, description="The request's X-Request-ID; the server's log has the full detail under it."
    )


class ErrorOut(Wire):
    """The body of every error response."""

    error: ErrorDetail


#: Documented error responses of every API operation.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "Malformed request or invalid input",
        401: "Missing or bad credentials",
        403: "Permission missing",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict with stored state",
        413: "Body too large",
        422: "Request does not match the schema, or integrity check failed",
        429: "Rate limited",
        503: "Store unavailable",
    }.items()
}

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def to_wire_float(value: float) -> float | Literal["NaN", "Infinity", "-Infinity"]:
    """``value`` as JSON allows it: finite floats as numbers, the rest as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def from_wire_float(value: float | str) -> float:
    """The float a :data:`WireFloat` stands for."""
    return _SPECIAL[value] if isinstance(value, str) else float(value)
