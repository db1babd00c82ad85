"""Small HTTP helpers of the serving adapters: JSON in and out, content types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response

from loopml.errors import InvalidInput
from loopml.inference.model import ServedModel
from loopml.serving.errors import UnsupportedMediaType

__all__ = [
    "BODY_ADVICE",
    "Guard",
    "Handler",
    "json_response",
    "mark_model",
    "media_type",
    "parse_json",
    "require_json",
]

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


#: What a client sending a body over the limit is told to do (:func:`loopml.web.body_limits.read_body`).
BODY_ADVICE = "send fewer rows per request, or raise max_body_bytes"


def parse_json(body: bytes, *, what: str = "The request body") -> Any:
    """Parse JSON (orjson: NaN/Infinity literals, invalid UTF-8 and >1024-deep nesting are refused).

    Raises:
        InvalidInput: malformed JSON, with the parser's reason.
    """
    if not body:
        raise InvalidInput(f"{what} is empty; send a JSON object.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidInput(f"{what} is not valid JSON: {err}.") from err


def media_type(request: Request) -> str:
    """The request's media type, lower-cased, without parameters ("" when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_json(request: Request) -> None:
    """Refuse a body declared as anything but JSON (an absent Content-Type is read as JSON).

    Raises:
        UnsupportedMediaType: naming the type sent.
    """
    kind = media_type(request)
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type {kind!r} is not accepted here; send the body as JSON with "
            "'Content-Type: application/json'."
        )


def mark_model(request: Request, model: ServedModel) -> ServedModel:
    """Record which model version answers ``request`` (for the request metrics); returns ``model``."""
    request.scope["loopml.model"] = model.name
    request.scope["loopml.version"] = model.version
    return model


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(content: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised with orjson (NumPy arrays included)."""
    return Response(
        orjson.dumps(content, option=_JSON_OPTIONS, default=_default),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


#: An endpoint: a request in, a response out.
Handler = Callable[[Request], Awaitable[Response]]
#: Wraps an endpoint with the app's guards: (handler, protocol, is_inference) -> endpoint.
Guard = Callable[[Handler, str, bool], Handler]
