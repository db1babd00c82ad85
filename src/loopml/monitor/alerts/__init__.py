"""Monitoring alerts: rules over window metrics, a deterministic evaluation, stored alerts, channels."""

from loopml.monitor.alerts.channels import (
    FIRING,
    RESOLVED,
    Channel,
    Delivery,
    LogChannel,
    PrometheusChannel,
    WebhookChannel,
)
from loopml.monitor.alerts.engine import AlertKey, Episode, alert_timeline
from loopml.monitor.alerts.records import Alert, AlertEvaluation, AlertStatus
from loopml.monitor.alerts.rules import (
    REFERENCE,
    AlertRules,
    Comparison,
    Rule,
    Severity,
    default_rules,
    load_rules,
    read_rules,
    rules_in,
)
from loopml.monitor.alerts.service import AlertService

__all__ = [
    "FIRING",
    "REFERENCE",
    "RESOLVED",
    "Alert",
    "AlertEvaluation",
    "AlertKey",
    "AlertRules",
    "AlertService",
    "AlertStatus",
    "Channel",
    "Comparison",
    "Delivery",
    "Episode",
    "LogChannel",
    "PrometheusChannel",
    "Rule",
    "Severity",
    "WebhookChannel",
    "alert_timeline",
    "default_rules",
    "load_rules",
    "read_rules",
    "rules_in",
]
