"""Channels: a real webhook receiver on 127.0.0.1 (payload, retries, timeouts), the log, the gauge."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from loopml.errors import InvalidInput
from loopml.monitor.alerts import (
    FIRING,
    RESOLVED,
    AlertService,
    LogChannel,
    PrometheusChannel,
    WebhookChannel,
)
from loopml.monitor.alerts.records import Alert, AlertStatus
from loopml.monitor.alerts.rules import Severity
from loopml.store.sql import open_store
from tests.monitor.alerts._windows import window


class Receiver:
    """An HTTP server on 127.0.0.1 that answers with the queued statuses (then 200) and keeps bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.delay_s = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                if receiver.delay_s:
                    threading.Event().wait(receiver.delay_s)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def alert(**changes: Any) -> Alert:
    fields: dict[str, Any] = dict(
        alert_id="a1",
        deployment="churn",
        rule="drift",
        metric="drift.age",
        severity=Severity.WARNING,
        status=AlertStatus.OPEN,
        opened_at=datetime(2026, 3, 1, tzinfo=UTC),
        resolved_at=None,
        message="churn: drift.age = 0.3, above 0.1",
        evidence={"value": 0.3, "threshold": 0.1},
    )
    fields.update(changes)
    return Alert(**fields)


def test_webhook_posts_the_alert_as_json(receiver: Receiver) -> None:
    delivery = WebhookChannel(receiver.url).send(alert(), event=FIRING)
    assert (delivery.ok, delivery.status_code, delivery.attempts) == (True, 200, 1)
    [body] = receiver.bodies
    assert body["event"] == "firing"
    assert body["alert"]["rule"] == "drift" and body["alert"]["evidence"] == {"value": 0.3, "threshold": 0.1}
    assert body["alert"]["opened_at"] == "2026-03-01T00:00:00+00:00"


def test_webhook_retries_server_errors_a_bounded_number_of_times(receiver: Receiver) -> None:
    waits: list[float] = []
    receiver.statuses = [503, 500]
    ok = WebhookChannel(receiver.url, retries=2, backoff_s=0.1, sleep=waits.append).send(
        alert(), event=FIRING
    )
    assert (ok.ok, ok.attempts) == (True, 3) and waits == [0.1, 0.2]
    receiver.statuses = [503] * 5
    failed = WebhookChannel(receiver.url, retries=1, sleep=lambda _: None).send(alert(), event=RESOLVED)
    assert (failed.ok, failed.attempts, failed.status_code) == (False, 2, 503)
    assert failed.error is not None and "HTTP 503" in failed.error
    receiver.statuses = [404]
    refused = WebhookChannel(receiver.url, retries=3, sleep=lambda _: None).send(alert(), event=FIRING)
    assert (refused.ok, refused.attempts) == (False, 1)  # a client error is not retried


def test_webhook_timeouts_and_unreachable_receivers_are_recorded_not_raised(receiver: Receiver) -> None:
    receiver.delay_s = 1.0
    slow = WebhookChannel(receiver.url, timeout_s=0.2, retries=1, sleep=lambda _: None).send(
        alert(), event=FIRING
    )
    assert (slow.ok, slow.attempts) == (False, 2) and "Timeout" in (slow.error or "")
    receiver.close()
    gone = WebhookChannel(receiver.url, retries=0).send(alert(), event=FIRING)
    assert gone.ok is False and gone.status_code is None and gone.error


def test_webhook_url_is_checked() -> None:
    with pytest.raises(InvalidInput, match="http:// or https://"):
        WebhookChannel("ftp://x")


def test_a_failing_webhook_is_recorded_on_the_stored_alert(receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    store = open_store("sqlite://")
    try:
        hook = WebhookChannel(receiver.url, retries=1, sleep=lambda _: None)
        service = AlertService(store.alerts, channels=[LogChannel(), hook])
        records = [window(i, {"error_rate": 0.3}) for i in range(2)]
        [raised] = service.evaluate(records).new
        log, web = raised.deliveries
        assert (log["channel"], log["ok"]) == ("log", True)
        assert (web["channel"], web["ok"], web["attempts"], web["status_code"]) == ("webhook", False, 2, 500)
        assert store.alerts.get(raised.alert_id).deliveries == raised.deliveries
    finally:
        store.close()


def test_log_channel_logs_at_the_severity(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="loopml.monitor.alerts"):
        LogChannel().send(alert(severity=Severity.CRITICAL), event=FIRING)
        LogChannel().send(alert(), event=RESOLVED)
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.INFO]
    assert "rule=drift metric=drift.age" in caplog.records[0].getMessage()


def test_prometheus_gauge_counts_open_alerts() -> None:
    registry = CollectorRegistry()
    channel = PrometheusChannel(registry)

    def value(rule: str = "drift") -> float | None:
        labels = {"deployment": "churn", "rule": rule, "severity": "warning"}
        return registry.get_sample_value("loopml_monitor_alert_active", labels)

    channel.send(alert(alert_id="a1"), event=FIRING)
    channel.send(alert(alert_id="a2", metric="drift.hours"), event=FIRING)
    assert value() == 2.0
    channel.send(alert(alert_id="a1"), event=RESOLVED)
    assert value() == 1.0
    channel.sync([alert(alert_id="a9", rule="other")])
    assert (value(), value("other")) == (0.0, 1.0)
