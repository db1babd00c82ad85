"""Route templates of an app, known before routing: matched in the app's order, mounts included."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from loopml.web.routes import RouteIndex, route_templates


async def endpoint(request: Request) -> Response:
    return Response()


ROUTES = [
    Route("/items/special", endpoint, methods=["POST"]),
    Route("/items/{item_id}", endpoint, methods=["GET", "DELETE"]),
    Route("/items", endpoint, methods=["GET"]),
    Route("/items", endpoint, methods=["POST"]),
    Mount("/static", routes=[Route("/{name}", endpoint, methods=["GET"])]),
]


def test_the_first_matching_template_wins_with_its_parameters() -> None:
    index = RouteIndex(ROUTES)
    assert index.match("POST", "/items/special") == ("/items/special", {})
    assert index.match("GET", "/items/special") == ("/items/{item_id}", {"item_id": "special"})
    assert index.match("HEAD", "/items/7") == ("/items/{item_id}", {"item_id": "7"})  # HEAD is GET
    assert index.match("POST", "/items") == ("/items", {})
    assert index.match("PUT", "/items") is None
    assert index.match("GET", "/nowhere") is None


def test_mounts_give_their_routes_then_a_catch_all() -> None:
    templates = [(t.path, t.mounted) for t in route_templates(ROUTES)][-2:]
    assert templates == [("/static/{name}", True), ("/static/{path:path}", True)]
    assert RouteIndex(ROUTES).match("PATCH", "/static/a/b") == ("/static/{path:path}", {"path": "a/b"})


def test_allowed_methods_of_a_path() -> None:
    index = RouteIndex(ROUTES)
    assert index.allowed("/items") == {"GET", "HEAD", "POST", "OPTIONS"}  # two routes, one path
    assert index.allowed("/items/7") == {"GET", "HEAD", "DELETE", "OPTIONS"}
    assert index.allowed("/items/special") == {"POST", "OPTIONS"}  # literal beats the parameter
    assert index.allowed("/static/a") == frozenset()  # a mount says what it serves itself
    assert index.allowed("/nowhere") == frozenset()


def test_fastapi_included_routers_are_walked_with_their_prefix() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/api")

    @router.get("/runs/{run_id}")
    def get_run(run_id: str) -> dict[str, str]:
        return {"run_id": run_id}

    app.include_router(router)
    assert RouteIndex(app.routes).match("GET", "/api/runs/r1") == ("/api/runs/{run_id}", {"run_id": "r1"})


def test_only_templates_a_path_starts_with_the_literal_text_of_are_tried() -> None:
    index = RouteIndex(ROUTES)
    assert [t.path for t in index.candidates("/items/7")] == ["/items/{item_id}", "/items", "/items"]
    assert [t.path for t in index.candidates("/items/special")] == [
        "/items/special",
        "/items/{item_id}",
        "/items",
        "/items",
    ]
    assert [t.path for t in index.candidates("/static/a")] == ["/static/{name}", "/static/{path:path}"]
    assert index.candidates("/nowhere") == [] and index.candidates("") == []
