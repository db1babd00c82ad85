"""OPTIONS and 405 answer with every method of the path (RFC 9110, section 10.2.1)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loopml.web.allow import AllowMiddleware
from tests.web.conftest import call


async def endpoint(request: Request) -> Response:
    return Response("ok")


APP = Starlette(
    routes=[Route("/items", endpoint, methods=["GET"]), Route("/items", endpoint, methods=["POST"])],
    middleware=[Middleware(AllowMiddleware)],
)


def allow_of(header: str) -> set[str]:
    return {m.strip() for m in header.split(",")}


def test_options_is_a_204_naming_every_method() -> None:
    response = call(APP, "OPTIONS", "/items")
    assert response.status_code == 204 and response.content == b""
    assert allow_of(response.headers["allow"]) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_a_405_names_every_method_not_only_the_first_routes() -> None:
    response = call(APP, "DELETE", "/items")
    assert response.status_code == 405
    assert allow_of(response.headers["allow"]) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_other_requests_pass_through() -> None:
    assert call(APP, "POST", "/items").text == "ok"
    assert call(APP, "OPTIONS", "/nowhere").status_code == 404
