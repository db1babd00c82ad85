"""Rendering a UI page: the template, the caller, the CSRF value, and links that keep the query."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from loopml.security.auth import Permission
from loopml.server._security import principal_of
from loopml.server.ui._session import csrf_of
from loopml.ui import environment

__all__ = ["chart_data", "form_of", "page", "url_with"]


def url_with(path: str, query: Mapping[str, Any], **changes: Any) -> str:
    """``path`` with ``query`` updated by ``changes`` (a None value drops the key; lists repeat it)."""
    merged: dict[str, Any] = {k: v for k, v in query.items() if v not in (None, "", [])}
    for key, value in changes.items():
        if value in (None, "", []):
            merged.pop(key, None)
        else:
            merged[key] = value
    encoded = urlencode(merged, doseq=True)
    return f"{path}?{encoded}" if encoded else path


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the caller (``user``), the ``csrf`` value and ``context``."""
    principal = principal_of(request)
    html = (
        environment()
        .get_template(template)
        .render(
            user=principal,
            is_admin=principal.has(Permission.USERS_MANAGE),
            csrf=csrf_of(request),
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status)


def chart_data(payload: dict[str, Any]) -> Response:
    """A chart's data as compact JSON; NaN and infinities, which JSON cannot carry, become null
    (NumPy numbers are written as numbers).

    orjson writes a compare's 10,000 points in about a millisecond (the standard encoder that
    ``JSONResponse`` uses took tens, and refused NaN with an error).
    """
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


async def form_of(request: Request) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (the last value of each; at most 64 KiB).

    The UI's forms post only short fields; the body-limit middleware bounds what is read.
    """
    body = await request.body()
    if len(body) > 64 * 1024:
        return {}
    return {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=100).items()}
