"""The ASGI side of the platform server's security layer: each request through one :class:`SecurityLayer`.

:class:`SecurityMiddleware` matches the request to its route template, asks the layer to admit
it (authentication and rate limits) before any body is read, reads a JSON body only when the
route's target is in it (at most ``max_body_bytes``, then replayed to the app unchanged), asks the
layer to authorise it, answers refusals itself, and has the layer audit the request before the
client sees the answer. The decisions are the layer's (:mod:`loopml.server._security`); the HTTP
pieces are :mod:`loopml.web`'s.

What it costs a request: a decision that needs nothing stored (no authentication, or an admin on
targets whose experiment is remembered) is made on the event loop; any other in a worker thread.
An audited request carries its audit row into the app (:meth:`SecurityLayer.audit_rider`): the
request's first write transaction commits the row with the mutation, so a crash never keeps a
mutation without its row and the row costs no commit of its own. When the request wrote nothing
(a refusal by the handler, bad input), or was answered with another status than expected, the row
is written (or its status set) before the response leaves, as every refusal here is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopml.server._route_rules import rule_for
from loopml.web.body_limits import buffer_body
from loopml.web.responses import send_json
from loopml.web.routes import RouteIndex

if TYPE_CHECKING:
    from loopml.server._security import SecurityLayer, _Verdict

__all__ = ["MAX_INSPECTED_BODY", "STATE_PRINCIPAL", "SecurityMiddleware"]

log = logging.getLogger(__name__)

#: Largest JSON body read here to find a target resource by default; larger ones get 413. The
#: server passes its own JSON body limit (``ServerConfig.max_body_bytes``) instead.
MAX_INSPECTED_BODY = 1024 * 1024
#: Key of the request's ``scope["state"]`` holding the admitted caller.
STATE_PRINCIPAL = "principal"


class SecurityMiddleware:
    """Pure ASGI middleware applying a :class:`SecurityLayer` to every HTTP request."""

    def __init__(
        self, app: ASGIApp, *, layer: SecurityLayer, max_body_bytes: int = MAX_INSPECTED_BODY
    ) -> None:
        self.app = app
        self.layer = layer
        self.max_body_bytes = max_body_bytes
        self._routes: RouteIndex | None = None
        #: The success status each audited route last answered: what its next audit row expects.
        self._expected: dict[tuple[str, str | None], int] = {}

    def _index(self, scope: Scope) -> RouteIndex:
        if self._routes is None:  # built on the first request, when every route is registered
            self._routes = RouteIndex(getattr(scope.get("app"), "routes", []))
        return self._routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.layer.open_paths:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        matched = self._index(scope).match(method, scope["path"])
        template, path_params = matched if matched is not None else (None, {})
        client = scope["client"][0] if scope.get("client") else None
        decided = await self._decide(scope, receive, send, template, path_params, client)
        if decided is None:  # answered here (413)
            return
        verdict, receive = decided
        if verdict.status >= 400:
            if verdict.audit:  # recorded before the client can see the refusal
                await self._record(verdict, scope, client, verdict.status)
            await _send_error(send, verdict.status, verdict.code, verdict.message, verdict.headers)
            return
        scope.setdefault("state", {})[STATE_PRINCIPAL] = verdict.principal
        if not verdict.audit:
            await self.app(scope, receive, send)
            return
        # The audit row rides the request's first write transaction (the mutation and its row
        # commit together); a request that wrote nothing has it written before the client sees
        # the response. Either way it is committed before the answer, with the answer's status.
        key = (method, template)
        rider = self.layer.audit_rider(
            verdict, method=method, path=scope["path"], client=client, status=self._expected.get(key, 200)
        )
        settled = False

        async def settle(status: int) -> None:
            nonlocal settled
            settled = True
            await self.layer.settle(
                rider, verdict, method=method, path=scope["path"], client=client, status=status
            )
            if 200 <= status < 300:
                self._expected[key] = status  # the next request of this route expects the same

        async def audit_then_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not settled:
                status = int(message["status"])
                if verdict.creates is not None and 200 <= status < 300:
                    await self._grant_creator(verdict)
                await settle(status)
            await send(message)

        try:
            with rider.carried():
                await self.app(scope, receive, audit_then_send)
        finally:
            if not settled:  # the app failed before answering
                await settle(500)

    async def _decide(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        template: str | None,
        path_params: dict[str, Any],
        client: str | None,
    ) -> tuple[_Verdict, Receive] | None:
        """The layer's verdict, and the ``receive`` to hand on; None when a 413 was sent here.

        Decisions that need nothing stored are made here on the event loop; the others in one
        worker thread each (the admission, then the authorisation once a body naming the target
        is read).
        """
        method, layer = scope["method"], self.layer
        header = None
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                header = value.decode("latin-1")  # the last one, as a dict of the headers would keep
        rule = rule_for(method, template) if template is not None else None
        reads_body = rule is not None and rule.reads_body
        ask = {"method": method, "template": template, "authorization": header, "client": client}
        admitted = layer.admit_inline(**ask)
        if admitted is None and not reads_body:
            decide = partial(layer.decide, path_params=path_params, body=None, **ask)
            return await anyio.to_thread.run_sync(decide), receive
        if admitted is None:  # the target is in the body: read it only once the caller is admitted
            admitted = await anyio.to_thread.run_sync(partial(layer.admit, **ask))
        if admitted.status >= 400:
            return admitted, receive
        body = None
        if reads_body:
            raw, receive, too_big = await buffer_body(receive, self.max_body_bytes)
            if too_big:
                message = f"The request body is over {self.max_body_bytes} bytes; send less."
                await _send_error(send, 413, "payload_too_large", message, {})
                return None
            # a GET names its target in the query string (the MLflow API does)
            body = _json_or_none(raw) if raw else _query_of(scope)
        verdict = layer.authorize_inline(admitted, path_params=path_params, body=body)
        if verdict is None:
            authorize = partial(layer.authorize, admitted, path_params=path_params, body=body)
            verdict = await anyio.to_thread.run_sync(authorize)
        return verdict, receive

    async def _grant_creator(self, verdict: _Verdict) -> None:
        try:
            await anyio.to_thread.run_sync(lambda: self.layer.grant_creator(verdict))
        except Exception:  # the resource was made; its creator can be granted by an admin
            log.exception("Could not grant the creator of %s", verdict.creates)

    async def _record(self, verdict: _Verdict, scope: Scope, client: str | None, status: int) -> None:
        await self.layer.record(
            verdict, method=scope["method"], path=scope["path"], client=client, status=status
        )


def _query_of(scope: Scope) -> dict[str, str | list[str]]:
    """The query string's parameters; a repeated one (``experiment_ids=a&experiment_ids=b``) as a list."""
    query: dict[str, str | list[str]] = {}
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        seen = query.get(key)
        query[key] = value if seen is None else [*([seen] if isinstance(seen, str) else seen), value]
    return query


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # the handler answers malformed or too deeply nested JSON with 400


#: Headers of every refusal sent here, whatever middleware runs outside this one.
_REFUSAL_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"))


async def _send_error(send: Send, status: int, code: str, message: str, headers: Mapping[str, str]) -> None:
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    content = {"error": {"code": code, "message": message}}
    await send_json(send, status, content, headers=[*_REFUSAL_HEADERS, *extra])
