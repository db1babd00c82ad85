"""The shared error table, and the request-level errors both servers raise."""

from __future__ import annotations

from loopml.errors import InvalidInput, LoopmlError, NotFound, Unauthorized
from loopml.web.errors import PayloadTooLarge, RequestRejected, http_status


class _Throttled(InvalidInput):
    code = "test_throttled"


def test_statuses_follow_the_nearest_type_then_the_servers_own_table() -> None:
    assert http_status(NotFound("x")) == 404 and http_status(Unauthorized("x")) == 401
    assert http_status(PayloadTooLarge("too big", limit=10)) == 413
    assert http_status(_Throttled("x")) == 400  # a subclass inherits its base's status
    assert http_status(_Throttled("x"), {_Throttled: 429}) == 429
    assert http_status(LoopmlError("x")) == 500 and http_status(KeyError("x")) == 500


def test_payload_too_large_carries_its_limit_and_code() -> None:
    err = PayloadTooLarge("The request body exceeds 10 bytes.", limit=10)
    assert (err.code, err.limit, err.details()) == ("payload_too_large", 10, {"limit": 10})


def test_request_rejected_is_an_http_exception_with_a_code() -> None:
    err = RequestRejected(413, "payload_too_large", "Too big.", headers={"Retry-After": "1"})
    assert (err.status_code, err.code, err.detail, err.headers) == (
        413,
        "payload_too_large",
        "Too big.",
        {"Retry-After": "1"},
    )
