"""Request ids: the caller's when well formed, else a fresh one; on every response."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loopml.web.request_ids import HEADER, RequestIdMiddleware, request_id_of
from tests.web.conftest import call


async def echo(request: Request) -> Response:
    return JSONResponse({"seen": request_id_of(request.scope)}, headers={HEADER: "set-by-the-app"})


APP = Starlette(routes=[Route("/echo", echo)], middleware=[Middleware(RequestIdMiddleware)])


def test_a_well_formed_id_is_kept_and_replaces_any_the_app_set() -> None:
    response = call(APP, "GET", "/echo", headers={HEADER: "build-42.a_b"})
    assert response.json() == {"seen": "build-42.a_b"}
    assert response.headers.get_list(HEADER) == ["build-42.a_b"]


def test_a_malformed_or_missing_id_is_replaced_by_a_fresh_one() -> None:
    ids = set()
    for headers in ({HEADER: "x" * 65}, {HEADER: "a b"}, {}):
        response = call(APP, "GET", "/echo", headers=headers)
        seen = response.json()["seen"]
        assert len(seen) == 32 and response.headers[HEADER] == seen
        ids.add(seen)
    assert len(ids) == 3
    assert call(APP, "GET", "/missing").headers[HEADER]  # the app's own 404 carries one too


def test_outside_the_middleware_there_is_no_id() -> None:
    assert request_id_of({"type": "http"}) is None
