"""SQL implementation of :class:`~loopml.store.repositories.IdentityRepository`.

Users, API tokens (only an HMAC of the secret is stored; computing it is the caller's job),
per-resource grants, the blobs each user uploaded (proof of possession) and the audit log.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store._engine import Database
from loopml.store._schema import AUDIT_EVENTS, BLOB_UPLOADS, GRANTS, TOKENS, USERS
from loopml.store._stamps import new_id, now_ms
from loopml.store.entities import AuditEvent, Grant, Token, User
from loopml.store.riders import Rider
from loopml.store.validation import check_key, shorten

__all__ = ["MAX_AUDIT_LIMIT", "SqlIdentityRepository"]

_USERS = USERS
_TOKENS = TOKENS
_GRANTS = GRANTS
_AUDIT = AUDIT_EVENTS
_UPLOADS = BLOB_UPLOADS
MAX_AUDIT_LIMIT = 10_000


def _audit_values(
    actor: str | None,
    action: str,
    result: str,
    target: str | None,
    client: str | None,
    status_code: int | None,
    details: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """An audit row's values but its time (long strings cut to their columns)."""
    return {
        "actor": None if actor is None else actor[:250],
        "action": action[:250],
        "target": None if target is None else target[:2000],
        "client": None if client is None else client[:64],
        "result": result[:20],
        "status_code": status_code,
        "details": dict(details or {}),
    }


#: Built once: a statement built per call costs more than the one-row write.
_INSERT_AUDIT = sa.insert(_AUDIT).returning(_AUDIT.c.id)


def _insert_audit_event(conn: Connection, values: dict[str, Any]) -> AuditEvent:
    event_id = conn.execute(_INSERT_AUDIT, values).scalar_one()
    return AuditEvent(event_id=int(event_id), **values)


def _no_user(name: str) -> NotFound:
    return NotFound(f"No user named {name!r}; `loopml users list` lists them.")


