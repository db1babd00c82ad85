"""An alert as the monitoring domain sees it, and what one evaluation changed.

Example:
    >>> from loopml.store.entities import StoredAlert
    >>> a = Alert.from_stored(StoredAlert(alert_id="a1", deployment="churn", rule="drift",
    ...     metric="drift.age", severity="warning", status="open", opened_at=0, raised_at=5,
    ...     updated_at=5, message="drift.age 0.3 above 0.1", evidence={"value": 0.3}))
    >>> a.is_open, a.opened_at.year, a.severity
    (True, 1970, <Severity.WARNING: 'warning'>)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loopml.monitor.alerts.rules import Severity
from loopml.store.entities import StoredAlert

__all__ = ["Alert", "AlertEvaluation", "AlertStatus", "from_ms", "to_ms"]


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


def to_ms(at: datetime) -> int:
    """Milliseconds since the epoch (a naive datetime is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A stored alert: rule, metric, how bad, when it fired and resolved (window ends), and the evidence.

    Attributes:
        evidence: ``comparison``, ``threshold``, ``baseline``, the breaching ``windows`` and ``value``.
        deliveries: Each channel's attempt to deliver it (``channel``, ``event``, ``ok``, ``error`` ...).
    """

    alert_id: str
    deployment: str
    rule: str
    metric: str
    severity: Severity
    status: AlertStatus
    opened_at: datetime
    resolved_at: datetime | None
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    deliveries: tuple[Mapping[str, Any], ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status is AlertStatus.OPEN

    @classmethod
    def from_stored(cls, stored: StoredAlert) -> Alert:
        return cls(
            alert_id=stored.alert_id,
            deployment=stored.deployment,
            rule=stored.rule,
            metric=stored.metric,
            severity=Severity(stored.severity),
            status=AlertStatus(stored.status),
            opened_at=from_ms(stored.opened_at),
            resolved_at=None if stored.resolved_at is None else from_ms(stored.resolved_at),
            message=stored.message,
            evidence=dict(stored.evidence),
            deliveries=stored.deliveries,
        )

    def view(self) -> dict[str, Any]:
        """The JSON view (CLI ``--json``, API, webhook payload)."""
        return {
            "alert_id": self.alert_id,
            "deployment": self.deployment,
            "rule": self.rule,
            "metric": self.metric,
            "severity": self.severity.value,
            "status": self.status.value,
            "opened_at": self.opened_at.isoformat(),
            "resolved_at": None if self.resolved_at is None else self.resolved_at.isoformat(),
            "message": self.message,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEvaluation:
    """What one evaluation changed.

    Attributes:
        new: Alerts recorded now (open, or already resolved within the windows given).
        resolved: Alerts open before that resolved now.
        open: Every alert of the deployments evaluated that is open afterwards.
    """

    new: tuple[Alert, ...] = ()
    resolved: tuple[Alert, ...] = ()
    open: tuple[Alert, ...] = ()
