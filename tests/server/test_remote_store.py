"""RemoteStore transport: error JSON mapped to loopml errors, retries with backoff, bearer token."""

from __future__ import annotations

import httpx
import pytest

from loopml.errors import Conflict, Forbidden, InvalidInput, NotFound, StoreUnavailable, Unauthorized
from loopml.store.remote import RemoteStore


def _store(handler: object, **kwargs: object) -> RemoteStore:
    return RemoteStore("http://loopml.test", transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (404, "not_found", NotFound),
        (409, "conflict", Conflict),
        (400, "invalid_input", InvalidInput),
        (422, "invalid_request", InvalidInput),
        (401, "unauthorized", Unauthorized),
        (403, "forbidden", Forbidden),
        (429, "rate_limited", InvalidInput),
    ],
)
def test_error_json_maps_to_error_types(status: int, code: str, kind: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": code, "message": f"msg {code}"}})

    with _store(handler) as store, pytest.raises(kind, match=f"msg {code}"):
        store.experiments.get("x" * 32)


def test_retries_503_then_succeeds_and_sends_the_token() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        if len(seen) < 3:
            return httpx.Response(503, json={"error": {"code": "store_unavailable", "message": "down"}})
        return httpx.Response(200, json={"experiments": []})

    with _store(handler, token="s3cret") as store:
        assert store.experiments.list() == []
    assert seen == ["Bearer s3cret"] * 3


def test_gives_up_after_retries_on_connection_errors() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    with _store(handler, retries=2) as store, pytest.raises(StoreUnavailable, match="Cannot reach"):
        store.runs.get("r" * 32)
    assert calls == 3


def test_values_json_cannot_carry_are_refused_before_sending() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing must be sent")

    with _store(handler) as store, pytest.raises(InvalidInput, match="JSON"):
        store.runs.set_reproducibility("r" * 32, {"x": object()})
