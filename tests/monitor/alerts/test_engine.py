"""The rule timeline: consecutive windows, resolution, cooldown, baselines, no-data and determinism."""

from __future__ import annotations

from datetime import timedelta

from loopml.monitor.alerts import Comparison, Rule, alert_timeline, default_rules
from tests.monitor.alerts._windows import T0, series, window

ERR = Rule(name="err", metric="error_rate", comparison=Comparison.ABOVE, threshold=0.05, for_windows=2)


def rates(*values: float | None, complete: bool = True) -> list:
    return [
        window(i, {} if v is None else {"error_rate": v}, complete=complete) for i, v in enumerate(values)
    ]


def hours(*episodes: tuple) -> list[tuple]:
    return [(e.opened, e.resolved) for e in episodes]


def at(i: int):
    return T0 + timedelta(hours=i + 1)


def test_fires_after_for_windows_and_resolves_on_a_clean_one() -> None:
    assert alert_timeline([ERR], rates(0.1)) == []  # one window is not enough
    [e] = alert_timeline([ERR], rates(0.0, 0.1, 0.2, 0.3, 0.0, 0.0))
    assert (e.opened, e.resolved) == (at(2), at(4))
    assert e.evidence["threshold"] == 0.05 and e.evidence["value"] == 0.2
    assert [w["value"] for w in e.evidence["windows"]] == [0.1, 0.2]
    assert e.evidence["resolved_value"] == 0.0


def test_one_open_alert_per_key_and_resolve_after() -> None:
    rule = Rule(name="e", metric="error_rate", comparison=Comparison.ABOVE, threshold=0.05, resolve_after=2)
    [e] = alert_timeline([rule], rates(0.1, 0.1, 0.0, 0.1, 0.0, 0.0))
    assert (e.opened, e.resolved) == (at(0), at(5))


def test_cooldown_keeps_a_flapping_alert_quiet() -> None:
    values = (0.1, 0.1, 0.0, 0.1, 0.1, 0.0, 0.0, 0.0, 0.1, 0.1)
    plain = alert_timeline([ERR], rates(*values))
    assert len(plain) == 3
    cooled = Rule(
        name="err", metric="error_rate", comparison=Comparison.ABOVE, threshold=0.05, for_windows=2,
        cooldown=timedelta(hours=3),
    )  # fmt: skip
    # resolved at window 2's end; quiet until 3 h later: the breach at window 4 is held back
    assert hours(*alert_timeline([cooled], rates(*values))) == [(at(1), at(2)), (at(9), None)]


def test_missing_data_breaks_a_streak_and_does_not_resolve() -> None:
    assert alert_timeline([ERR], rates(0.1, None, 0.1)) == []
    [e] = alert_timeline([ERR], rates(0.1, 0.1, None, None))
    assert e.resolved is None
    # incomplete windows do not count unless the rule says so
    assert alert_timeline([ERR], rates(0.1, 0.1, complete=False)) == []


def test_requirements_and_baselines() -> None:
    rule = Rule(
        name="acc", metric="accuracy", comparison=Comparison.DROP, threshold=0.05, baseline_windows=2,
        requires={"labelled_rows": 100}, for_windows=1,
    )  # fmt: skip
    records = [
        window(0, {"accuracy": 0.5, "labelled_rows": 10}),  # too few labels: not in the baseline
        window(1, {"accuracy": 0.90, "labelled_rows": 200}),
        window(2, {"accuracy": 0.88, "labelled_rows": 200}),
        window(3, {"accuracy": 0.80, "labelled_rows": 200}),
        window(4, {"accuracy": 0.10, "labelled_rows": 20}),
    ]
    [e] = alert_timeline([rule], records)
    assert e.opened == at(3) and e.evidence["baseline"] == 0.89 and e.resolved is None
    ref = Rule(name="r", metric="accuracy", comparison=Comparison.DROP, threshold=0.05, baseline="reference")
    assert alert_timeline([ref], records[1:4]) == []  # no reference given: no baseline, no alert
    [r] = alert_timeline([ref], records[1:4], references={"accuracy": 0.95})
    assert r.opened == at(2)  # 0.95 - 0.90 is not more than 0.05; 0.95 - 0.88 is


def test_globs_give_one_alert_per_metric() -> None:
    rule = Rule(name="drift", metric="drift.*", comparison=Comparison.ABOVE, threshold=0.1)
    records = [window(0, {"drift.a": 0.2, "drift.b": 0.3, "drift.c": 0.0, "accuracy": 0.9})]
    assert [e.metric for e in alert_timeline([rule], records)] == ["drift.a", "drift.b"]


def test_the_timeline_is_deterministic_and_order_free() -> None:
    records = series(7, 60, drop_at=30, drift_at=40)
    rules = default_rules().rules
    first = alert_timeline(rules, records)
    assert first == alert_timeline(rules, list(reversed(records)))
    assert {e.rule for e in first} == {"accuracy-drop", "drift", "estimated-accuracy-drop"}
    drift = [e for e in first if e.rule == "drift"]
    assert [(e.metric, e.opened) for e in drift] == [("drift.hours", at(41))]


def test_an_alert_open_before_the_windows_continues_and_resolves() -> None:
    before = T0 - timedelta(hours=5)
    [e] = alert_timeline([ERR], rates(0.0), open_since={("err", "error_rate"): before})
    assert (e.opened, e.resolved) == (before, at(0))
