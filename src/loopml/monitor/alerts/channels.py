"""Where alerts go: the log, a webhook (JSON POST), and a Prometheus gauge for Alertmanager.

A channel never raises: it returns a :class:`Delivery` saying what happened, which the alert
service records on the alert. Events are ``firing`` (an alert opened) and ``resolved``.

Example:
    >>> from prometheus_client import generate_latest
    >>> from loopml.monitor.alerts.records import Alert, AlertStatus
    >>> from loopml.monitor.alerts.rules import Severity
    >>> from datetime import UTC, datetime
    >>> alert = Alert(alert_id="a1", deployment="churn", rule="drift", metric="drift.age",
    ...     severity=Severity.WARNING, status=AlertStatus.OPEN, opened_at=datetime(2026, 1, 1, tzinfo=UTC),
    ...     resolved_at=None, message="drift.age 0.3 above 0.1")
    >>> gauge = PrometheusChannel()
    >>> gauge.send(alert, event=FIRING).ok
    True
    >>> b'loopml_monitor_alert_active{deployment="churn",rule="drift",severity="warning"} 1.0' in (
    ...     generate_latest(gauge.registry))
    True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from prometheus_client import CollectorRegistry, Gauge

from loopml.errors import InvalidInput
from loopml.monitor.alerts.records import Alert
from loopml.monitor.alerts.rules import Severity

__all__ = [
    "FIRING",
    "RESOLVED",
    "Channel",
    "Delivery",
    "LogChannel",
    "PrometheusChannel",
    "WebhookChannel",
]

FIRING = "firing"
RESOLVED = "resolved"
_LEVELS = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING, Severity.CRITICAL: logging.ERROR}


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One channel's attempt to deliver one event of an alert."""

    channel: str
    event: str
    ok: bool
    attempts: int = 1
    status_code: int | None = None
    error: str | None = None

    def to_document(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "event": self.event,
            "ok": self.ok,
            "attempts": self.attempts,
            "status_code": self.status_code,
            "error": self.error,
        }


class Channel(Protocol):
    """Delivers alert events; never raises (failures come back as a :class:`Delivery`)."""

    @property
    def name(self) -> str: ...

    def send(self, alert: Alert, *, event: str) -> Delivery: ...


class LogChannel:
    """Logs each event on ``loopml.monitor.alerts`` at a level following the severity."""

    name = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger("loopml.monitor.alerts")

    def send(self, alert: Alert, *, event: str) -> Delivery:
        level = _LEVELS[alert.severity] if event == FIRING else logging.INFO
        self._logger.log(
            level,
            "alert %s %s: deployment=%s rule=%s metric=%s severity=%s: %s",
            event,
            alert.alert_id,
            alert.deployment,
            alert.rule,
            alert.metric,
            alert.severity.value,
            alert.message,
        )
        return Delivery(channel=self.name, event=event, ok=True)


class WebhookChannel:
    """POSTs ``{"event": ..., "alert": {...}}`` as JSON to a URL, retrying a bounded number of times.

    Connection errors, timeouts, 429 and 5xx answers are retried (``retries`` more attempts, waiting
    ``backoff_s`` doubled each time); other 4xx answers are not. The outcome is returned, never raised.

    Args:
        url: An ``http://`` or ``https://`` URL.
        timeout_s: Per attempt.
        retries: Attempts after the first.
        backoff_s: Wait before the first retry.
        headers: Extra headers (e.g. an authorization token).
        client: An httpx client to use (tests, shared pools); one is made per send otherwise.
        sleep: Waits between attempts.
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"Webhook `url` must start with http:// or https://. Got {url!r:.80}.")
        if not (0 < timeout_s <= 300):
            raise InvalidInput(f"Webhook `timeout_s` must be in (0, 300]. Got {timeout_s!r}.")
        if not (0 <= retries <= 10):
            raise InvalidInput(f"Webhook `retries` must be between 0 and 10. Got {retries!r}.")
        self._url, self._timeout, self._retries, self._backoff = url, timeout_s, retries, backoff_s
        self._headers = dict(headers or {})
        self._client, self._sleep = client, sleep

    def send(self, alert: Alert, *, event: str) -> Delivery:
        payload = {"event": event, "alert": alert.view()}
        if self._client is not None:
            return self._post(self._client, payload, event)
        with httpx.Client(timeout=self._timeout) as client:
            return self._post(client, payload, event)

    def _post(self, client: httpx.Client, payload: dict[str, Any], event: str) -> Delivery:
        error: str | None = None
        status: int | None = None
        attempts = 0
        for attempt in range(self._retries + 1):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            attempts += 1
            try:
                response = client.post(self._url, json=payload, headers=self._headers, timeout=self._timeout)
            except httpx.HTTPError as err:
                status, error = None, f"{type(err).__name__}: {err}"
                continue
            status = response.status_code
            if response.is_success:
                return Delivery(
                    channel=self.name, event=event, ok=True, attempts=attempts, status_code=status
                )
            error = f"HTTP {status}: {response.text[:200]}"
            if status != 429 and status < 500:
                break
        return Delivery(
            channel=self.name, event=event, ok=False, attempts=attempts, status_code=status, error=error
        )


class PrometheusChannel:
    """Keeps ``loopml_monitor_alert_active{deployment,rule,severity}`` = open alerts with those labels.

    Prometheus scrapes :attr:`registry` (the platform exposes it) and Alertmanager routes on it:
    ``loopml_monitor_alert_active > 0``.
    """

    name = "prometheus"

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._gauge = Gauge(
            "loopml_monitor_alert_active",
            "Open monitoring alerts, by deployment, rule and severity.",
            ["deployment", "rule", "severity"],
            registry=self.registry,
        )
        self._open: dict[tuple[str, str, str], set[str]] = {}

    def send(self, alert: Alert, *, event: str) -> Delivery:
        labels = (alert.deployment, alert.rule, alert.severity.value)
        ids = self._open.setdefault(labels, set())
        if event == FIRING:
            ids.add(alert.alert_id)
        else:
            ids.discard(alert.alert_id)
        self._gauge.labels(*labels).set(len(ids))
        return Delivery(channel=self.name, event=event, ok=True)

    def sync(self, open_alerts: Iterable[Alert]) -> None:
        """Set the gauge from the open alerts (e.g. read from the store when the platform starts)."""
        for labels in self._open:
            self._open[labels] = set()
        for alert in open_alerts:
            if alert.is_open:
                self._open.setdefault((alert.deployment, alert.rule, alert.severity.value), set()).add(
                    alert.alert_id
                )
        for labels, ids in self._open.items():
            self._gauge.labels(*labels).set(len(ids))
