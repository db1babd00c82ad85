"""Security headers on every response, keeping the ones the app set itself."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loopml.web.headers import SECURITY_HEADERS, SecurityHeadersMiddleware
from tests.web.conftest import call


async def plain(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def cached(request: Request) -> Response:
    return JSONResponse({"ok": True}, headers={"Cache-Control": "max-age=60"})


APP = Starlette(
    routes=[Route("/plain", plain), Route("/cached", cached)],
    middleware=[Middleware(SecurityHeadersMiddleware)],
)


def test_every_response_gets_the_security_headers() -> None:
    for path, status in (("/plain", 200), ("/missing", 404)):
        response = call(APP, "GET", path)
        assert response.status_code == status
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert response.headers["cache-control"] == "no-store"


def test_a_header_the_app_set_is_kept_not_doubled() -> None:
    response = call(APP, "GET", "/cached")
    assert response.headers.get_list("cache-control") == ["max-age=60"]
    assert response.headers["x-frame-options"] == "DENY"


def test_the_table_names_each_header_once_in_lower_case() -> None:
    names = [name for name, _ in SECURITY_HEADERS]
    assert len(names) == len(set(names)) == 5 and all(n == n.lower() for n in names)
