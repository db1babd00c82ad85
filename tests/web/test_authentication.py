"""Reading the Authorization header and the challenge of a 401."""

from __future__ import annotations

import pytest

from loopml.web.authentication import bearer_challenge, split_authorization


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer lml_abc", ("bearer", "lml_abc")),
        ("bearer   lml_abc  ", ("bearer", "lml_abc")),  # scheme is case-insensitive (RFC 9110)
        ("  Bearer lml_abc", ("bearer", "lml_abc")),
        ("Basic dTpw", ("basic", "dTpw")),
        ("Bearer", ("bearer", "")),  # no credentials
        ("lml_abc", ("lml_abc", "")),  # a bare token is no scheme the servers take
        ("", ("", "")),
        (None, ("", "")),
    ],
)
def test_split_authorization(header: str | None, expected: tuple[str, str]) -> None:
    assert split_authorization(header) == expected


def test_the_challenge_says_invalid_token_only_when_credentials_were_sent() -> None:
    assert bearer_challenge(None) == 'Bearer realm="loopml"'
    assert bearer_challenge("") == 'Bearer realm="loopml"'
    assert bearer_challenge("Bearer nope") == 'Bearer realm="loopml", error="invalid_token"'
