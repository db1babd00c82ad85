"""SQL implementation of :class:`~loopml.store.repositories.DeploymentRepository`.

A change is a compare-and-set on the deployment's ``revision`` and writes its history event in
the same transaction, so two writers never both win and no change goes unrecorded.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidInput
from loopml.store._engine import Database
from loopml.store._schema import DEPLOYMENT_EVENTS, DEPLOYMENTS
from loopml.store._stamps import new_id, now_ms
from loopml.store.entities import DeploymentEvent, StoredDeployment
from loopml.store.missing import missing_deployment
from loopml.store.validation import check_json

__all__ = ["SqlDeploymentRepository"]

_DEPLOYMENTS = DEPLOYMENTS
_EVENTS = DEPLOYMENT_EVENTS


def _to_deployment(row: Any) -> StoredDeployment:
    return StoredDeployment(
        deployment_id=row.deployment_id,
        name=row.name,
        revision=int(row.revision),
        document=dict(row.document),
        created_at=int(row.created_at),
        created_by=row.created_by,
        updated_at=int(row.updated_at),
        updated_by=row.updated_by,
    )


class SqlDeploymentRepository:
    """Deployments and their history in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        name: str,
        document: Mapping[str, Any],
        *,
        actor: str | None,
        models: Sequence[str] = (),
        reason: str | None = None,
    ) -> StoredDeployment:
        """Insert a deployment at revision 1 with its ``create`` event.

        Raises:
            Conflict: a deployment of that name exists.
        """
        doc = check_json(document, what="deployment document")
        at = now_ms()
        deployment_id = new_id()
        try:
            with self._db.write() as conn:
                conn.execute(
                    _DEPLOYMENTS.insert().values(
                        deployment_id=deployment_id,
                        name=name,
                        revision=1,
                        document=doc,
                        created_at=at,
                        created_by=actor,
                        updated_at=at,
                        updated_by=actor,
                    )
                )
                self._insert_event(conn, deployment_id, 1, at, actor, "create", reason, models, {}, doc)
        except IntegrityError as err:
            raise Conflict(
                f"A deployment named {name!r} already exists; `loopml deploy show {name}` shows it, "
                f"`loopml deploy apply` changes it."
            ) from err
        return self.get(name)

    def get(self, name: str) -> StoredDeployment:
        found = self.find(name)
        if found is None:
            raise missing_deployment(name)
        return found

    def find(self, name: str) -> StoredDeployment | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_DEPLOYMENTS).where(_DEPLOYMENTS.c.name == name)).first()
        return None if row is None else _to_deployment(row)

    def list(self) -> builtins.list[StoredDeployment]:
        """Every deployment, by name."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(_DEPLOYMENTS).order_by(_DEPLOYMENTS.c.name)).all()
        return [_to_deployment(r) for r in rows]

    def update(
        self,
        name: str,
        document: Mapping[str, Any],
        *,
        expected_revision: int,
        actor: str | None,
        action: str,
        reason: str | None = None,
        models: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> StoredDeployment:
        """Replace the document if the revision is still ``expected_revision``; record the event.

        Raises:
            NotFound: no such deployment.
            Conflict: someone changed it since ``expected_revision`` (re-read and retry).
        """
        doc = check_json(document, what="deployment document")
        extra = check_json(details or {}, what="event details")
        at = now_ms()
        with self._db.write() as conn:
            row = conn.execute(
                sa.select(_DEPLOYMENTS.c.deployment_id, _DEPLOYMENTS.c.revision).where(
                    _DEPLOYMENTS.c.name == name
                )
            ).first()
            if row is None:
                raise missing_deployment(name)
            changed = conn.execute(
                _DEPLOYMENTS.update()
                .where(
                    _DEPLOYMENTS.c.deployment_id == row.deployment_id,
                    _DEPLOYMENTS.c.revision == expected_revision,
                )
                .values(revision=expected_revision + 1, document=doc, updated_at=at, updated_by=actor)
            ).rowcount
            if changed != 1:
                raise Conflict(
                    f"Deployment {name!r} changed (revision {row.revision}, expected {expected_revision}); "
                    "read it again and retry."
                )
            self._insert_event(
                conn, row.deployment_id, expected_revision + 1, at, actor, action, reason, models, extra, doc
            )
        return self.get(name)

    def record_event(
        self,
        name: str,
        *,
        actor: str | None,
        action: str,
        reason: str | None = None,
        models: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> DeploymentEvent:
        """Append an event that changes nothing (an alert, an analysis that held)."""
        extra = check_json(details or {}, what="event details")
        with self._db.write() as conn:
            row = conn.execute(
                sa.select(_DEPLOYMENTS.c.deployment_id, _DEPLOYMENTS.c.revision).where(
                    _DEPLOYMENTS.c.name == name
                )
            ).first()
            if row is None:
                raise missing_deployment(name)
            event_id = self._insert_event(
                conn,
                row.deployment_id,
                int(row.revision),
                now_ms(),
                actor,
                action,
                reason,
                models,
                extra,
                None,
            )
        return next(e for e in self.history(name) if e.event_id == event_id)

    def history(self, name: str, *, limit: int | None = None) -> builtins.list[DeploymentEvent]:
        """The deployment's events, oldest first (the newest ``limit`` when given)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InvalidInput(f"`limit` must be an integer >= 1. Got {limit!r:.20}.")
        with self._db.read() as conn:
            deployment_id = conn.execute(
                sa.select(_DEPLOYMENTS.c.deployment_id).where(_DEPLOYMENTS.c.name == name)
            ).scalar()
            if deployment_id is None:
                raise missing_deployment(name)
            query = (
                sa.select(_EVENTS)
                .where(_EVENTS.c.deployment_id == deployment_id)
                .order_by(_EVENTS.c.id.desc())
            )
            if limit is not None:
                query = query.limit(limit)
            rows = conn.execute(query).all()
        return [
            DeploymentEvent(
                event_id=int(r.id),
                deployment=name,
                revision=int(r.revision),
                at=int(r.at),
                actor=r.actor,
                action=r.action,
                reason=r.reason,
                models=tuple(r.models or ()),
                details=dict(r.details or {}),
                document=None if r.document is None else dict(r.document),
            )
            for r in reversed(rows)
        ]

    @staticmethod
    def _insert_event(
        conn: Connection,
        deployment_id: str,
        revision: int,
        at: int,
        actor: str | None,
        action: str,
        reason: str | None,
        models: Sequence[str],
        details: Mapping[str, Any],
        document: Mapping[str, Any] | None,
    ) -> int:
        result = conn.execute(
            _EVENTS.insert().values(
                deployment_id=deployment_id,
                revision=revision,
                at=at,
                actor=actor,
                action=action,
                reason=reason,
                models=list(models),
                details=dict(details),
                document=None if document is None else dict(document),
            )
        )
        key = result.inserted_primary_key
        assert key is not None  # an INSERT of one row always has one
        return int(key[0])
