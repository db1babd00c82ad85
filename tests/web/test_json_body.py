"""Strict JSON bodies: UTF-8, no NaN/Infinity, finite numbers, bounded nesting; each a clear 400."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from loopml.web.errors import RequestRejected
from loopml.web.json_body import SafeRoute, parse_json_body
from tests.web.conftest import call


def test_plain_json_is_parsed() -> None:
    assert parse_json_body(b'{"a": [1, 2.5, "x", null]}') == {"a": [1, 2.5, "x", None]}


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b'{"a": NaN}', "malformed_json", "the literal NaN is not JSON"),
        (b'{"a": -Infinity}', "malformed_json", "the literal -Infinity is not JSON"),
        (b'{"a": 1e400}', "malformed_json", "too large for a 64-bit float"),
        (b'{"a": ', "malformed_json", "not valid JSON"),
        (b'{"a": "\xff"}', "bad_encoding", "not valid UTF-8 (byte 7)"),
        (b"[" * 40 + b"]" * 40, "too_deep", "deeper than 32 levels"),
        (b"[" * 10_000 + b"]" * 10_000, "too_deep", "deeper than 32 levels"),
    ],
)
def test_bad_bodies_are_refused_with_a_400_naming_the_problem(body: bytes, code: str, words: str) -> None:
    with pytest.raises(RequestRejected) as refused:
        parse_json_body(body)
    assert (refused.value.status_code, refused.value.code) == (400, code)
    assert words in str(refused.value.detail)


def test_the_depth_limit_is_a_parameter() -> None:
    assert parse_json_body(b"[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(RequestRejected, match="deeper than 3 levels"):
        parse_json_body(b"[[[[1]]]]", max_depth=3)


def test_safe_routes_parse_bodies_strictly_with_the_apps_depth() -> None:
    app = FastAPI()
    app.router.route_class = SafeRoute
    app.state.max_json_depth = 2

    @app.post("/echo")
    def echo(body: dict[str, object]) -> dict[str, object]:
        return body

    json = {"content-type": "application/json"}
    assert call(app, "POST", "/echo", headers=json, content=b'{"a": [1]}').json() == {"a": [1]}
    refused = call(app, "POST", "/echo", headers=json, content=b'{"a": [[1]]}')
    assert refused.status_code == 400 and "deeper than 2 levels" in refused.text
    assert call(app, "POST", "/echo", headers=json, content=b'{"a": NaN}').status_code == 400
