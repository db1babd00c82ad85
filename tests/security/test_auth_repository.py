"""The identity repository over SQLite and PostgreSQL (users, tokens, grants, blob uploads, audit events)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store.sql import open_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """A fresh SQL store of each backend (the remote store has no identity repository).

    PostgreSQL uses the session database of ``tests/conftest.py`` with the identity tables emptied.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_database_url")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE users, tokens, grants, blob_uploads, audit_events CASCADE"))
        engine.dispose()
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()


def test_users(sql_store: Any) -> None:
    repo = sql_store.identity
    ana = repo.create_user("ana", role="editor")
    repo.create_user("bob", role="admin")
    assert repo.get_user("ana") == ana and repo.find_user("nobody") is None
    assert [u.name for u in repo.list_users()] == ["ana", "bob"]
    assert [u.name for u in repo.list_users(role="admin")] == ["bob"]
    assert repo.set_user_disabled("ana", True).is_disabled is True
    with pytest.raises(Conflict):
        repo.create_user("ana", role="viewer")
    with pytest.raises(NotFound):
        repo.set_user_disabled("zed", True)
    with pytest.raises(InvalidInput):
        repo.create_user("", role="viewer")


def test_tokens(sql_store: Any) -> None:
    repo = sql_store.identity
    repo.create_user("ana", role="editor")
    token = repo.create_token(
        token_id="a" * 32, user_name="ana", secret_hash="h" * 64, name="ci", expires_at=99
    )
    assert (token.user_name, token.name, token.expires_at) == ("ana", "ci", 99)
    found = repo.find_credentials("a" * 32)
    assert found is not None
    got, user, stored = found
    assert got == token and user.name == "ana" and stored == "h" * 64
    assert repo.find_credentials("b" * 32) is None
    repo.touch_token("a" * 32, at=5)
    assert repo.revoke_token("a" * 32, at=7).revoked_at == 7
    assert repo.revoke_token("a" * 32, at=9).revoked_at == 7
    [listed] = repo.list_tokens(user_name="ana")
    assert (listed.last_used_at, listed.revoked_at) == (5, 7)
    assert repo.list_tokens(user_name="bob") == []
    with pytest.raises(NotFound):
        repo.create_token(token_id="c" * 32, user_name="ghost", secret_hash="h" * 64)


def test_grants(sql_store: Any) -> None:
    repo = sql_store.identity
    repo.create_user("ana", role="editor")
    repo.create_user("bob", role="viewer")
    repo.set_grant(user_name="ana", resource_kind="model", resource="churn", level="read")
    repo.set_grant(user_name="ana", resource_kind="model", resource="churn", level="write")
    repo.set_grant(user_name="bob", resource_kind="dataset", resource="census", level="read")
    grants = repo.list_grants(resource_kind="model", resource="churn")
    assert [(g.user_name, g.level) for g in grants] == [("ana", "write")]
    assert len(repo.list_grants()) == 2 and len(repo.list_grants(user_name="bob")) == 1
    repo.delete_grant(user_name="ana", resource_kind="model", resource="churn")
    assert repo.list_grants(resource_kind="model") == []


def test_blob_uploads(sql_store: Any) -> None:
    repo = sql_store.identity
    ana = repo.create_user("ana", role="editor")
    bob = repo.create_user("bob", role="editor")
    blob, other = "ab" * 32, "cd" * 32
    assert not repo.has_uploaded(ana.user_id, blob)
    repo.record_upload(ana.user_id, blob)
    repo.record_upload(ana.user_id, blob)  # idempotent: a second upload of the same bytes
    assert repo.has_uploaded(ana.user_id, blob)
    assert not repo.has_uploaded(bob.user_id, blob)  # a receipt is the uploader's own
    assert not repo.has_uploaded(ana.user_id, other)
    repo.record_upload(bob.user_id, blob)
    assert repo.has_uploaded(bob.user_id, blob) and repo.has_uploaded(ana.user_id, blob)


def test_audit_events(sql_store: Any) -> None:
    repo = sql_store.identity
    for i, (actor, action) in enumerate(
        [("ana", "runs.create"), ("bob", "models.create"), ("ana", "models.x")]
    ):
        repo.add_audit_event(
            actor=actor,
            action=action,
            result="ok",
            status_code=201,
            at=1000 + i,
            details={"i": i, "path": "/api/v1/runs"},
            client="10.0.0.1",
            target="run:r1",
        )
    repo.add_audit_event(actor=None, action="runs.get", result="unauthorized", status_code=401, at=2000)
    newest = repo.list_audit_events()
    assert [e.at for e in newest] == [2000, 1002, 1001, 1000]
    assert newest[0].actor is None and newest[1].details == {"i": 2, "path": "/api/v1/runs"}
    assert [e.action for e in repo.list_audit_events(actor="ana")] == ["models.x", "runs.create"]
    assert [e.actor for e in repo.list_audit_events(action="models.*")] == ["ana", "bob"]
    assert [e.at for e in repo.list_audit_events(since=1001, limit=2)] == [2000, 1002]
    assert repo.list_audit_events(action="models%") == []  # wildcards are data, not SQL
    with pytest.raises(InvalidInput, match="limit must be between 1 and 10000"):
        repo.list_audit_events(limit=0)
