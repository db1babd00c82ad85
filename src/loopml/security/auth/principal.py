"""Who is making a request: :class:`Principal`, the result of authentication."""

from __future__ import annotations

from dataclasses import dataclass

from loopml.security.auth.roles import Permission, Role, permissions_of

__all__ = ["LOCAL_PRINCIPAL", "Principal"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """An authenticated caller.

    Attributes:
        name: The user name (``"local"`` when the server runs without authentication).
        role: The user's role.
        user_id: The user's id (None for the local principal).
        token_id: The id of the token that authenticated the request (None when none was used).

    Example:
        >>> Principal(name="ana", role=Role.VIEWER).has(Permission.READ)
        True
    """

    name: str
    role: Role
    user_id: str | None = None
    token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """Whether the caller has the admin role (grants do not restrict admins)."""
        return self.role is Role.ADMIN

    def has(self, permission: Permission) -> bool:
        """Whether the caller's role holds ``permission`` (before any per-resource grant)."""
        return permission in permissions_of(self.role)

    @property
    def rate_key(self) -> str:
        """The key rate limits are counted under: the token, else the user name."""
        return f"token:{self.token_id}" if self.token_id else f"user:{self.name}"


#: The caller when the server runs with authentication switched off (loopback only).
LOCAL_PRINCIPAL = Principal(name="local", role=Role.ADMIN)
