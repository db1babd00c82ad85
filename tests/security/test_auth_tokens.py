"""Users and tokens: hashing, expiry, revocation, malformed and unknown tokens, disabled users."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from loopml.errors import Conflict, InvalidInput, NotFound, Unauthorized
from loopml.security.auth import AuthService, Role, bootstrap_admin, hash_secret, issue_token, parse_token
from loopml.store.sql import SqlStore, open_store


class Clock:
    def __init__(self) -> None:
        self.ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(store: SqlStore, clock: Clock) -> AuthService:
    service = AuthService(store, pepper="pepper-1", clock=clock)
    service.create_user("ana", role=Role.EDITOR)
    return service


def test_token_round_trip_gives_the_principal(auth: AuthService) -> None:
    token, text = auth.create_token("ana", name="laptop")
    assert text.startswith(f"lml_{token.token_id}_")
    principal = auth.authenticate(text)
    assert (principal.name, principal.role, principal.token_id) == ("ana", Role.EDITOR, token.token_id)
    assert token.name == "laptop" and token.user_name == "ana"


def test_secret_is_stored_only_as_hmac(auth: AuthService, store: SqlStore, tmp_path: Path) -> None:
    token, text = auth.create_token("ana")
    _, secret = parse_token(text)
    assert not hasattr(token, "secret_hash") and secret not in repr(token)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secret_hash FROM tokens")).scalar_one()
    engine.dispose()
    assert stored == hash_secret(token.token_id, secret, pepper=b"pepper-1")
    assert secret not in stored and len(stored) == 64
    raw = (tmp_path / "store.db").read_bytes() + (tmp_path / "store.db-wal").read_bytes()
    assert secret.encode() not in raw


def test_another_pepper_does_not_accept_the_token(auth: AuthService, store: SqlStore, clock: Clock) -> None:
    _, text = auth.create_token("ana")
    with pytest.raises(Unauthorized, match="wrong secret"):
        AuthService(store, pepper="other", clock=clock).authenticate(text)


def test_wrong_secret_is_refused(auth: AuthService) -> None:
    token, text = auth.create_token("ana")
    tampered = text[:-1] + ("A" if text[-1] != "A" else "B")
    with pytest.raises(Unauthorized, match=f"Token {token.token_id} has a wrong secret"):
        auth.authenticate(tampered)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "lml",
        "lml__",
        "Bearer lml_x",
        "lml_" + "g" * 32 + "_" + "a" * 43,  # id not hex
        "lml_" + "a" * 31 + "_" + "a" * 43,  # id too short
        "xyz_" + "a" * 32 + "_" + "a" * 43,  # wrong prefix
        "lml_" + "a" * 32 + "_short",  # secret too short
        "lml_" + "a" * 32 + "_" + "a" * 40 + "%00",  # bad characters
        "lml_" + "a" * 32 + "_" + "a" * 500,  # too long
    ],
)
def test_malformed_tokens_are_refused_without_echo(auth: AuthService, text: str) -> None:
    with pytest.raises(Unauthorized, match="malformed") as err:
        auth.authenticate(text)
    if len(text) > 8:
        assert text not in str(err.value)


def test_unknown_token(auth: AuthService) -> None:
    issued = issue_token()
    with pytest.raises(Unauthorized, match=f"Unknown token {issued.token_id}.*loopml tokens create"):
        auth.authenticate(issued.plaintext)


def test_expired_token(auth: AuthService, clock: Clock) -> None:
    token, text = auth.create_token("ana", expires_in=dt.timedelta(hours=1))
    assert token.expires_at == clock.ms + 3_600_000
    clock.ms += 3_599_999
    assert auth.authenticate(text).name == "ana"
    clock.ms += 1
    with pytest.raises(Unauthorized, match=f"Token {token.token_id} expired at .*--expires-in"):
        auth.authenticate(text)


def test_non_positive_lifetime_is_bad_input(auth: AuthService) -> None:
    with pytest.raises(InvalidInput, match="expires_in must be positive"):
        auth.create_token("ana", expires_in=dt.timedelta(0))


def test_revoked_token(auth: AuthService, clock: Clock) -> None:
    token, text = auth.create_token("ana")
    other, other_text = auth.create_token("ana")
    revoked = auth.revoke_token(token.token_id)
    assert revoked.revoked_at == clock.ms
    with pytest.raises(Unauthorized, match=f"Token {token.token_id} was revoked"):
        auth.authenticate(text)
    assert auth.authenticate(other_text).token_id == other.token_id
    clock.ms += 10
    assert auth.revoke_token(text).revoked_at == revoked.revoked_at  # the whole text works; first time kept
    with pytest.raises(NotFound, match="No token with id"):
        auth.revoke_token("f" * 32)


def test_disabled_user_is_refused_and_enabled_again(auth: AuthService) -> None:
    _, text = auth.create_token("ana")
    auth.disable_user("ana")
    with pytest.raises(Unauthorized, match="User 'ana' is disabled"):
        auth.authenticate(text)
    auth.enable_user("ana")
    assert auth.authenticate(text).name == "ana"


def test_last_used_is_recorded_at_most_once_a_minute(auth: AuthService, clock: Clock) -> None:
    _, text = auth.create_token("ana")
    auth.authenticate(text)
    first = auth.list_tokens(user_name="ana")[0].last_used_at
    assert first == clock.ms
    clock.ms += 30_000
    auth.authenticate(text)
    assert auth.list_tokens(user_name="ana")[0].last_used_at == first
    clock.ms += 30_000
    auth.authenticate(text)
    assert auth.list_tokens(user_name="ana")[0].last_used_at == clock.ms


def test_user_errors(auth: AuthService) -> None:
    with pytest.raises(Conflict, match="'ana' already exists"):
        auth.create_user("ana", role="viewer")
    with pytest.raises(InvalidInput, match="Unknown role"):
        auth.create_user("bob", role="root")
    with pytest.raises(InvalidInput, match="user name"):
        auth.create_user("a/b", role="viewer")
    with pytest.raises(NotFound, match="No user named 'ghost'"):
        auth.create_token("ghost")
    with pytest.raises(NotFound, match="No user named 'ghost'"):
        auth.disable_user("ghost")


def test_bootstrap_admin_once_unless_forced(auth: AuthService) -> None:
    made = bootstrap_admin(auth)
    assert made.user.role == "admin" and auth.authenticate(made.secret).role is Role.ADMIN
    assert made.secret not in repr(made)
    with pytest.raises(Conflict, match=r"already has an admin.*--force"):
        bootstrap_admin(auth)
    again = bootstrap_admin(auth, force=True)
    assert again.user.name == "admin" and again.secret != made.secret
    with pytest.raises(Conflict, match="'ana' exists with role 'editor'"):
        bootstrap_admin(auth, name="ana", force=True)
