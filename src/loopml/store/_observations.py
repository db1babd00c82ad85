"""SQL implementation of :class:`~loopml.store.repositories.ObservationRepository`.

Each replica keeps one row per deployment and analysis window (its latest observations, replaced
on each publication); rows are read while unexpired and deleted once expired. The lease is one row
per deployment, taken when absent, expired, or already held by the same holder in one
conditional upsert (``INSERT ... ON CONFLICT DO UPDATE ... WHERE``), so two replicas never hold
it at once. Expiry times are the writers' clocks
(milliseconds since the epoch).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from loopml.store._engine import Database
from loopml.store._schema import DEPLOYMENT_LEASES, DEPLOYMENT_OBSERVATIONS
from loopml.store._stamps import now_ms

__all__ = ["SqlObservationRepository"]

_OBS = DEPLOYMENT_OBSERVATIONS
_LEASES = DEPLOYMENT_LEASES


class SqlObservationRepository:
    """Shared observations and analysis leases in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def publish(
        self, deployment: str, window: str, replica: str, document: Mapping[str, Any], *, ttl_s: float
    ) -> None:
        """Store ``replica``'s observations of ``window`` (replacing its earlier ones) until ``ttl_s``
        from now; rows of any deployment that have expired are deleted on the way."""
        at = now_ms()
        row = {"document": dict(document), "expires_at": at + int(ttl_s * 1000)}
        upsert = (
            self._db.insert(_OBS)
            .values(deployment=deployment, window_id=window, replica=replica, **row)
            .on_conflict_do_update(index_elements=["deployment", "window_id", "replica"], set_=row)
        )
        with self._db.write() as conn:
            conn.execute(_OBS.delete().where(_OBS.c.expires_at < at))
            conn.execute(upsert)

    def collect(self, deployment: str, window: str) -> builtins.list[dict[str, Any]]:
        """Every replica's unexpired observations of ``window``, ordered by replica."""
        query = (
            sa.select(_OBS.c.document)
            .where(_OBS.c.deployment == deployment, _OBS.c.window_id == window, _OBS.c.expires_at >= now_ms())
            .order_by(_OBS.c.replica)
        )
        with self._db.read() as conn:
            return [dict(doc) for doc in conn.execute(query).scalars()]

    def acquire(self, deployment: str, holder: str, *, ttl_s: float) -> bool:
        """Take (or extend) the lease of ``deployment`` for ``ttl_s``; False when another holds it."""
        at = now_ms()
        values = {"holder": holder, "expires_at": at + int(ttl_s * 1000)}
        table = _LEASES
        take = (
            self._db.insert(table)
            .values(deployment=deployment, **values)
            .on_conflict_do_update(
                index_elements=["deployment"],
                set_=values,
                where=(table.c.holder == holder) | (table.c.expires_at < at),
            )
            .returning(table.c.holder)
        )
        with self._db.write() as conn:
            return conn.execute(take).first() is not None

    def release(self, deployment: str, holder: str) -> None:
        """Give the lease of ``deployment`` back, if ``holder`` holds it."""
        with self._db.write() as conn:
            conn.execute(
                _LEASES.delete().where(_LEASES.c.deployment == deployment, _LEASES.c.holder == holder)
            )
