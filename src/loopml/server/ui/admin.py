"""Admin: users, tokens (create and revoke; a new token is shown once) and the audit log.

The security layer's rules (``UI_ROUTE_RULES``) admit only callers holding the admin
permissions to these pages; handlers do not check permissions themselves.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from loopml.errors import LoopmlError
from loopml.security.auth import AuthService
from loopml.server._security import STATE_LAYER, SecurityLayer
from loopml.server.ui._render import form_of, page
from loopml.server.ui._session import UI_PREFIX, csrf_matches

__all__ = ["router"]

router = APIRouter(prefix=f"{UI_PREFIX}/admin", include_in_schema=False)
_DAYS = {"": None, "1": 1, "7": 7, "30": 30, "90": 90, "365": 365}


def _auth(request: Request) -> AuthService | None:
    layer = getattr(request.app.state, STATE_LAYER, None)
    return layer.auth if isinstance(layer, SecurityLayer) else None


def _no_identity(request: Request) -> HTMLResponse:
    message = "This server has no identity tables: users and tokens are managed where auth is on."
    return page(request, "error.html", status=404, title="Not available", message=message)


@router.get("/users")
def users(request: Request) -> HTMLResponse:
    auth = _auth(request)
    if auth is None:
        return _no_identity(request)
    return page(request, "admin_users.html", users=auth.list_users(), grants=auth.list_grants())


@router.get("/tokens")
def tokens(request: Request, user: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
    auth = _auth(request)
    if auth is None:
        return _no_identity(request)
    return _tokens_page(request, auth, user=user or None)


def _tokens_page(
    request: Request,
    auth: AuthService,
    *,
    user: str | None,
    issued: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "admin_tokens.html",
        status=status,
        tokens=auth.list_tokens(user_name=user),
        users=auth.list_users(),
        filter_user=user,
        issued=issued,
        error=error,
        days=list(_DAYS),
    )


@router.post("/tokens")
async def create_token(request: Request) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_create_token, request, form)


def _create_token(request: Request, form: dict[str, str]) -> Response:
    auth = _auth(request)
    if auth is None:
        return _no_identity(request)
    if not csrf_matches(request, form.get("csrf")):
        return _tokens_page(
            request, auth, user=None, error="The form expired; reload and try again.", status=400
        )
    days = _DAYS.get(form.get("expires_days", ""))
    try:
        _, text = auth.create_token(
            form.get("user", ""),
            name=form.get("name") or None,
            expires_in=dt.timedelta(days=days) if days else None,
        )
    except LoopmlError as err:
        return _tokens_page(request, auth, user=None, error=str(err), status=400)
    return _tokens_page(request, auth, user=None, issued=text)  # shown once, never stored


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str) -> Response:
    form = await form_of(request)
    return await run_in_threadpool(_revoke_token, request, token_id, form)


def _revoke_token(request: Request, token_id: str, form: dict[str, str]) -> Response:
    auth = _auth(request)
    if auth is None:
        return _no_identity(request)
    if not csrf_matches(request, form.get("csrf")):
        return _tokens_page(
            request, auth, user=None, error="The form expired; reload and try again.", status=400
        )
    try:
        auth.revoke_token(token_id)
    except LoopmlError as err:
        return _tokens_page(request, auth, user=None, error=str(err), status=400)
    return RedirectResponse(f"{UI_PREFIX}/admin/tokens", status_code=303)


@router.get("/audit")
def audit(
    request: Request,
    user: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> HTMLResponse:
    layer = getattr(request.app.state, STATE_LAYER, None)
    if not isinstance(layer, SecurityLayer):
        return _no_identity(request)
    error = None
    try:
        events = layer.audit.list(user=user or None, since=since or None, action=action or None, limit=limit)
    except LoopmlError as err:
        events, error = [], str(err)
    return page(
        request,
        "admin_audit.html",
        events=events,
        error=error,
        filters={"user": user or "", "action": action or "", "since": since or ""},
        limit=limit,
    )
