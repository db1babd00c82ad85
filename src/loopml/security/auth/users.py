"""User administration that goes beyond one call: the bootstrap admin of a new server."""

from __future__ import annotations

from dataclasses import dataclass, field

from loopml.errors import Conflict
from loopml.security.auth.roles import Role
from loopml.security.auth.service import AuthService
from loopml.store.entities import Token, User

__all__ = ["Bootstrap", "bootstrap_admin"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Bootstrap:
    """The admin made by :func:`bootstrap_admin` and its token (``secret`` is shown once)."""

    user: User
    token: Token
    secret: str = field(repr=False)


def bootstrap_admin(auth: AuthService, *, name: str = "admin", force: bool = False) -> Bootstrap:
    """Create the first admin user of a server and a token for it.

    Args:
        auth: The service over the server's store.
        name: The admin's user name.
        force: Create it even if an enabled admin exists (e.g. the old token was lost). An
            existing user of that name must already be an admin; it gets a new token.

    Raises:
        Conflict: if an admin exists and ``force`` is not set, or ``name`` is taken by a non-admin.

    Example:
        >>> from loopml.store.sql import open_store
        >>> made = bootstrap_admin(AuthService(open_store("sqlite://")))
        >>> made.user.role, made.secret.startswith("lml_")
        ('admin', True)
    """
    if auth.has_admin() and not force:
        raise Conflict(
            "This server already has an admin; `loopml users list` shows it. Use --force to add "
            "another admin (or a new token for an existing one)."
        )
    existing = next((u for u in auth.list_users() if u.name == name), None)
    if existing is None:
        user = auth.create_user(name, role=Role.ADMIN)
    elif existing.role != Role.ADMIN.value:
        raise Conflict(
            f"User {name!r} exists with role {existing.role!r}; choose another admin name (--name)."
        )
    else:
        user = auth.enable_user(name) if existing.is_disabled else existing
    token, secret = auth.create_token(user.name, name="bootstrap")
    return Bootstrap(user=user, token=token, secret=secret)