class SqlIdentityRepository:
    """Users, tokens, grants and audit events in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- users ---

    def create_user(self, name: str, *, role: str) -> User:
        """Create a user.

        Raises:
            Conflict: if the name is taken.
            InvalidInput: for a bad name.
        """
        check_key(name, kind="user name")
        user = User(user_id=new_id(), name=name, role=role, is_disabled=False, created_at=now_ms())
        try:
            with self._db.write() as conn:
                conn.execute(
                    sa.insert(_USERS).values(
                        user_id=user.user_id,
                        name=name,
                        role=role,
                        is_disabled=False,
                        created_at=user.created_at,
                    )
                )
        except IntegrityError as err:
            raise Conflict(f"A user named {name!r} already exists; choose another name.") from err
        return user

    def get_user(self, name: str) -> User:
        found = self.find_user(name)
        if found is None:
            raise _no_user(name)
        return found

    def find_user(self, name: str) -> User | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_USERS).where(_USERS.c.name == name)).first()
        return None if row is None else _to_user(row)

    def list_users(self, *, role: str | None = None) -> builtins.list[User]:
        query = sa.select(_USERS).order_by(_USERS.c.name)
        if role is not None:
            query = query.where(_USERS.c.role == role)
        with self._db.read() as conn:
            return [_to_user(r) for r in conn.execute(query)]

    def set_user_disabled(self, name: str, disabled: bool) -> User:
        with self._db.write() as conn:
            done = conn.execute(sa.update(_USERS).where(_USERS.c.name == name).values(is_disabled=disabled))
            if done.rowcount == 0:
                raise _no_user(name)
        return self.get_user(name)

    # --- tokens ---

    def create_token(
        self,
        *,
        token_id: str,
        user_name: str,
        secret_hash: str,
        name: str | None = None,
        expires_at: int | None = None,
    ) -> Token:
        """Store a token's record (its id and the hash of its secret, never the secret)."""
        if name is not None:
            check_key(name, kind="token name")
        created_at = now_ms()
        with self._db.write() as conn:
            user_id = conn.execute(sa.select(_USERS.c.user_id).where(_USERS.c.name == user_name)).scalar()
            if user_id is None:
                raise _no_user(user_name)
            conn.execute(
                sa.insert(_TOKENS).values(
                    token_id=token_id,
                    user_id=user_id,
                    name=name,
                    secret_hash=secret_hash,
                    created_at=created_at,
                    expires_at=expires_at,
                )
            )
        return Token(
            token_id=token_id, user_name=user_name, name=name, created_at=created_at, expires_at=expires_at
        )

    def find_credentials(self, token_id: str) -> tuple[Token, User, str] | None:
        """The token, its user and the stored secret hash (for authentication), or None."""
        query = (
            sa.select(
                _TOKENS,
                _USERS.c.name.label("user_name"),
                _USERS.c.role,
                _USERS.c.is_disabled,
                _USERS.c.created_at.label("user_created_at"),
            )
            .join(_USERS, _USERS.c.user_id == _TOKENS.c.user_id)
            .where(_TOKENS.c.token_id == token_id)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        user = User(
            user_id=row.user_id,
            name=row.user_name,
            role=row.role,
            is_disabled=row.is_disabled,
            created_at=row.user_created_at,
        )
        return _to_token(row), user, str(row.secret_hash)

    def get_token(self, token_id: str) -> Token:
        query = (
            sa.select(_TOKENS, _USERS.c.name.label("user_name"))
            .join(_USERS, _USERS.c.user_id == _TOKENS.c.user_id)
            .where(_TOKENS.c.token_id == token_id)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"No token with id {token_id!r}; `loopml tokens list` lists them.")
        return _to_token(row)

    def list_tokens(self, *, user_name: str | None = None) -> builtins.list[Token]:
        query = (
            sa.select(_TOKENS, _USERS.c.name.label("user_name"))
            .join(_USERS, _USERS.c.user_id == _TOKENS.c.user_id)
            .order_by(_TOKENS.c.created_at, _TOKENS.c.token_id)
        )
        if user_name is not None:
            query = query.where(_USERS.c.name == user_name)
        with self._db.read() as conn:
            return [_to_token(r) for r in conn.execute(query)]

    def revoke_token(self, token_id: str, *, at: int) -> Token:
        """Mark a token revoked (the first revocation time is kept)."""
        with self._db.write() as conn:
            conn.execute(
                sa.update(_TOKENS)
                .where(_TOKENS.c.token_id == token_id, _TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        return self.get_token(token_id)

    def touch_token(self, token_id: str, *, at: int) -> None:
        """Record that a token was used at ``at``."""
        with self._db.write() as conn:
            conn.execute(sa.update(_TOKENS).where(_TOKENS.c.token_id == token_id).values(last_used_at=at))

    # --- grants ---

    def set_grant(self, *, user_name: str, resource_kind: str, resource: str, level: str) -> Grant:
        """Give (or change) a user's access level on one resource."""
        check_key(resource, kind=f"{resource_kind} name")
        created_at = now_ms()
        with self._db.write() as conn:
            user_id = conn.execute(sa.select(_USERS.c.user_id).where(_USERS.c.name == user_name)).scalar()
            if user_id is None:
                raise _no_user(user_name)
            stmt = self._db.insert(_GRANTS).values(
                user_id=user_id,
                resource_kind=resource_kind,
                resource=resource,
                level=level,
                created_at=created_at,
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["user_id", "resource_kind", "resource"],
                    set_={"level": stmt.excluded.level},
                )
            )
        return Grant(
            user_name=user_name,
            resource_kind=resource_kind,
            resource=resource,
            level=level,
            created_at=created_at,
        )

    def delete_grant(self, *, user_name: str, resource_kind: str, resource: str) -> None:
        with self._db.write() as conn:
            user_id = conn.execute(sa.select(_USERS.c.user_id).where(_USERS.c.name == user_name)).scalar()
            if user_id is None:
                raise _no_user(user_name)
            conn.execute(
                sa.delete(_GRANTS).where(
                    _GRANTS.c.user_id == user_id,
                    _GRANTS.c.resource_kind == resource_kind,
                    _GRANTS.c.resource == resource,
                )
            )

    def list_grants(
        self, *, resource_kind: str | None = None, resource: str | None = None, user_name: str | None = None
    ) -> builtins.list[Grant]:
        query = (
            sa.select(_GRANTS, _USERS.c.name.label("user_name"))
            .join(_USERS, _USERS.c.user_id == _GRANTS.c.user_id)
            .order_by(_GRANTS.c.resource_kind, _GRANTS.c.resource, _USERS.c.name)
        )
        if resource_kind is not None:
            query = query.where(_GRANTS.c.resource_kind == resource_kind)
        if resource is not None:
            query = query.where(_GRANTS.c.resource == resource)
        if user_name is not None:
            query = query.where(_USERS.c.name == user_name)
        with self._db.read() as conn:
            return [
                Grant(
                    user_name=r.user_name,
                    resource_kind=r.resource_kind,
                    resource=r.resource,
                    level=r.level,
                    created_at=r.created_at,
                )
                for r in conn.execute(query)
            ]

    # --- blob uploads ---

    def record_upload(self, user_id: str, sha256: str) -> None:
        """Remember that the user ``user_id`` uploaded the bytes of the blob ``sha256``.

        Idempotent: recording the same upload again changes nothing (the first time is kept).

        Args:
            user_id: The uploader's user id.
            sha256: The hash of the stored blob.
        """
        stmt = self._db.insert(_UPLOADS).values(sha256=sha256, user_id=user_id, created_at=now_ms())
        with self._db.write() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["sha256", "user_id"]))

    def has_uploaded(self, user_id: str, sha256: str) -> bool:
        """Whether the user ``user_id`` uploaded the bytes of the blob ``sha256`` (one key lookup).

        Args:
            user_id: The user's id.
            sha256: The hash of the blob.

        Returns:
            True when :meth:`record_upload` recorded that upload.
        """
        query = sa.select(sa.literal(1)).where(_UPLOADS.c.sha256 == sha256, _UPLOADS.c.user_id == user_id)
        with self._db.read() as conn:
            return conn.execute(query).first() is not None

    # --- audit ---

    def add_audit_event(
        self,
        *,
        actor: str | None,
        action: str,
        result: str,
        target: str | None = None,
        client: str | None = None,
        status_code: int | None = None,
        details: Mapping[str, Any] | None = None,
        at: int | None = None,
    ) -> AuditEvent:
        """Append one audit event (values are stored as data; long strings are cut)."""
        values = _audit_values(actor, action, result, target, client, status_code, details)
        values["at"] = now_ms() if at is None else at
        with self._db.write() as conn:
            return _insert_audit_event(conn, values)

    def audit_event_rider(
        self,
        *,
        actor: str | None,
        action: str,
        result: str,
        target: str | None = None,
        client: str | None = None,
        status_code: int | None = None,
        details: Mapping[str, Any] | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> Rider:
        """An audit event appended by the next write transaction of the context that carries it.

        See :mod:`loopml.store.riders`: while the returned rider is carried, the first write
        transaction of that context appends this event (stamped with ``clock`` then) and commits
        it with its own changes; the rider's ``result`` is then the :class:`AuditEvent`. When no
        transaction committed it, ``take()`` says so and :meth:`add_audit_event` writes it instead.
        """
        values = _audit_values(actor, action, result, target, client, status_code, details)

        def insert(conn: Connection) -> AuditEvent:
            return _insert_audit_event(conn, {**values, "at": clock()})

        return Rider(owner=self._db, statements=insert)

    def set_audit_outcome(self, event_id: int, *, status_code: int | None, result: str) -> None:
        """Correct the status and result of an event written before its request was answered.

        For an event a :meth:`audit_event_rider` wrote with the status its request was expected to
        get, when the request was answered otherwise (a handler that failed after a write).
        """
        update = sa.update(_AUDIT).where(_AUDIT.c.id == event_id)
        with self._db.write() as conn:
            conn.execute(update.values(status_code=status_code, result=result[:20]))

    def list_audit_events(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEvent]:
        """Audit events, newest first, filtered by actor, action (exact or ``prefix.*``) and time."""
        if not 1 <= limit <= MAX_AUDIT_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_AUDIT_LIMIT}; got {limit}.")
        query = sa.select(_AUDIT).order_by(_AUDIT.c.at.desc(), _AUDIT.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(_AUDIT.c.actor == actor)
        if action is not None:
            if action.endswith(".*"):
                prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                query = query.where(_AUDIT.c.action.like(prefix + "%", escape="\\"))
            else:
                query = query.where(_AUDIT.c.action == shorten(action, 250))
        if since is not None:
            query = query.where(_AUDIT.c.at >= since)
        with self._db.read() as conn:
            return [
                AuditEvent(
                    event_id=int(r.id),
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    target=r.target,
                    client=r.client,
                    result=r.result,
                    status_code=r.status_code,
                    details=r.details or {},
                )
                for r in conn.execute(query)
            ]


def _to_user(row: Any) -> User:
    return User(
        user_id=row.user_id,
        name=row.name,
        role=row.role,
        is_disabled=bool(row.is_disabled),
        created_at=row.created_at,
    )


def _to_token(row: Any) -> Token:
    return Token(
        token_id=row.token_id,
        user_name=row.user_name,
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
