"""Rule evaluation over a deployment's ordered windows: when each alert opens and resolves.

The engine is a pure function of the rules and the windows (plus any cooldowns still running from
alerts stored earlier): the same input gives the same episodes, so a re-run, or a run over a longer
history, agrees with what was raised before.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from loopml.monitor.records import WindowRecord
    >>> from loopml.monitor.alerts.rules import Comparison, Rule
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> def w(i, rate):
    ...     return WindowRecord(deployment="d", model="m", version="1", start=t0 + timedelta(hours=i),
    ...         end=t0 + timedelta(hours=i + 1), complete=True, rows=100, metrics={"error_rate": rate})
    >>> rule = Rule(name="errors", metric="error_rate", comparison=Comparison.ABOVE, threshold=0.05,
    ...     for_windows=2)
    >>> [(e.opened.hour, e.resolved and e.resolved.hour) for e in
    ...  alert_timeline([rule], [w(0, .1), w(1, .2), w(2, .3), w(3, 0.0)])]
    [(2, 4)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loopml.monitor.alerts.rules import REFERENCE, Comparison, Rule, Severity
from loopml.monitor.records import WindowRecord

__all__ = ["AlertKey", "Episode", "alert_timeline", "breaches"]

AlertKey = tuple[str, str]
"""(rule name, metric name): one open alert at most per key and deployment."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """One alert from the window it fired in to the window it resolved in (None: still open).

    Attributes:
        opened: End of the window in which the rule had breached ``for`` windows in a row.
        resolved: End of the window in which it had been clean ``resolve_after`` windows in a row.
        evidence: ``comparison``, ``threshold``, ``baseline`` and the breaching ``windows``
            (start, end, value), the last ``value``.
    """

    deployment: str
    rule: str
    metric: str
    severity: Severity
    opened: datetime
    resolved: datetime | None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> AlertKey:
        return (self.rule, self.metric)


def breaches(rule: Rule, value: float, baseline: float | None) -> bool:
    """Whether ``value`` breaches ``rule`` (drop / rise need a baseline; without one, never)."""
    match rule.comparison:
        case Comparison.ABOVE:
            return value > rule.threshold
        case Comparison.BELOW:
            return value < rule.threshold
        case Comparison.DROP:
            return baseline is not None and baseline - value > rule.threshold
        case Comparison.RISE:
            return baseline is not None and value - baseline > rule.threshold


def _value(rule: Rule, record: WindowRecord, metric: str) -> float | None:
    """The window's value for the rule, or None when the window has no data for it."""
    if not record.complete and not rule.include_incomplete:
        return None
    for name, minimum in rule.requires.items():
        have = record.metrics.get(name)
        if have is None or not have >= minimum:
            return None
    value = record.metrics.get(metric)
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _baselines(
    rule: Rule, metric: str, records: Sequence[WindowRecord], references: Mapping[str, float]
) -> dict[str, float | None]:
    """The baseline of each model version: fixed, the reference, or its own first N eligible windows."""
    versions = list(dict.fromkeys(r.version for r in records))
    if not rule.comparison.needs_baseline:
        return dict.fromkeys(versions)
    if isinstance(rule.baseline, float | int):
        return dict.fromkeys(versions, float(rule.baseline))
    if rule.baseline == REFERENCE:
        return dict.fromkeys(versions, references.get(metric))
    out: dict[str, float | None] = {}
    for version in versions:
        values = [v for r in records if r.version == version and (v := _value(rule, r, metric)) is not None]
        first = values[: rule.baseline_windows]
        out[version] = sum(first) / len(first) if len(first) == rule.baseline_windows else None
    return out


def _point(record: WindowRecord, value: float) -> dict[str, Any]:
    return {"start": record.start.isoformat(), "end": record.end.isoformat(), "value": value}


def _metric_timeline(
    rule: Rule,
    metric: str,
    records: Sequence[WindowRecord],
    *,
    references: Mapping[str, float],
    open_since: datetime | None,
    resolved_at: datetime | None,
) -> list[Episode]:
    baselines = _baselines(rule, metric, records, references)
    episodes: list[Episode] = []
    streak: list[dict[str, Any]] = []
    open_: Episode | None = None
    if open_since is not None:
        open_ = Episode(
            deployment=records[0].deployment if records else "",
            rule=rule.name,
            metric=metric,
            severity=rule.severity,
            opened=open_since,
            resolved=None,
            evidence={"comparison": rule.comparison.value, "threshold": rule.threshold},
        )
    clean = 0
    for record in records:
        value = _value(rule, record, metric)
        if value is None:
            streak = []  # no data breaks a run of breaches and does not count as clean
            continue
        baseline = baselines[record.version]
        if breaches(rule, value, baseline):
            streak.append(_point(record, value))
            clean = 0
            quiet = resolved_at is not None and resolved_at <= record.end < resolved_at + rule.cooldown
            if open_ is None and len(streak) >= rule.for_windows and not quiet:
                open_ = Episode(
                    deployment=record.deployment,
                    rule=rule.name,
                    metric=metric,
                    severity=rule.severity,
                    opened=record.end,
                    resolved=None,
                    evidence={
                        "comparison": rule.comparison.value,
                        "threshold": rule.threshold,
                        "baseline": baseline,
                        "for": rule.for_windows,
                        "value": value,
                        "windows": streak[-rule.for_windows :],
                    },
                )
            continue
        streak = []
        if open_ is not None:
            clean += 1
            if clean >= rule.resolve_after:
                episodes.append(_resolved(open_, record.end, value))
                resolved_at = record.end
                open_, clean = None, 0
    if open_ is not None:
        episodes.append(open_)
    return episodes


def _resolved(episode: Episode, at: datetime, value: float) -> Episode:
    evidence = {**episode.evidence, "resolved_value": value}
    return Episode(
        deployment=episode.deployment,
        rule=episode.rule,
        metric=episode.metric,
        severity=episode.severity,
        opened=episode.opened,
        resolved=at,
        evidence=evidence,
    )


def alert_timeline(
    rules: Sequence[Rule],
    records: Sequence[WindowRecord],
    *,
    references: Mapping[str, float] | None = None,
    open_since: Mapping[AlertKey, datetime] | None = None,
    resolved_at: Mapping[AlertKey, datetime] | None = None,
) -> list[Episode]:
    """Every alert episode the rules raise over ``records`` (one deployment), ordered by opening.

    Args:
        rules: The deployment's rules.
        records: Its windows (sorted here by end, then start).
        references: Baselines of ``baseline: reference`` rules, by metric (e.g. the model's evaluation).
        open_since: Alerts open before the first window, by (rule, metric): they continue (and
            resolve here) instead of opening again.
        resolved_at: When each (rule, metric) last resolved before: its cooldown still applies.

    Returns:
        Episodes ordered by (opened, rule, metric); the last one of a key may still be open.
    """
    ordered = sorted(records, key=lambda r: (r.end, r.start))
    names = sorted({m for r in ordered for m in r.metrics} | {m for _, m in (open_since or {})})
    out: list[Episode] = []
    for rule in rules:
        for metric in rule.metrics_in(names):
            out.extend(
                _metric_timeline(
                    rule,
                    metric,
                    ordered,
                    references=references or {},
                    open_since=(open_since or {}).get((rule.name, metric)),
                    resolved_at=(resolved_at or {}).get((rule.name, metric)),
                )
            )
    return sorted(out, key=lambda e: (e.opened, e.rule, e.metric))
