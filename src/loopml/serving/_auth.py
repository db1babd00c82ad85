"""Bearer-token authentication and the per-model ``predict`` permission, cached for a few seconds.

Tokens are the platform's (``loopml tokens create``). A decision (allowed or refused) is cached
per token and model for ``ttl_s`` seconds, so a revoked token or a changed grant takes effect
within that window without a store round trip on every request.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from loopml.errors import Forbidden, LoopmlError, Unauthorized
from loopml.security.auth import AuthService, Permission, Principal, Resource, ResourceKind
from loopml.web.authentication import split_authorization

__all__ = ["ModelForbidden", "RequestAuthenticator"]

_MAX_CACHED = 10_000


class ModelForbidden(Forbidden):
    """An authenticated caller may not query the model; carries who it was (for the audit log).

    The principal stays in the server: only the code and message travel to a client.
    """

    code = "model_forbidden"

    def __init__(self, message: str, *, principal: Principal | None = None) -> None:
        super().__init__(message)
        self.principal = principal


class RequestAuthenticator:
    """Checks the ``Authorization: Bearer TOKEN`` header of serving requests.

    Args:
        auth: The platform's auth service (users, tokens, grants).
        ttl_s: How long a decision is reused.
    """

    def __init__(self, auth: AuthService, *, ttl_s: float = 10.0) -> None:
        self._auth = auth
        self._ttl = ttl_s
        self._cache: dict[tuple[str, str | None], tuple[float, Principal | LoopmlError]] = {}

    def _decide(self, token: str, model: str | None) -> Principal | LoopmlError:
        try:
            principal = self._auth.authenticate(token)
        except LoopmlError as err:
            return err
        try:
            resource = Resource(kind=ResourceKind.MODEL, key=model) if model else None
            self._auth.authorize(principal, Permission.PREDICT, resource)
            return principal
        except Forbidden as err:
            return ModelForbidden(str(err), principal=principal)
        except LoopmlError as err:
            return err

    async def check(self, header: str | None, model: str | None) -> Principal:
        """The principal allowed to call ``model``.

        Raises:
            Unauthorized: no, malformed or bad token.
            Forbidden: the principal may not query ``model`` (no ``predict`` permission on it).
        """
        scheme, token = split_authorization(header)
        if scheme != "bearer" or not token:
            raise Unauthorized(
                "This model server needs a token: send 'Authorization: Bearer TOKEN' "
                "(create one with `loopml tokens create --user NAME`)."
            )
        key = (hashlib.sha256(token.encode()).hexdigest(), model)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is None or cached[0] < now:
            decision = await asyncio.get_running_loop().run_in_executor(None, self._decide, token, model)
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[key] = (now + self._ttl, decision)
        else:
            decision = cached[1]
        if isinstance(decision, LoopmlError):
            raise decision
        return decision
