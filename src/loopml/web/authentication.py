"""The ``Authorization`` header: reading its scheme and credentials, and the challenge a 401 carries.

Both servers take the platform's tokens as ``Authorization: Bearer TOKEN``; what a token may do is
:mod:`loopml.security.auth`'s to decide. A 401 says how to authenticate in ``WWW-Authenticate``
(RFC 9110, section 11.6.1; RFC 6750, section 3), naming ``invalid_token`` when credentials were sent.

Example:
    >>> split_authorization("Bearer  abc "), split_authorization("basic dTpw"), split_authorization(None)
    (('bearer', 'abc'), ('basic', 'dTpw'), ('', ''))
    >>> bearer_challenge(None), bearer_challenge("Bearer wrong")
    ('Bearer realm="loopml"', 'Bearer realm="loopml", error="invalid_token"')
"""

from __future__ import annotations

__all__ = ["REALM", "bearer_challenge", "split_authorization"]

#: The realm of every challenge: one set of tokens for both servers.
REALM = "loopml"


def split_authorization(header: str | None) -> tuple[str, str]:
    """The scheme (lower-cased) and credentials of an ``Authorization`` header (``("", "")`` when absent)."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    return scheme.lower(), credentials.strip()


def bearer_challenge(authorization: str | None) -> str:
    """The ``WWW-Authenticate`` value of a 401 answering a request that sent ``authorization``."""
    if not authorization:
        return f'Bearer realm="{REALM}"'
    return f'Bearer realm="{REALM}", error="invalid_token"'
