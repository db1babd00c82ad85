"""The bundled static files (stylesheet, page script, uPlot): served from the wheel, no CDN."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter
from fastapi.responses import Response

from loopml.errors import NotFound
from loopml.server.ui._session import UI_PREFIX
from loopml.ui import STATIC_DIR, static_files

__all__ = ["STATIC_PREFIX", "router", "static_paths"]

STATIC_PREFIX = f"{UI_PREFIX}/static"
router = APIRouter(prefix=STATIC_PREFIX, include_in_schema=False)
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def static_paths() -> frozenset[str]:
    """The URL path of every bundled file (open: the login page needs them before any session)."""
    return frozenset(f"{STATIC_PREFIX}/{name}" for name in static_files())


@router.get("/{name}")
def static_file(name: str) -> Response:
    if name not in static_files():
        raise NotFound(f"No static file {name!r} in the UI bundle.")
    path = STATIC_DIR / name
    media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(name)[0] or "text/plain; charset=utf-8"
    return Response(
        path.read_bytes(), media_type=media_type, headers={"cache-control": "public, max-age=3600"}
    )
