"""API token format and hashing.

A token reads ``lml_<id>_<secret>``: ``id`` is 32 hexadecimal characters and names the stored
record; ``secret`` is 32 random bytes, URL-safe base64. Only
``HMAC-SHA256(key, "<id>:<secret>")`` is stored, where ``key`` is a fixed label plus the server's
optional pepper (``LOOPML_TOKEN_PEPPER``). A fast keyed hash is enough here because the secret
carries 256 bits of entropy: there is nothing to guess. Comparison is constant-time.

Example:
    >>> issued = issue_token()
    >>> parse_token(issued.plaintext) == (issued.token_id, issued.secret)
    True
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from loopml.errors import Unauthorized

__all__ = ["TOKEN_PREFIX", "IssuedToken", "hash_secret", "issue_token", "parse_token", "secret_matches"]

TOKEN_PREFIX = "lml"
_HMAC_LABEL = b"loopml-api-token-v1\x00"
_ID = re.compile(r"^[0-9a-f]{32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedToken:
    """A freshly made token: its id, its secret and the text the user sends (shown once)."""

    token_id: str
    secret: str = field(repr=False)

    @property
    def plaintext(self) -> str:
        """``lml_<id>_<secret>``, the value of ``Authorization: Bearer ...``."""
        return f"{TOKEN_PREFIX}_{self.token_id}_{self.secret}"


def issue_token() -> IssuedToken:
    """A new random token."""
    return IssuedToken(token_id=secrets.token_hex(16), secret=secrets.token_urlsafe(32))


def parse_token(text: str) -> tuple[str, str]:
    """Split ``lml_<id>_<secret>`` into id and secret.

    Raises:
        Unauthorized: if the text does not have that form (the text is never echoed back).
    """
    prefix, _, rest = text.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not _ID.match(token_id) or not _SECRET.match(secret):
        raise Unauthorized(
            f"The token is malformed: expected '{TOKEN_PREFIX}_<id>_<secret>' as printed by "
            "`loopml tokens create` (check that it was copied whole)."
        )
    return token_id, secret


def hash_secret(token_id: str, secret: str, *, pepper: bytes | None = None) -> str:
    """The stored form of a token: hex HMAC-SHA256 keyed by the label and the pepper."""
    key = _HMAC_LABEL + (pepper or b"")
    return hmac.new(key, f"{token_id}:{secret}".encode(), hashlib.sha256).hexdigest()


def secret_matches(token_id: str, secret: str, stored_hash: str, *, pepper: bytes | None = None) -> bool:
    """Whether ``secret`` is the token's secret (constant-time comparison)."""
    return hmac.compare_digest(hash_secret(token_id, secret, pepper=pepper), stored_hash)
