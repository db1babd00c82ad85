"""The alert service over the SQL stores: recorded once, deduplicated, resolved, delivered, idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from loopml.errors import Conflict
from loopml.monitor.alerts import (
    AlertRules,
    AlertService,
    AlertStatus,
    Comparison,
    Delivery,
    Rule,
    Severity,
    default_rules,
)
from loopml.monitor.alerts.records import Alert, to_ms
from tests.conftest import STORE_BACKENDS
from tests.monitor.alerts._windows import series, window


@pytest.fixture(
    params=[
        pytest.param(b, id=b.name, marks=b.marks) for b in STORE_BACKENDS if b.name in ("sqlite", "postgres")
    ]
)
def store_backend(request: pytest.FixtureRequest) -> Any:
    """Alerts live in the SQL store."""
    return request.param


class Recorder:
    name = "recorder"

    def __init__(self, fail: bool = False) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.fail = fail

    def send(self, alert: Alert, *, event: str) -> Delivery:
        self.events.append((event, alert.rule, alert.metric))
        if self.fail:
            raise RuntimeError("pager down")
        return Delivery(channel=self.name, event=event, ok=True)


ERR = AlertRules(
    rules=(
        Rule(
            name="err",
            metric="error_rate",
            comparison=Comparison.ABOVE,
            threshold=0.05,
            severity=Severity.CRITICAL,
        ),
    )
)


def rates(*values: float, deployment: str = "churn") -> list:
    return [window(i, {"error_rate": v}, deployment=deployment) for i, v in enumerate(values)]


def test_alerts_are_recorded_with_evidence_and_resolved(store: Any) -> None:
    channel = Recorder()
    service = AlertService(store.alerts, rules=lambda _: ERR, channels=[channel])
    first = service.evaluate(rates(0.0, 0.2, 0.3))
    [alert] = first.new
    assert (alert.rule, alert.metric, alert.severity, alert.status) == (
        "err",
        "error_rate",
        Severity.CRITICAL,
        AlertStatus.OPEN,
    )
    assert alert.evidence["windows"][0]["value"] == 0.2 and alert.evidence["threshold"] == 0.05
    assert "error_rate = 0.2, above 0.05" in alert.message
    assert [d["channel"] for d in alert.deliveries] == ["recorder"]
    assert first.open == (alert,)
    # the same windows again: nothing new; one more breaching window: still one open alert
    assert service.evaluate(rates(0.0, 0.2, 0.3)).new == ()
    again = service.evaluate(rates(0.0, 0.2, 0.3, 0.4))
    assert again.new == () and [a.alert_id for a in again.open] == [alert.alert_id]
    # a clean window resolves it, once
    done = service.evaluate(rates(0.0, 0.2, 0.3, 0.4, 0.0))
    [resolved] = done.resolved
    assert resolved.alert_id == alert.alert_id and resolved.status is AlertStatus.RESOLVED
    assert resolved.resolved_at == rates(0, 0, 0, 0, 0)[4].end
    assert service.evaluate(rates(0.0, 0.2, 0.3, 0.4, 0.0)).resolved == ()
    assert channel.events == [("firing", "err", "error_rate"), ("resolved", "err", "error_rate")]


def test_incremental_evaluation_equals_one_evaluation(store: Any) -> None:
    """Window by window (as a cron job would) or all at once: the same stored alerts."""
    records = series(11, 80, drop_at=30, drift_at=55)
    one = AlertService(store.alerts)
    one.evaluate(records)
    whole = sorted((a.rule, a.metric, a.opened_at, a.resolved_at) for a in one.list("churn", limit=1000))
    other = [window(i, r.metrics, deployment="other") for i, r in enumerate(records)]
    step = AlertService(store.alerts)
    for i in range(1, len(other) + 1):
        step.evaluate(other[:i])  # the history so far (baselines are the version's first windows)
    stepped = sorted((a.rule, a.metric, a.opened_at, a.resolved_at) for a in step.list("other", limit=1000))
    assert whole and stepped == whole


def test_old_episodes_are_recorded_silently_and_failures_are_recorded(store: Any) -> None:
    channel = Recorder(fail=True)
    service = AlertService(store.alerts, rules=lambda _: ERR, channels=[channel])
    result = service.evaluate(rates(0.2, 0.0, 0.3))
    assert [a.status for a in result.new] == [AlertStatus.RESOLVED, AlertStatus.OPEN]
    assert channel.events == [("firing", "err", "error_rate")]  # the old one is history, not news
    [open_] = result.open
    [delivery] = open_.deliveries
    assert delivery["ok"] is False and "pager down" in delivery["error"]


def test_one_open_alert_per_key_in_the_store(store: Any) -> None:
    kwargs = dict(deployment="d", rule="r", metric="m", severity="warning", message="x", evidence={})
    first = store.alerts.add(opened_at=1000, **kwargs)
    assert store.alerts.add(opened_at=1000, **kwargs) == first  # the same opening: idempotent
    with pytest.raises(Conflict, match="already open"):
        store.alerts.add(opened_at=2000, **kwargs)
    store.alerts.resolve(first.alert_id, resolved_at=1500, evidence={})
    second = store.alerts.add(opened_at=2000, **kwargs)
    assert store.alerts.find_open("d", "r", "m") == second
    assert [a.opened_at for a in store.alerts.list("d")] == [2000, 1000]


def test_defaults_apply_per_deployment(store: Any) -> None:
    service = AlertService(store.alerts)
    result = service.evaluate(series(3, 10, drift_at=5) + series(4, 10, deployment="quiet"))
    assert {(a.deployment, a.rule, a.metric) for a in result.new} == {("churn", "drift", "drift.hours")}
    assert default_rules().get("drift") is not None
    assert to_ms(result.new[0].opened_at) == store.alerts.list("churn")[0].opened_at


def test_a_sliding_suffix_of_windows_agrees_for_threshold_rules(store: Any) -> None:
    values = [0.0, 0.2, 0.3, 0.0, 0.0, 0.1, 0.2, 0.2, 0.0, 0.3]
    whole = AlertService(store.alerts, rules=lambda _: ERR)
    whole.evaluate(rates(*values))
    sliding = AlertService(store.alerts, rules=lambda _: ERR)
    other = rates(*values, deployment="other")
    for i in range(1, len(other) + 1):
        sliding.evaluate(other[max(0, i - 2) : i])

    def spans(name: str) -> list[tuple[int, int | None]]:
        return sorted((a.opened_at, a.resolved_at) for a in store.alerts.list(name))

    assert len(spans("churn")) == 3 and spans("other") == spans("churn")


def test_an_alert_another_evaluation_opened_is_joined_not_duplicated(store: Any) -> None:
    """Another process opened the alert (at a slightly different time): this evaluation joins it."""
    service = AlertService(store.alerts, rules=lambda _: ERR)
    first_opening = rates(0.2)[0].end
    store.alerts.add(
        deployment="churn", rule="err", metric="error_rate", severity="critical",
        opened_at=to_ms(first_opening) + 1, message="raced", evidence={},
    )  # fmt: skip
    result = service.evaluate(rates(0.0, 0.2))
    assert [a.message for a in result.open] == ["raced"]
    assert len(store.alerts.list("churn")) == 1
