"""Which of a policy's triggers hold on a deployment's windows (pure: windows and history in, triggers out).

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from loopml.monitor.records import WindowRecord
    >>> from loopml.monitor.retrain.policy import PerformanceTrigger, RetrainPolicy
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> ws = [WindowRecord(deployment="d", model="m", version="1", start=t0 + timedelta(hours=i),
    ...     end=t0 + timedelta(hours=i + 1), complete=True, rows=900,
    ...     metrics={"accuracy": a, "labelled_rows": 300}) for i, a in enumerate([.9, .9, .9, .7])]
    >>> policy = RetrainPolicy(performance=PerformanceTrigger(tolerance=0.05))
    >>> [t.kind for t in due_triggers(policy, ws, last_retrain=None, open_alerts=())]
    ['performance']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from loopml.monitor.alerts.records import Alert
from loopml.monitor.records import WindowRecord
from loopml.monitor.retrain.policy import (
    ALL_FEATURES,
    DriftTrigger,
    NewLabelsTrigger,
    PerformanceTrigger,
    RetrainPolicy,
    ScheduleTrigger,
)
from loopml.monitor.retrain.records import Trigger

__all__ = ["due_triggers"]

_DRIFT = "drift."


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _drift(trigger: DriftTrigger, windows: Sequence[WindowRecord]) -> Trigger | None:
    recent = [w for w in windows if w.complete][-trigger.windows :]
    if len(recent) < trigger.windows:
        return None
    names = sorted({m for w in recent for m in w.metrics if m.startswith(_DRIFT)})
    if trigger.features != ALL_FEATURES:
        names = [n for n in names if n[len(_DRIFT) :] in trigger.features]
    drifted = [
        n for n in names if all(_finite(w.metrics.get(n)) and w.metrics[n] > trigger.above for w in recent)
    ]
    if not drifted:
        return None
    values = {n: recent[-1].metrics[n] for n in drifted}
    shown = ", ".join(f"{n[len(_DRIFT) :]} {v:.3g}" for n, v in values.items())
    return Trigger(
        kind="drift",
        reason=f"drift above {trigger.above:g} for {trigger.windows} window(s): {shown}",
        evidence={"features": values, "above": trigger.above, "windows": trigger.windows},
    )


def _eligible(trigger: PerformanceTrigger, window: WindowRecord) -> float | None:
    labels = window.metrics.get("labelled_rows")
    value = window.metrics.get(trigger.metric)
    if not window.complete or not _finite(labels) or labels < trigger.min_labels or not _finite(value):  # type: ignore[operator]
        return None
    return value


def _performance(trigger: PerformanceTrigger, windows: Sequence[WindowRecord]) -> Trigger | None:
    if not windows:
        return None
    version = windows[-1].version
    values = [(w, v) for w in windows if w.version == version and (v := _eligible(trigger, w)) is not None]
    baseline = trigger.baseline
    if baseline is None:
        first = [v for _, v in values[: trigger.baseline_windows]]
        if len(first) < trigger.baseline_windows:
            return None
        baseline = sum(first) / len(first)
    recent = values[-trigger.windows :]
    if len(recent) < trigger.windows or recent[-1][0] is not windows[-1]:
        return None  # the newest window must itself show the drop (with enough labels)
    if not all(baseline - v > trigger.tolerance for _, v in recent):
        return None
    value = recent[-1][1]
    return Trigger(
        kind="performance",
        reason=(
            f"{trigger.metric} {value:.4g} is more than {trigger.tolerance:g} below its baseline "
            f"{baseline:.4g} for {trigger.windows} window(s)"
        ),
        evidence={
            "metric": trigger.metric,
            "value": value,
            "baseline": baseline,
            "tolerance": trigger.tolerance,
            "labelled_rows": windows[-1].metrics.get("labelled_rows"),
            "version": version,
        },
    )


def _schedule(
    trigger: ScheduleTrigger, windows: Sequence[WindowRecord], last: datetime | None
) -> Trigger | None:
    now = windows[-1].end
    since = last if last is not None else min(w.start for w in windows)
    if now - since < trigger.every:
        return None
    return Trigger(
        kind="schedule",
        reason=f"{trigger.every} since {'the last retraining' if last else 'the first window'}",
        evidence={"every_s": trigger.every.total_seconds(), "since": since.isoformat()},
    )


def _new_labels(
    trigger: NewLabelsTrigger, windows: Sequence[WindowRecord], after: datetime | None
) -> Trigger | None:
    rows = sum(
        int(w.metrics.get("labelled_rows", 0) or 0) for w in windows if after is None or w.start >= after
    )
    if rows < trigger.rows:
        return None
    return Trigger(
        kind="new_labels",
        reason=f"{rows} new labelled rows (at least {trigger.rows})",
        evidence={"rows": rows, "needed": trigger.rows},
    )


def _alerts(rules: Sequence[str], deployment: str, open_alerts: Sequence[Alert]) -> Trigger | None:
    hits = [a for a in open_alerts if a.deployment == deployment and a.is_open and a.rule in rules]
    if not hits:
        return None
    return Trigger(
        kind="alerts",
        reason="open alert(s): " + ", ".join(f"{a.rule} on {a.metric}" for a in hits),
        evidence={"alert_ids": [a.alert_id for a in hits]},
    )


def due_triggers(
    policy: RetrainPolicy,
    windows: Sequence[WindowRecord],
    *,
    last_retrain: tuple[datetime, datetime] | None,
    open_alerts: Sequence[Alert],
) -> list[Trigger]:
    """The policy's triggers that hold on the newest of ``windows`` (one deployment, sorted by end).

    Args:
        policy: The deployment's policy.
        windows: Its windows, oldest first.
        last_retrain: When the last retraining started and where its span ended (None: never).
        open_alerts: Alerts open now (``alerts`` triggers).
    """
    if not windows:
        return []
    found: list[Trigger | None] = []
    if policy.drift is not None:
        found.append(_drift(policy.drift, windows))
    if policy.performance is not None:
        found.append(_performance(policy.performance, windows))
    if policy.schedule is not None:
        found.append(_schedule(policy.schedule, windows, None if last_retrain is None else last_retrain[0]))
    if policy.new_labels is not None:
        found.append(
            _new_labels(policy.new_labels, windows, None if last_retrain is None else last_retrain[1])
        )
    if policy.alerts:
        found.append(_alerts(policy.alerts, windows[-1].deployment, open_alerts))
    return [t for t in found if t is not None]
