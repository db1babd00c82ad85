"""Body limits: 413 by Content-Length or while streaming, for a whole app, a handler, or a look-ahead."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from loopml.errors import InvalidInput
from loopml.web.body_limits import BodyLimitMiddleware, UploadLimit, buffer_body, declared_length, read_body
from loopml.web.errors import PayloadTooLarge, http_status
from tests.web.conftest import call, chunks

LIMIT = 1024


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"problem": code, "text": message}


async def echo_size(request: Request) -> Response:
    return JSONResponse({"size": len(await request.body())})


GUARDED = Starlette(
    routes=[Route("/json", echo_size, methods=["POST"]), Route("/upload/{name}", echo_size, methods=["PUT"])],
    middleware=[
        Middleware(
            BodyLimitMiddleware,
            max_body_bytes=LIMIT,
            error_body=envelope,
            uploads=UploadLimit(paths=re.compile(r"^/upload/"), max_bytes=4 * LIMIT, what="file upload"),
        )
    ],
)


def test_a_body_within_the_limit_reaches_the_app() -> None:
    response = call(GUARDED, "POST", "/json", content=b"x" * LIMIT)
    assert response.status_code == 200 and response.json() == {"size": LIMIT}


def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    response = call(GUARDED, "POST", "/json", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {
        "problem": "payload_too_large",
        "text": f"The request body is larger than the server's limit of {LIMIT} bytes.",
    }
    assert response.headers["x-content-type-options"] == "nosniff"  # refusals carry the security headers


def test_a_streamed_body_is_cut_at_the_limit_and_the_app_renders_the_refusal() -> None:
    """The refusal is raised from ``receive`` as an HTTPException: the app's own handler renders it."""
    response = call(GUARDED, "POST", "/json", content=chunks(b"x" * 700, b"x" * 700))
    assert response.status_code == 413
    assert response.text == f"The request body is larger than the server's limit of {LIMIT} bytes."


async def bare_reader(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app with no exception handling: reads the whole body, then answers."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"read"})


def test_a_streamed_body_the_app_lets_through_gets_the_middlewares_413() -> None:
    app = BodyLimitMiddleware(bare_reader, max_body_bytes=LIMIT, error_body=envelope)
    assert call(app, "POST", "/any", content=chunks(b"x" * 1000)).text == "read"
    response = call(app, "POST", "/any", content=chunks(b"x" * 700, b"x" * 700))
    assert response.status_code == 413 and response.json()["problem"] == "payload_too_large"
    assert response.headers["cache-control"] == "no-store"


def test_upload_paths_have_their_own_limit_and_name() -> None:
    assert call(GUARDED, "PUT", "/upload/a", content=b"x" * (3 * LIMIT)).json() == {"size": 3 * LIMIT}
    refused = call(GUARDED, "PUT", "/upload/a", content=b"x" * (5 * LIMIT))
    assert refused.status_code == 413 and refused.json()["text"].startswith("The file upload is larger")
    assert call(GUARDED, "POST", "/json", content=b"x" * (3 * LIMIT)).status_code == 413


def test_a_malformed_content_length_is_a_400() -> None:
    """httpx never sends one, so the ASGI messages are driven by hand (uvicorn refuses it first)."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/json", "headers": [(b"content-length", b"12x")]}
    asyncio.run(GUARDED(scope, receive, send))
    assert sent[0]["status"] == 400
    assert b"Content-Length must be a number of bytes; got '12x'" in sent[1]["body"]


def test_declared_length() -> None:
    assert declared_length("0") == 0 and declared_length(None) is None
    for bad in ("-1", "1e3", " ", "١٢"):
        with pytest.raises(InvalidInput, match="Content-Length must be a number of bytes"):
            declared_length(bad)


async def read(request: Request) -> Response:
    try:
        body = await read_body(request, limit=LIMIT, advice="send fewer rows")
    except PayloadTooLarge as err:
        return JSONResponse({"error": str(err), "limit": err.limit}, status_code=http_status(err))
    return JSONResponse({"size": len(body)})


READER = Starlette(routes=[Route("/read", read, methods=["POST"])])


def test_read_body_refuses_by_declared_length_and_while_streaming() -> None:
    assert call(READER, "POST", "/read", content=b"x" * LIMIT).json() == {"size": LIMIT}
    declared = call(READER, "POST", "/read", content=b"x" * 2000)
    assert declared.status_code == 413
    assert declared.json() == {
        "error": f"The request body is 2000 bytes; this server accepts at most {LIMIT} (send fewer rows).",
        "limit": LIMIT,
    }
    streamed = call(READER, "POST", "/read", content=chunks(b"x" * 1000, b"x" * 1000))
    assert streamed.status_code == 413
    assert streamed.json()["error"] == f"The request body exceeds {LIMIT} bytes; send fewer rows."


def test_buffer_body_replays_what_it_read_and_stops_at_the_limit() -> None:
    def messages(*bodies: bytes) -> Any:
        queue = [
            {"type": "http.request", "body": b, "more_body": i < len(bodies) - 1}
            for i, b in enumerate(bodies)
        ]

        async def receive() -> Message:
            return queue.pop(0) if queue else {"type": "http.disconnect"}

        return receive, queue

    async def run() -> None:
        receive, queue = messages(b"ab", b"cd")
        raw, replay, too_big = await buffer_body(receive, 4)
        assert (raw, too_big) == (b"abcd", False)
        assert await replay() == {"type": "http.request", "body": b"abcd", "more_body": False}
        assert (await replay())["type"] == "http.disconnect"  # then the real receive again

        receive, queue = messages(b"abc", b"de", b"f")
        raw, _, too_big = await buffer_body(receive, 4)
        assert (raw, too_big) == (b"", True)
        assert len(queue) == 1  # nothing read past the chunk that crossed the limit

    asyncio.run(run())
