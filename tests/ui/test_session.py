"""Login, logout, the session cookie, CSRF and the UI's Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import httpx

from loopml.config import Settings
from loopml.security.auth import AuthService
from loopml.server.background import serve_in_thread
from tests.ui._world import World, csrf_in, login


def test_a_browser_without_a_session_is_sent_to_login(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        answer = client.get(f"/ui/experiments/{world.ids['experiment']}?filter=x")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/ui/login?next=%2Fui%2Fexperiments%2F")


def test_login_sets_a_strict_httponly_session_cookie_and_goes_to_next(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        answer = login(client, world.tokens["vi"], next_page="/ui/compare")
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/compare"
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("loopml_session="))
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
        assert "Secure" not in cookie  # plain HTTP here; over TLS it carries Secure
        assert world.tokens["vi"] not in cookie  # a session token of its own, not the one typed
        assert client.get("/ui/experiments").status_code == 200


def test_login_refuses_a_bad_token_with_the_reason(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        answer = login(client, "lml_" + "a" * 32 + "_" + "b" * 43)
    assert answer.status_code == 401
    assert "Unknown token" in answer.text and "loopml_session" not in answer.headers.get("set-cookie", "")


def test_login_needs_the_csrf_field(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        client.get("/ui/login")
        answer = client.post("/ui/login", data={"token": world.tokens["vi"], "csrf": "forged"})
    assert answer.status_code == 400 and "form expired" in answer.text


def test_next_never_leaves_the_ui(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        answer = login(client, world.tokens["vi"], next_page="//evil.example/ui/x")
    assert answer.headers["location"] == "/ui/experiments"


def test_the_session_cookie_does_not_authorise_the_api(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["root"])
        assert client.get("/ui/experiments").status_code == 200
        assert client.get("/api/v1/experiments").status_code == 401


def test_logout_revokes_the_session_token(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["vi"])
        session = client.cookies["loopml_session"]
        page = client.get("/ui/experiments")
        answer = client.post("/ui/logout", data={"csrf": csrf_in(page.text)})
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"
        assert "loopml_session" not in client.cookies
    token_id = session.split("_")[1]
    revoked = [t for t in AuthService(world.store).list_tokens(user_name="vi") if t.token_id == token_id]
    assert revoked and revoked[0].revoked_at is not None
    with httpx.Client(base_url=world.url, cookies={"loopml_session": session}) as stale:
        again = stale.get("/ui/experiments")
    assert again.status_code == 303 and "/ui/login" in again.headers["location"]


def test_logout_without_csrf_is_refused(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["vi"])
        answer = client.post("/ui/logout", data={})
        assert answer.status_code == 400
        assert client.get("/ui/experiments").status_code == 200


def test_pages_carry_a_strict_csp_without_inline_script(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["root"])
        answer = client.get(f"/ui/runs/{world.ids['parent']}")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert (
        "<script>" not in answer.text and " style=" not in answer.text and " on" + "load=" not in answer.text
    )


def test_static_files_are_served_before_login(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        css = client.get("/ui/static/app.css")
        js = client.get("/ui/static/uplot.iife.min.js")
        missing = client.get("/ui/static/nothing.js")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert js.status_code == 200 and "uPlot" in js.text
    assert missing.status_code == 303  # not a bundled file: like any page, it needs a session


def test_a_server_without_auth_serves_the_ui_as_the_local_admin(tmp_path: Path) -> None:
    with (
        serve_in_thread(Settings(home=tmp_path), auth_enabled=False) as url,
        httpx.Client(base_url=url) as client,
    ):
        page = client.get("/ui/experiments")
        login_page = client.get("/ui/login")
    assert page.status_code == 200 and "local (admin)" in page.text and "Log out" not in page.text
    assert "runs without authentication" in login_page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
