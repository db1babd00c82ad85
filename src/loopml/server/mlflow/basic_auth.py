"""HTTP Basic credentials for MLflow clients: user name plus a loopml token as the password.

MLflow clients send ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` as HTTP Basic. loopml
users have tokens, not passwords, so the password is a loopml token (``loopml tokens create``) and
the user name must be its owner's. A credential is verified once and its principal remembered for
:data:`CACHE_TTL_S` seconds (keyed by a SHA-256 of the header value), so no request pays a lookup
twice in a row; a revoked token stops working within that time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from loopml.errors import Unauthorized
from loopml.security.auth import AuthService, Principal

__all__ = ["CACHE_TTL_S", "BasicAuthenticator", "parse_basic"]

CACHE_TTL_S = 30.0
CACHE_SIZE = 10_000


def parse_basic(credentials: str) -> tuple[str, str]:
    """``(user, password)`` of a Basic credential (the base64 text after ``Basic``).

    Raises:
        Unauthorized: when it is not base64 of ``user:password``.
    """
    try:
        text = base64.b64decode(credentials.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as err:
        raise Unauthorized(
            "The Basic credentials are not base64 of 'user:token'; set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD (a token from `loopml tokens create --user NAME`)."
        ) from err
    user, colon, password = text.partition(":")
    if not colon or not password:
        raise Unauthorized(
            "The Basic credentials carry no password: set MLFLOW_TRACKING_PASSWORD to a loopml token "
            "(`loopml tokens create --user NAME`)."
        )
    return user, password


class BasicAuthenticator:
    """Authenticates Basic credentials through :class:`AuthService`, remembering recent ones.

    Args:
        auth: The token authenticator.
        ttl_s: How long a verified credential is trusted without asking the store again.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self, auth: AuthService, *, ttl_s: float = CACHE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._auth = auth
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def remembers(self, credentials: str) -> bool:
        """Whether :meth:`authenticate` would answer ``credentials`` from memory (no store lookup)."""
        key = hashlib.sha256(credentials.encode()).digest()
        with self._lock:
            hit = self._cache.get(key)
        return hit is not None and hit[1] > self._clock()

    def authenticate(self, credentials: str) -> Principal:
        """The principal of a Basic credential.

        Raises:
            Unauthorized: malformed credentials, a bad token, or a user name that does not own it.
        """
        key = hashlib.sha256(credentials.encode()).digest()
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        user, token = parse_basic(credentials)
        principal = self._auth.authenticate(token)
        if user and user != principal.name:
            raise Unauthorized(
                f"The token belongs to user {principal.name!r}, not {user!r}: set "
                "MLFLOW_TRACKING_USERNAME to the token's owner."
            )
        with self._lock:
            self._cache[key] = (principal, now + self._ttl_s)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return principal
