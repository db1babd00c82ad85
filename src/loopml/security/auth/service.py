"""The authentication and authorisation service: users, tokens, grants and the checks.

Example:
    >>> from loopml.store.sql import open_store
    >>> auth = AuthService(open_store("sqlite://"))
    >>> _ = auth.create_user("ana", role="editor")
    >>> token, secret = auth.create_token("ana")
    >>> principal = auth.authenticate(secret)
    >>> principal.name, principal.role
    ('ana', <Role.EDITOR: 'editor'>)
    >>> auth.authorize(principal, Permission.RUNS_WRITE)
    >>> auth.authorize(principal, Permission.USERS_MANAGE)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    loopml.errors.Forbidden: Permission 'users.manage' is needed; user 'ana' has role 'editor', ...
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from loopml.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from loopml.security.auth.grants import GrantLevel, Resource, ResourceKind, UngrantedAccess, parse_grant_level
from loopml.security.auth.principal import Principal
from loopml.security.auth.roles import ROLE_PERMISSIONS, Permission, Role, parse_role
from loopml.security.auth.tokens import hash_secret, issue_token, parse_token, secret_matches
from loopml.store.entities import Grant, Token, User
from loopml.store.repositories import IdentityStore

__all__ = ["AuthService"]

#: ``last_used_at`` is written at most this often per token (milliseconds).
TOUCH_INTERVAL_MS = 60_000
_DUMMY_ID = "0" * 32


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="seconds")


class AuthService:
    """Users, API tokens, grants, and the two checks every request goes through.

    Args:
        store: A store with an ``identity`` repository (and ``experiments`` to name grants).
        pepper: Optional server secret mixed into token hashes; every server sharing the store
            needs the same one.
        clock: Milliseconds since the epoch (tests inject their own).
        ungranted: What callers without a grant may do on ungranted resources (see
            :mod:`loopml.security.auth.grants`); ``read`` by default.
    """

    def __init__(
        self,
        store: IdentityStore,
        *,
        pepper: str | bytes | None = None,
        clock: Callable[[], int] = _now_ms,
        ungranted: UngrantedAccess | str = UngrantedAccess.READ,
    ) -> None:
        self._store = store
        self._identity = store.identity
        self._pepper = pepper.encode() if isinstance(pepper, str) else pepper
        self._clock = clock
        self._ungranted = _parse_ungranted(ungranted)

    @property
    def ungranted(self) -> UngrantedAccess:
        """What callers without a grant may do on ungranted resources."""
        return self._ungranted

    # --- users ---

    def create_user(self, name: str, *, role: Role | str) -> User:
        """Create a user with a role.

        Raises:
            Conflict: if the name is taken.
            InvalidInput: for a bad name or an unknown role.
        """
        return self._identity.create_user(name, role=parse_role(str(role)).value)

    def disable_user(self, name: str) -> User:
        """Disable a user: their tokens stop working at once (they stay listed)."""
        return self._identity.set_user_disabled(name, True)

    def enable_user(self, name: str) -> User:
        """Enable a disabled user again."""
        return self._identity.set_user_disabled(name, False)

    def list_users(self) -> list[User]:
        """Every user, by name."""
        return self._identity.list_users()

    def has_admin(self) -> bool:
        """Whether an enabled admin user exists."""
        return any(not u.is_disabled for u in self._identity.list_users(role=Role.ADMIN.value))

    # --- tokens ---

    def create_token(
        self, user_name: str, *, name: str | None = None, expires_in: dt.timedelta | None = None
    ) -> tuple[Token, str]:
        """Make a token for a user.

        Returns:
            The token's record and its text ``lml_<id>_<secret>``: show it once, it is not kept.

        Raises:
            NotFound: for an unknown user.
            InvalidInput: for a non-positive ``expires_in``.
        """
        if expires_in is not None and expires_in.total_seconds() <= 0:
            raise InvalidInput(f"expires_in must be positive; got {expires_in}.")
        issued = issue_token()
        expires_at = None if expires_in is None else self._clock() + int(expires_in.total_seconds() * 1000)
        token = self._identity.create_token(
            token_id=issued.token_id,
            user_name=user_name,
            secret_hash=hash_secret(issued.token_id, issued.secret, pepper=self._pepper),
            name=name,
            expires_at=expires_at,
        )
        return token, issued.plaintext

    def revoke_token(self, token_id: str) -> Token:
        """Revoke a token (accepts the id or the whole token text); it stops working at once."""
        if token_id.startswith("lml_"):
            token_id = token_id.split("_")[1]
        return self._identity.revoke_token(token_id, at=self._clock())

    def list_tokens(self, *, user_name: str | None = None) -> list[Token]:
        """Token records (never secrets), optionally of one user."""
        return self._identity.list_tokens(user_name=user_name)

    def authenticate(self, bearer: str) -> Principal:
        """The principal a bearer token stands for.

        Raises:
            Unauthorized: for a malformed, unknown, wrong, revoked or expired token, or a
                disabled user; the message says which and what to do.
        """
        token_id, secret = parse_token(bearer)
        found = self._identity.find_credentials(token_id)
        if found is None:
            secret_matches(_DUMMY_ID, secret, "0" * 64, pepper=self._pepper)  # same work either way
            raise Unauthorized(
                f"Unknown token {token_id}: it was never issued here or its user was deleted. "
                "Create a new one with `loopml tokens create --user NAME`."
            )
        token, user, stored = found
        if not secret_matches(token_id, secret, stored, pepper=self._pepper):
            raise Unauthorized(
                f"Token {token_id} has a wrong secret; use the token exactly as it was printed."
            )
        now = self._clock()
        if token.revoked_at is not None:
            raise Unauthorized(
                f"Token {token_id} was revoked at {_iso(token.revoked_at)}; create a new one with "
                "`loopml tokens create`."
            )
        if token.expires_at is not None and token.expires_at <= now:
            raise Unauthorized(
                f"Token {token_id} expired at {_iso(token.expires_at)}; create a new one with "
                "`loopml tokens create --expires-in 30d`."
            )
        if user.is_disabled:
            raise Unauthorized(f"User {user.name!r} is disabled; ask an admin to enable the account.")
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL_MS:
            self._identity.touch_token(token_id, at=now)
        return Principal(name=user.name, role=parse_role(user.role), user_id=user.user_id, token_id=token_id)

    # --- grants and authorisation ---

    def grant(self, user_name: str, resource: Resource, level: GrantLevel | str) -> Grant:
        """Give a user access to a resource, restricting it to granted users (see ``grants``).

        An experiment may be named by id or name; it is stored by id.
        """
        resource = self._canonical(resource)
        self._identity.get_user(user_name)
        return self._identity.set_grant(
            user_name=user_name,
            resource_kind=resource.kind.value,
            resource=resource.key,
            level=parse_grant_level(str(level)).value,
        )

    def revoke_grant(self, user_name: str, resource: Resource) -> None:
        """Remove a user's grant on a resource (the resource is open again once no grant is left)."""
        resource = self._canonical(resource)
        self._identity.delete_grant(
            user_name=user_name, resource_kind=resource.kind.value, resource=resource.key
        )

    def list_grants(self, *, user_name: str | None = None) -> list[Grant]:
        """Grants, optionally of one user."""
        return self._identity.list_grants(user_name=user_name)

    def authorize(
        self, principal: Principal, permission: Permission, resource: Resource | None = None
    ) -> None:
        """Allow or refuse ``permission`` (on ``resource``) for ``principal``.

        The role must hold the permission; on a resource, the caller's grant, or the resource
        being restricted or ungranted, decides too (admins excepted). See
        :mod:`loopml.security.auth.grants`.

        Raises:
            Forbidden: naming the permission, the resource and what would allow it.
        """
        if not principal.has(permission):
            holders = ", ".join(r.value for r in Role if permission in ROLE_PERMISSIONS[r])
            on = f" on {resource}" if resource is not None else ""
            raise Forbidden(
                f"Permission '{permission.value}' is needed{on}; user {principal.name!r} has role "
                f"'{principal.role.value}', which does not hold it. Roles that do: {holders}."
            )
        if resource is None or principal.is_admin:
            return
        grants = self._identity.list_grants(resource_kind=resource.kind.value, resource=resource.key)
        mine = next((g for g in grants if g.user_name == principal.name), None)
        if mine is not None:
            level = GrantLevel(mine.level)
            if not level.allows(permission):
                raise Forbidden(
                    f"Permission '{permission.value}' on {resource} is refused: {principal.name!r} has "
                    f"a '{level.value}' grant on it, which does not allow it."
                )
            return
        ask = f"`loopml users grant {principal.name} --{resource.kind.value} {resource.key} --level"
        if any(GrantLevel(g.level).restricts for g in grants):
            raise Forbidden(
                f"Permission '{permission.value}' on {resource} is refused: it is restricted to "
                f"granted users and {principal.name!r} has no grant. Ask an admin: {ask} read`."
            )
        if not self._ungranted.allows(permission, role=principal.role):
            raise Forbidden(
                f"Permission '{permission.value}' on {resource} is refused: {principal.name!r} holds "
                f"no grant on it, and without one role '{principal.role.value}' may "
                f"{_UNGRANTED_WORDS[self._ungranted]} (server setting ungranted_access="
                f"'{self._ungranted.value}'). Ask its creator or an admin: {ask} write`."
            )

    def may_read(self, principal: Principal, resource: Resource) -> bool:
        """Whether ``principal`` may read ``resource`` (one it may not is hidden from it)."""
        try:
            self.authorize(principal, Permission.READ, resource)
        except Forbidden:
            return False
        return True

    def grant_creator(self, principal: Principal, resource: Resource) -> Grant | None:
        """Give the creator of ``resource`` an ``owner`` grant, unless it holds a grant already.

        Nothing is given to a caller that is no user (the local admin of a server without auth).
        """
        if principal.user_id is None:
            return None
        held = self._identity.list_grants(
            user_name=principal.name, resource_kind=resource.kind.value, resource=resource.key
        )
        if held:
            return None
        return self._identity.set_grant(
            user_name=principal.name,
            resource_kind=resource.kind.value,
            resource=resource.key,
            level=GrantLevel.OWNER.value,
        )

    def _canonical(self, resource: Resource) -> Resource:
        if resource.kind is not ResourceKind.EXPERIMENT:
            return resource
        experiments = self._store.experiments
        try:
            return Resource(kind=resource.kind, key=experiments.get(resource.key).experiment_id)
        except NotFound:
            found = experiments.find_by_name(resource.key)
            if found is None:
                raise NotFound(
                    f"No experiment with id or name {resource.key!r}; `loopml experiments list` lists them."
                ) from None
            return Resource(kind=resource.kind, key=found.experiment_id)


_UNGRANTED_WORDS = {
    UngrantedAccess.NONE: "not even read it",
    UngrantedAccess.READ: "only read it",
    UngrantedAccess.WRITE: "use its role",
}


def _parse_ungranted(value: UngrantedAccess | str) -> UngrantedAccess:
    try:
        return UngrantedAccess(str(value).strip().lower())
    except ValueError:
        valid = ", ".join(u.value for u in UngrantedAccess)
        raise InvalidInput(f"Unknown ungranted_access {value!r}; choose one of: {valid}.") from None
