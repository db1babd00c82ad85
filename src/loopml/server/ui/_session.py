"""Browser sessions for ``/ui``: a session cookie stands in for the bearer token, refusals become pages.

The UI is authorised by the very security layer that guards the API: this middleware sits outside
it and, for ``/ui`` paths only, turns the ``loopml_session`` cookie (a short-lived token minted at
login, HttpOnly, SameSite=Strict, Secure over TLS) into ``Authorization: Bearer``. The cookie never
authorises an ``/api`` request, so a cross-site form cannot reach the API with it.

It also keeps the double-submit CSRF cookie every UI form echoes (:func:`csrf_of`), sets the UI's
strict Content-Security-Policy (no inline script or style), sends a browser without a session to
the login page, and renders JSON refusals (401/403/404/429 from the layer or the handlers) as
HTML pages.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import quote

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopml.ui import environment

__all__ = [
    "CSP",
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "UI_PREFIX",
    "UiSessionMiddleware",
    "cookie_header",
    "csrf_matches",
    "csrf_of",
]

UI_PREFIX = "/ui"
SESSION_COOKIE = "loopml_session"
CSRF_COOKIE = "loopml_csrf"
STATE_CSRF = "ui_csrf"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def is_ui_path(path: str) -> bool:
    """Whether ``path`` is served by the UI (and so may be authorised by the session cookie)."""
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, path ``/ui``, Secure over TLS."""
    parts = [f"{name}={value}", f"Path={UI_PREFIX}", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def csrf_of(request: Request) -> str:
    """The CSRF value the page's forms must carry (the cookie's, or the one set on this response)."""
    return str(request.scope.get("state", {}).get(STATE_CSRF, ""))


def csrf_matches(request: Request, submitted: object) -> bool:
    """Whether a form's ``csrf`` field equals the caller's CSRF cookie (constant time)."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(expected) and isinstance(submitted, str) and hmac.compare_digest(expected, submitted)


def _cookies(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in headers:
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is ignored like a missing one
                continue
    return {k: m.value for k, m in jar.items()}


class UiSessionMiddleware:
    """Session cookie → bearer token for ``/ui``; login redirects, HTML error pages and the UI's CSP.

    Args:
        app: The app (with the security layer installed inside).
        auth_enabled: Whether callers must log in (False: the server runs without authentication).
        open_paths: UI paths served without a session (login, logout, static files).
    """

    def __init__(self, app: ASGIApp, *, auth_enabled: bool, open_paths: frozenset[str]) -> None:
        self.app = app
        self.auth_enabled = auth_enabled
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not is_ui_path(path):
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers", []))
        cookies = _cookies(headers)
        secure = scope.get("scheme") == "https"
        extra_cookies: list[str] = []
        csrf = cookies.get(CSRF_COOKIE, "")
        if not csrf:
            csrf = secrets.token_urlsafe(32)
            extra_cookies.append(cookie_header(CSRF_COOKIE, csrf, secure=secure))
        scope.setdefault("state", {})[STATE_CSRF] = csrf
        session = cookies.get(SESSION_COOKIE)
        has_bearer = any(name == b"authorization" for name, _ in headers)
        if session and not has_bearer:
            headers.append((b"authorization", f"Bearer {session}".encode("latin-1", "replace")))
            scope = {**scope, "headers": headers}
        if self.auth_enabled and not session and not has_bearer and path not in self.open_paths:
            await _redirect_to_login(send, scope, extra_cookies, secure=secure, clear=False)
            return
        await self.app(scope, receive, _PageSend(send, scope, extra_cookies, secure=secure))


class _PageSend:
    """Wraps ``send``: adds the CSP and cookies; turns a JSON refusal into a page or a login redirect."""

    def __init__(self, send: Send, scope: Scope, cookies: list[str], *, secure: bool) -> None:
        self.send = send
        self.scope = scope
        self.cookies = cookies
        self.secure = secure
        self.held: Message | None = None
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            status = int(message["status"])
            content_type = dict(message.get("headers", [])).get(b"content-type", b"")
            if status >= 400 and content_type.startswith(b"application/json"):
                self.held = message  # replaced once its body (the error's message) is read
                return
            await self.send(_with_headers(message, self.cookies))
            return
        if self.held is None:
            await self.send(message)
            return
        self.body += message.get("body", b"")
        if message.get("more_body", False):
            return
        status = int(self.held["status"])
        if status == 401:
            await _redirect_to_login(self.send, self.scope, self.cookies, secure=self.secure, clear=True)
            return
        await _send_error_page(self.send, status, _error_message(self.body), self.cookies)


def _with_headers(message: Message, cookies: list[str]) -> Message:
    kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
    kept.append((b"content-security-policy", CSP.encode()))
    kept += [(b"set-cookie", c.encode("latin-1")) for c in cookies]
    return {**message, "headers": kept}


def _error_message(body: bytes) -> str:
    try:
        payload = json.loads(body)
        error = payload.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str):
            return message
        detail = payload.get("detail")
        return detail if isinstance(detail, str) else "The request failed."
    except (ValueError, AttributeError):
        return "The request failed."


async def _send_error_page(send: Send, status: int, message: str, cookies: list[str]) -> None:
    titles = {403: "Forbidden", 404: "Not found", 429: "Too many requests"}
    html = (
        environment()
        .get_template("error.html")
        .render(title=titles.get(status, "Error"), status=status, message=message, user=None, csrf="")
    )
    body = html.encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ],
    }
    await send(_with_headers(start, cookies))
    await send({"type": "http.response.body", "body": body})


async def _redirect_to_login(
    send: Send, scope: Scope, cookies: list[str], *, secure: bool, clear: bool
) -> None:
    target = scope.get("path", UI_PREFIX)
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        target += "?" + query
    location = f"{UI_PREFIX}/login?next={quote(target, safe='')}"
    all_cookies = list(cookies)
    if clear:
        all_cookies.append(cookie_header(SESSION_COOKIE, "", secure=secure, max_age=0))
    start: Message = {
        "type": "http.response.start",
        "status": 303,
        "headers": [
            (b"location", location.encode("latin-1")),
            (b"content-length", b"0"),
            (b"cache-control", b"no-store"),
        ],
    }
    await send(_with_headers(start, all_cookies))
    await send({"type": "http.response.body", "body": b""})
