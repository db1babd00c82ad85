"""SQL implementation of :class:`~loopml.store.repositories.RetrainRepository`."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from loopml.errors import NotFound
from loopml.store._engine import Database
from loopml.store._schema import RETRAIN_STEPS, RETRAINS
from loopml.store._stamps import new_id, now_ms
from loopml.store.entities import RetrainStep, StoredRetrain
from loopml.store.validation import check_json

__all__ = ["SqlRetrainRepository"]

_RUNS = RETRAINS
_STEPS = RETRAIN_STEPS


def _to_retrain(row: Any) -> StoredRetrain:
    return StoredRetrain(
        retrain_id=row.retrain_id,
        deployment=row.deployment,
        state=row.state,
        attempt=int(row.attempt),
        retry_of=row.retry_of,
        started_at=int(row.started_at),
        recorded_at=int(row.recorded_at),
        finished_at=None if row.finished_at is None else int(row.finished_at),
        span_start=int(row.span_start),
        span_end=int(row.span_end),
        triggers=tuple(dict(t) for t in row.triggers or ()),
        alert_ids=tuple(row.alert_ids or ()),
        champion=row.champion,
        candidate=row.candidate,
        reason=row.reason,
    )


def _to_step(row: Any) -> RetrainStep:
    return RetrainStep(
        step_id=int(row.id),
        retrain_id=row.retrain_id,
        at=int(row.at),
        kind=row.kind,
        outcome=row.outcome,
        details=dict(row.details or {}),
    )


class SqlRetrainRepository:
    """Retraining runs and their steps in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        deployment: str,
        started_at: int,
        span_start: int,
        span_end: int,
        triggers: Sequence[Mapping[str, Any]],
        alert_ids: Sequence[str],
        champion: str | None,
        attempt: int = 1,
        retry_of: str | None = None,
    ) -> StoredRetrain:
        """Record a retraining that starts now (state ``running``)."""
        checked = check_json({"triggers": list(triggers)}, what="retrain triggers")["triggers"]
        retrain_id = new_id()
        with self._db.write() as conn:
            conn.execute(
                _RUNS.insert().values(
                    retrain_id=retrain_id,
                    deployment=deployment,
                    state="running",
                    attempt=attempt,
                    retry_of=retry_of,
                    started_at=started_at,
                    recorded_at=now_ms(),
                    finished_at=None,
                    span_start=span_start,
                    span_end=span_end,
                    triggers=checked,
                    alert_ids=list(alert_ids),
                    champion=champion,
                    candidate=None,
                    reason=None,
                )
            )
        return self.get(retrain_id)

    def update(
        self,
        retrain_id: str,
        *,
        state: str,
        candidate: str | None = None,
        reason: str | None = None,
        finished_at: int | None = None,
    ) -> StoredRetrain:
        """Move a retraining to ``state`` (candidate, reason and finish time are kept unless given)."""
        values: dict[str, Any] = {"state": state}
        for name, value in (("candidate", candidate), ("reason", reason), ("finished_at", finished_at)):
            if value is not None:
                values[name] = value
        with self._db.write() as conn:
            changed = conn.execute(_RUNS.update().where(_RUNS.c.retrain_id == retrain_id).values(**values))
            if changed.rowcount != 1:
                raise self._missing(retrain_id)
        return self.get(retrain_id)

    def add_step(
        self, retrain_id: str, *, kind: str, outcome: str, details: Mapping[str, Any] | None = None
    ) -> RetrainStep:
        """Append one step to a retraining's record."""
        doc = check_json(details or {}, what="retrain step details")
        self.get(retrain_id)
        with self._db.write() as conn:
            result = conn.execute(
                _STEPS.insert().values(
                    retrain_id=retrain_id, at=now_ms(), kind=kind, outcome=outcome, details=doc
                )
            )
            key = result.inserted_primary_key
            assert key is not None  # an INSERT of one row always has one
            row = conn.execute(sa.select(_STEPS).where(_STEPS.c.id == key[0])).one()
        return _to_step(row)

    def get(self, retrain_id: str) -> StoredRetrain:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_RUNS).where(_RUNS.c.retrain_id == retrain_id)).first()
        if row is None:
            raise self._missing(retrain_id)
        return _to_retrain(row)

    @staticmethod
    def _missing(retrain_id: str) -> NotFound:
        return NotFound(f"No retraining {retrain_id!r}; list a deployment's retrainings to find its id.")

    def list(
        self, deployment: str, *, since: int | None = None, state: str | None = None
    ) -> builtins.list[StoredRetrain]:
        """Retraining runs of ``deployment``, oldest first."""
        query = sa.select(_RUNS).where(_RUNS.c.deployment == deployment)
        if since is not None:
            query = query.where(_RUNS.c.started_at >= since)
        if state is not None:
            query = query.where(_RUNS.c.state == state)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(_RUNS.c.started_at, _RUNS.c.recorded_at)).all()
        return [_to_retrain(r) for r in rows]

    def steps(self, retrain_id: str) -> builtins.list[RetrainStep]:
        """The retraining's steps, in order."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_STEPS).where(_STEPS.c.retrain_id == retrain_id).order_by(_STEPS.c.id)
            ).all()
        return [_to_step(r) for r in rows]
