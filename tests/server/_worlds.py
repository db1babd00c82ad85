"""A secured server seeded with users and resources, shared by the grant tests."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from loopml.security.auth import AuthService, Role


class SecuredWorld:
    """A secured server at ``url``: its users' tokens by name and the ids the test seeded.

    Test modules subclass it to document what their world holds.
    """

    def __init__(self, url: str, tokens: dict[str, str], ids: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens
        self.ids = ids

    def client(self, user: str) -> httpx.Client:
        """An API client acting as ``user``."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)


def create_users(auth: AuthService, users: Iterable[tuple[str, Role]]) -> dict[str, str]:
    """Create each ``(name, role)`` user with a token; the tokens by user name."""
    tokens: dict[str, str] = {}
    for name, role in users:
        auth.create_user(name, role=role)
        tokens[name] = auth.create_token(name)[1]
    return tokens
