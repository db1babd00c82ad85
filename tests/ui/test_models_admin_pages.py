"""Model pages (versions, aliases, signature, scan, blessing) and the admin pages (users, tokens, audit)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from loopml.security.auth import AuthService
from tests.ui._world import MODEL, World, csrf_in, login


@pytest.fixture
def root(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["root"])
        yield client


def test_model_pages_show_versions_aliases_signature_and_blessing(root: httpx.Client) -> None:
    listing = root.get("/ui/models").text
    assert "champion → v1" in listing and "&lt;img src=x" in listing and "<img src=x" not in listing
    model = root.get(f"/ui/models/{quote(MODEL)}")
    assert model.status_code == 200 and ">v1<" in model.text and "blessed" in model.text
    assert "champion" in model.text.split("Alias history")[1]  # the move is in the history
    version = root.get(f"/ui/models/{quote(MODEL)}/versions/1").text
    assert "not signed" in version and "safe" in version and "roc_auc" in version and "0.91" in version
    assert "double" in version and "model.yaml" in version  # signature and files from the package
    assert "<script>" not in version and "&lt;script&gt;" in version


def test_a_viewer_is_refused_the_admin_pages(world: World) -> None:
    with httpx.Client(base_url=world.url) as client:
        login(client, world.tokens["vi"])
        assert "/ui/admin/users" not in client.get("/ui/experiments").text
        for path in ("/ui/admin/users", "/ui/admin/tokens", "/ui/admin/audit"):
            refused = client.get(path)
            assert refused.status_code == 403 and "text/html" in refused.headers["content-type"], path
        csrf = csrf_in(client.get("/ui/experiments").text)
        posted = client.post("/ui/admin/tokens", data={"csrf": csrf, "user": "vi"})
        assert posted.status_code == 403
    assert all(t.name == "ui-session" or t.token_id in world.tokens["vi"] for t in _tokens(world, "vi"))


def _tokens(world: World, user: str) -> list:  # type: ignore[type-arg]
    return AuthService(world.store).list_tokens(user_name=user)


def test_an_admin_creates_a_token_shown_once_and_revokes_it(root: httpx.Client, world: World) -> None:
    page = root.get("/ui/admin/tokens")
    created = root.post(
        "/ui/admin/tokens", data={"csrf": csrf_in(page.text), "user": "ed", "name": "ci", "expires_days": "7"}
    )
    assert created.status_code == 200
    text = re.search(r'<code id="issued">(lml_[^<]+)</code>', created.text)
    assert text is not None
    assert AuthService(world.store).authenticate(text.group(1)).name == "ed"
    again = root.get("/ui/admin/tokens").text
    assert text.group(1) not in again  # shown once
    token_id = text.group(1).split("_")[1]
    revoked = root.post(f"/ui/admin/tokens/{token_id}/revoke", data={"csrf": csrf_in(again)})
    assert revoked.status_code == 303
    assert next(t for t in _tokens(world, "ed") if t.token_id == token_id).revoked_at is not None


def test_token_forms_need_the_csrf_field(root: httpx.Client, world: World) -> None:
    before = len(_tokens(world, "ed"))
    answer = root.post("/ui/admin/tokens", data={"csrf": "forged", "user": "ed"})
    assert answer.status_code == 400 and len(_tokens(world, "ed")) == before


def test_admin_pages_list_users_grants_and_audit(root: httpx.Client) -> None:
    users = root.get("/ui/admin/users").text
    assert ">vi<" in users and ">viewer<" in users and ">experiment<" in users
    audit = root.get("/ui/admin/audit", params={"action": "ui.login"}).text
    assert "ui.login" in audit and ">root<" in audit
    bad = root.get("/ui/admin/audit", params={"since": "yesterday-ish"})
    assert bad.status_code == 200 and 'role="alert"' in bad.text
