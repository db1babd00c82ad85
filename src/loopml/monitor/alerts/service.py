"""The alert service: evaluate a deployment's windows against its rules, record and deliver alerts.

Evaluation is idempotent: the rules run over the windows given (a pure, deterministic timeline,
:func:`~loopml.monitor.alerts.engine.alert_timeline`) and the result is reconciled with the stored
alerts by identity (deployment, rule, metric, window it fired in). Calling it again with the same or
more windows records nothing twice; one alert per (deployment, rule, metric) is open at most.
Channels hear of alerts that are open after the evaluation (``firing``) and of stored alerts that
resolved (``resolved``); an alert that opened and resolved within old windows is recorded silently.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from loopml.monitor.records import WindowRecord
    >>> from loopml.store.sql import open_store
    >>> store = open_store("sqlite://")
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> windows = [WindowRecord(deployment="churn", model="churn", version="1",
    ...     start=t0 + timedelta(hours=i), end=t0 + timedelta(hours=i + 1), complete=True, rows=500,
    ...     metrics={"error_rate": 0.2 if i >= 2 else 0.0}) for i in range(4)]
    >>> result = AlertService(store.alerts).evaluate(windows)
    >>> [(a.rule, a.metric, a.status.value) for a in result.new]
    [('error-rate', 'error_rate', 'open')]
    >>> AlertService(store.alerts).evaluate(windows).new
    ()
    >>> store.close()
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from loopml.errors import Conflict
from loopml.monitor.alerts.channels import FIRING, RESOLVED, Channel, Delivery
from loopml.monitor.alerts.engine import AlertKey, Episode, alert_timeline
from loopml.monitor.alerts.records import Alert, AlertEvaluation, AlertStatus, from_ms, to_ms
from loopml.monitor.alerts.rules import AlertRules, Severity, default_rules
from loopml.monitor.records import WindowRecord
from loopml.store.entities import StoredAlert
from loopml.store.repositories import AlertRepository

__all__ = ["AlertService", "describe"]

_log = logging.getLogger(__name__)
_HISTORY = 10_000


def describe(episode: Episode) -> str:
    """A one-line message for an alert: what breached, by how much, for how long."""
    ev = episode.evidence
    value, threshold, baseline = ev.get("value"), ev.get("threshold"), ev.get("baseline")
    shown = "n/a" if value is None else f"{value:.4g}"
    match ev.get("comparison"):
        case "above":
            what = f"above {threshold:g}"
        case "below":
            what = f"below {threshold:g}"
        case "drop":
            what = (
                f"more than {threshold:g} below its baseline {baseline:.4g}"
                if baseline is not None
                else "dropped"
            )
        case _:
            what = (
                f"more than {threshold:g} above its baseline {baseline:.4g}"
                if baseline is not None
                else "rose"
            )
    windows = ev.get("for", 1)
    return (
        f"{episode.deployment}: {episode.metric} = {shown}, {what} for {windows} window(s) "
        f"(rule {episode.rule!r}, {episode.severity.value})"
    )


class AlertService:
    """Turns window records into stored, delivered alerts.

    Args:
        alerts: Where alerts are stored.
        rules: Each deployment's rules (default: :func:`default_rules` for every deployment).
        references: Each deployment's reference figures for ``baseline: reference`` rules, by metric.
        channels: Where alert events go.
    """

    def __init__(
        self,
        alerts: AlertRepository,
        *,
        rules: Callable[[str], AlertRules] | None = None,
        references: Callable[[str], Mapping[str, float]] | None = None,
        channels: Sequence[Channel] = (),
    ) -> None:
        self._repo = alerts
        self._rules = rules or (lambda _name: default_rules())
        self._references = references or (lambda _name: {})
        self._channels = tuple(channels)

    def evaluate(self, records: Sequence[WindowRecord]) -> AlertEvaluation:
        """Evaluate the windows (of one or several deployments) and record what changed.

        Args:
            records: Window records; pass a deployment's whole history, or a recent part of it
                at least as long as its longest ``for`` and baseline.

        Returns:
            The alerts recorded now, those resolved now, and those open afterwards.
        """
        by_deployment: dict[str, list[WindowRecord]] = {}
        for record in records:
            by_deployment.setdefault(record.deployment, []).append(record)
        new: list[Alert] = []
        resolved: list[Alert] = []
        open_: list[Alert] = []
        for name in sorted(by_deployment):
            n, r, o = self._evaluate_deployment(name, by_deployment[name])
            new += n
            resolved += r
            open_ += o
        return AlertEvaluation(new=tuple(new), resolved=tuple(resolved), open=tuple(open_))

    def raise_alert(
        self,
        deployment: str,
        *,
        rule: str,
        metric: str,
        severity: Severity,
        at: datetime,
        message: str,
        evidence: Mapping[str, Any],
    ) -> Alert:
        """Record and deliver an alert raised by an event (a failed retraining), not by a window rule.

        While one of the same deployment, rule and metric is open, that one is returned (deduplicated).
        """
        current = self._repo.find_open(deployment, rule, metric)
        if current is not None:
            return Alert.from_stored(current)
        stored = self._repo.add(
            deployment=deployment,
            rule=rule,
            metric=metric,
            severity=severity.value,
            opened_at=to_ms(at),
            message=message,
            evidence=evidence,
        )
        return self._deliver(Alert.from_stored(stored), FIRING)

    def resolve_alert(self, deployment: str, *, rule: str, metric: str, at: datetime) -> Alert | None:
        """Resolve the open alert of that deployment, rule and metric (None when none is open)."""
        current = self._repo.find_open(deployment, rule, metric)
        if current is None:
            return None
        done = self._repo.resolve(current.alert_id, resolved_at=to_ms(at), evidence=dict(current.evidence))
        return self._deliver(Alert.from_stored(done), RESOLVED)

    def list(
        self, deployment: str | None = None, *, status: AlertStatus | None = None, limit: int = 100
    ) -> builtins.list[Alert]:
        """Stored alerts, newest first."""
        found = self._repo.list(deployment, status=None if status is None else status.value, limit=limit)
        return [Alert.from_stored(a) for a in found]

    def _evaluate_deployment(
        self, name: str, records: builtins.list[WindowRecord]
    ) -> tuple[builtins.list[Alert], builtins.list[Alert], builtins.list[Alert]]:
        rules = self._rules(name)
        first_end = to_ms(min(r.end for r in records))
        stored = self._repo.list(name, limit=_HISTORY)
        by_opening = {(a.rule, a.metric, a.opened_at): a for a in stored}
        open_by_key = {(a.rule, a.metric): a for a in stored if a.status == AlertStatus.OPEN}
        last_resolved: dict[AlertKey, int] = {}
        for a in stored:
            if a.resolved_at is not None:
                key = (a.rule, a.metric)
                last_resolved[key] = max(last_resolved.get(key, a.resolved_at), a.resolved_at)
        episodes = alert_timeline(
            rules.rules,
            records,
            references=self._references(name),
            open_since={k: from_ms(a.opened_at) for k, a in open_by_key.items() if a.opened_at < first_end},
            resolved_at={k: from_ms(v) for k, v in last_resolved.items() if v < first_end},
        )
        new: builtins.list[Alert] = []
        resolved: builtins.list[Alert] = []
        for episode in episodes:
            rule = rules.get(episode.rule)
            assert rule is not None  # the timeline only holds episodes of these rules
            same = by_opening.get((episode.rule, episode.metric, to_ms(episode.opened)))
            current = open_by_key.get(episode.key)
            if same is None and current is None:
                created = self._record(episode)
                by_opening[(episode.rule, episode.metric, created.opened_at)] = created
                if created.status == AlertStatus.OPEN:
                    open_by_key[episode.key] = created
                new.append(Alert.from_stored(created))
                continue
            target = current if same is None or same.status == AlertStatus.RESOLVED else same
            if target is not None and target.status == AlertStatus.OPEN and episode.resolved is not None:
                done = self._repo.resolve(
                    target.alert_id, resolved_at=to_ms(episode.resolved), evidence=_merged(target, episode)
                )
                open_by_key.pop(episode.key, None)
                resolved.append(self._deliver(Alert.from_stored(done), RESOLVED))
        delivered = [self._deliver(a, FIRING) if a.is_open else a for a in new]
        still_open = [Alert.from_stored(a) for a in self._repo.list(name, status="open", limit=_HISTORY)]
        return delivered, resolved, sorted(still_open, key=lambda a: (a.opened_at, a.rule, a.metric))

    def _record(self, episode: Episode) -> StoredAlert:
        try:
            created = self._repo.add(
                deployment=episode.deployment,
                rule=episode.rule,
                metric=episode.metric,
                severity=episode.severity.value,
                opened_at=to_ms(episode.opened),
                message=describe(episode),
                evidence=dict(episode.evidence),
            )
        except Conflict:  # another evaluation opened it meanwhile: one open alert per key
            current = self._repo.find_open(episode.deployment, episode.rule, episode.metric)
            if current is None:
                raise
            return current
        if episode.resolved is not None and created.status == AlertStatus.OPEN:
            created = self._repo.resolve(
                created.alert_id, resolved_at=to_ms(episode.resolved), evidence=dict(episode.evidence)
            )
        return created

    def _deliver(self, alert: Alert, event: str) -> Alert:
        stored: StoredAlert | None = None
        for channel in self._channels:
            try:
                delivery = channel.send(alert, event=event)
            except Exception as err:  # a channel must never stop the evaluation
                delivery = Delivery(
                    channel=channel.name, event=event, ok=False, error=f"{type(err).__name__}: {err}"
                )
            if not delivery.ok:
                _log.warning("alert %s: %s delivery failed: %s", alert.alert_id, channel.name, delivery.error)
            stored = self._repo.add_delivery(alert.alert_id, delivery.to_document())
        return alert if stored is None else Alert.from_stored(stored)


def _merged(alert: StoredAlert, episode: Episode) -> dict[str, Any]:
    return {**dict(alert.evidence), **{k: v for k, v in episode.evidence.items() if k == "resolved_value"}}
