"""SQL implementation of :class:`~loopml.store.repositories.AlertRepository`.

``open_key`` (deployment, rule and metric) is set while an alert is open and cleared when it
resolves; its unique constraint keeps two writers from opening the same alert twice, and the
unique (deployment, rule, metric, opened_at) makes recording an opening idempotent.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.store._engine import Database
from loopml.store._schema import ALERTS
from loopml.store._stamps import new_id, now_ms
from loopml.store.entities import StoredAlert
from loopml.store.validation import check_json

__all__ = ["SqlAlertRepository"]

_ALERTS = ALERTS
OPEN, RESOLVED = "open", "resolved"


def _open_key(deployment: str, rule: str, metric: str) -> str:
    return f"{deployment}\x1f{rule}\x1f{metric}"


def _to_alert(row: Any) -> StoredAlert:
    return StoredAlert(
        alert_id=row.alert_id,
        deployment=row.deployment,
        rule=row.rule,
        metric=row.metric,
        severity=row.severity,
        status=row.status,
        opened_at=int(row.opened_at),
        resolved_at=None if row.resolved_at is None else int(row.resolved_at),
        raised_at=int(row.raised_at),
        updated_at=int(row.updated_at),
        message=row.message,
        evidence=dict(row.evidence or {}),
        deliveries=tuple(dict(d) for d in row.deliveries or ()),
    )


class SqlAlertRepository:
    """Monitoring alerts in the SQL store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        *,
        deployment: str,
        rule: str,
        metric: str,
        severity: str,
        opened_at: int,
        message: str,
        evidence: Mapping[str, Any],
    ) -> StoredAlert:
        """Record a newly opened alert; the stored one when the same opening was recorded before.

        Raises:
            Conflict: another alert of that deployment, rule and metric is open (resolve it first).
        """
        doc = check_json(evidence, what="alert evidence")
        at = now_ms()
        key = _open_key(deployment, rule, metric)
        try:
            with self._db.write() as conn:
                alert_id = new_id()
                conn.execute(
                    _ALERTS.insert().values(
                        alert_id=alert_id,
                        deployment=deployment,
                        rule=rule,
                        metric=metric,
                        severity=severity,
                        status=OPEN,
                        open_key=key,
                        opened_at=opened_at,
                        resolved_at=None,
                        raised_at=at,
                        updated_at=at,
                        message=message,
                        evidence=doc,
                        deliveries=[],
                    )
                )
        except IntegrityError as err:
            same = self._find_opening(deployment, rule, metric, opened_at)
            if same is not None:
                return same
            raise Conflict(
                f"An alert {rule!r} on {metric!r} of deployment {deployment!r} is already open; "
                "resolve it before opening another."
            ) from err
        return self.get(alert_id)

    def _find_opening(self, deployment: str, rule: str, metric: str, opened_at: int) -> StoredAlert | None:
        c = _ALERTS.c
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(_ALERTS).where(
                    c.deployment == deployment, c.rule == rule, c.metric == metric, c.opened_at == opened_at
                )
            ).first()
        return None if row is None else _to_alert(row)

    def resolve(self, alert_id: str, *, resolved_at: int, evidence: Mapping[str, Any]) -> StoredAlert:
        """Mark an open alert resolved (a resolved one is returned unchanged)."""
        doc = check_json(evidence, what="alert evidence")
        with self._db.write() as conn:
            conn.execute(
                _ALERTS.update()
                .where(_ALERTS.c.alert_id == alert_id, _ALERTS.c.status == OPEN)
                .values(
                    status=RESOLVED, open_key=None, resolved_at=resolved_at, evidence=doc, updated_at=now_ms()
                )
            )
        return self.get(alert_id)

    def add_delivery(self, alert_id: str, delivery: Mapping[str, Any]) -> StoredAlert:
        """Append one channel's delivery attempt (outcome, status, error) to the alert."""
        item = check_json(delivery, what="alert delivery")
        with self._db.write() as conn:
            current = conn.execute(
                sa.select(_ALERTS.c.deliveries).where(_ALERTS.c.alert_id == alert_id)
            ).scalar()
            if current is None:
                raise self._missing(alert_id)
            conn.execute(
                _ALERTS.update()
                .where(_ALERTS.c.alert_id == alert_id)
                .values(deliveries=[*current, item], updated_at=now_ms())
            )
        return self.get(alert_id)

    def get(self, alert_id: str) -> StoredAlert:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_ALERTS).where(_ALERTS.c.alert_id == alert_id)).first()
        if row is None:
            raise self._missing(alert_id)
        return _to_alert(row)

    @staticmethod
    def _missing(alert_id: str) -> NotFound:
        return NotFound(f"No alert {alert_id!r}; list a deployment's alerts to find its id.")

    def find_open(self, deployment: str, rule: str, metric: str) -> StoredAlert | None:
        key = _open_key(deployment, rule, metric)
        with self._db.read() as conn:
            row = conn.execute(sa.select(_ALERTS).where(_ALERTS.c.open_key == key)).first()
        return None if row is None else _to_alert(row)

    def list(
        self, deployment: str | None = None, *, status: str | None = None, limit: int = 100
    ) -> builtins.list[StoredAlert]:
        """Alerts, newest opening first (of one deployment, in one status, when given)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput(f"`limit` must be an integer >= 1. Got {limit!r:.20}.")
        if status is not None and status not in (OPEN, RESOLVED):
            raise InvalidInput(f"`status` must be 'open' or 'resolved'. Got {status!r:.20}.")
        query = sa.select(_ALERTS)
        if deployment is not None:
            query = query.where(_ALERTS.c.deployment == deployment)
        if status is not None:
            query = query.where(_ALERTS.c.status == status)
        query = query.order_by(_ALERTS.c.opened_at.desc(), _ALERTS.c.rule, _ALERTS.c.metric).limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [_to_alert(r) for r in rows]
