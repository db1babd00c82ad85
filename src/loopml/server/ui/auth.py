"""Login and logout: a token typed once becomes a short-lived session token in an HttpOnly cookie."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from loopml.errors import LoopmlError, Unauthorized
from loopml.security.ratelimit import EndpointClass
from loopml.server._security import STATE_LAYER, SecurityLayer
from loopml.server.ui._render import form_of, page
from loopml.server.ui._session import SESSION_COOKIE, UI_PREFIX, cookie_header, csrf_matches

__all__ = ["SESSION_LIFETIME", "router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

#: How long a login lasts; the session token expires then even if the browser keeps the cookie.
SESSION_LIFETIME = dt.timedelta(hours=12)
SESSION_TOKEN_NAME = "ui-session"
_CSRF_REFUSED = "The form expired or came from another site; reload the page and submit it again."


def _layer(request: Request) -> SecurityLayer | None:
    layer = getattr(request.app.state, STATE_LAYER, None)
    return layer if isinstance(layer, SecurityLayer) and layer.auth_enabled else None


def _next_page(value: str | None) -> str:
    """Where to go after login: a UI path only (never another site)."""
    if value and value.startswith(UI_PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{UI_PREFIX}/experiments"


@router.get("", include_in_schema=False)
def ui_root() -> RedirectResponse:
    return RedirectResponse(f"{UI_PREFIX}/experiments", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", next=_next_page(next), error=None, auth=_layer(request) is not None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: dict[str, str]) -> Response:
    token, csrf = form.get("token", ""), form.get("csrf", "")
    layer = _layer(request)
    target = _next_page(form.get("next"))
    if layer is None:
        return RedirectResponse(target, status_code=303)
    if not csrf_matches(request, csrf):
        return page(request, "login.html", status=400, next=target, error=_CSRF_REFUSED, auth=True)
    client = request.client.host if request.client else None
    try:
        principal = layer.auth.authenticate(token.strip())
    except Unauthorized as err:
        limited = layer.limiter.check(
            f"client:{client}", role=None, endpoint_class=EndpointClass.AUTH_FAILURE
        )
        message = str(err) if limited.allowed else "Too many failed logins; wait a minute and try again."
        _audit(layer, actor=None, client=client, status=401, result=message)
        return page(request, "login.html", status=401, next=target, error=message, auth=True)
    _, session = layer.auth.create_token(principal.name, name=SESSION_TOKEN_NAME, expires_in=SESSION_LIFETIME)
    _audit(layer, actor=principal.name, client=client, status=303, result=None)
    response = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"
    max_age = int(SESSION_LIFETIME.total_seconds())
    response.headers.append(
        "set-cookie", cookie_header(SESSION_COOKIE, session, secure=secure, max_age=max_age)
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_logout, request, form.get("csrf", ""))


def _logout(request: Request, csrf: str) -> Response:
    if not csrf_matches(request, csrf):
        return page(request, "error.html", status=400, title="Refused", message=_CSRF_REFUSED)
    layer = _layer(request)
    session = request.cookies.get(SESSION_COOKIE)
    if layer is not None and session:
        try:  # only a live session token of this very cookie is revoked
            layer.auth.authenticate(session)
            layer.auth.revoke_token(session)
        except LoopmlError:
            pass  # an expired or revoked session is already over
    response = RedirectResponse(f"{UI_PREFIX}/login", status_code=303)
    secure = request.url.scheme == "https"
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, "", secure=secure, max_age=0))
    return response


def _audit(
    layer: SecurityLayer, *, actor: str | None, client: str | None, status: int, result: str | None
) -> None:
    details: dict[str, Any] = {"method": "POST", "path": f"{UI_PREFIX}/login"}
    if result:
        details["message"] = result
    layer.audit.record(
        actor=actor, action="ui.login", target=None, client=client, status_code=status, details=details
    )
