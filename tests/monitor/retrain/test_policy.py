"""Retrain policies from YAML and the triggers they define, on synthetic windows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from loopml.errors import InvalidInput
from loopml.monitor.alerts.records import Alert, AlertStatus
from loopml.monitor.alerts.rules import Severity
from loopml.monitor.retrain import (
    DriftTrigger,
    NewLabelsTrigger,
    PerformanceTrigger,
    RetrainAction,
    RetrainPolicy,
    ScheduleTrigger,
    due_triggers,
    load_policy,
    policies_in,
    read_policies,
    read_policy,
)
from tests.monitor.alerts._windows import T0, series, window


def test_defaults_and_a_full_file(tmp_path: Path) -> None:
    assert read_policy(None) == RetrainPolicy()
    assert RetrainPolicy().performance == PerformanceTrigger()
    path = tmp_path / "retrain.yaml"
    path.write_text(
        """
triggers:
  drift: {features: [age, hours], above: 0.2, windows: 2}
  performance: {metric: accuracy, tolerance: 0.03, min_labels: 500, baseline: 0.9}
  schedule: {every: 7d}
  new_labels: {rows: 5000}
  alerts: [accuracy-drop]
guards: {cooldown: 12h, max_per_day: 1, data_quality: false}
span: {length: 14d}
retry: {max_attempts: 2, delay: 30m}
"""
    )
    p = load_policy(path)
    assert p.drift == DriftTrigger(features=("age", "hours"), above=0.2, windows=2)
    assert p.performance == PerformanceTrigger(tolerance=0.03, min_labels=500, baseline=0.9)
    assert p.schedule == ScheduleTrigger(every=timedelta(days=7))
    assert p.new_labels == NewLabelsTrigger(rows=5000)
    assert p.alerts == ("accuracy-drop",)
    assert (p.guards.cooldown, p.guards.max_per_day, p.guards.data_quality) == (timedelta(hours=12), 1, False)
    assert (p.span, p.retry.max_attempts, p.retry.delay) == (timedelta(days=14), 2, timedelta(minutes=30))
    # triggers named replace the default performance trigger
    assert read_policy({"triggers": {"schedule": {"every": "1d"}}}).performance is None


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"trigger": {}}, "Unknown key `trigger`"),
        ({"triggers": {"drfit": {}}}, "Unknown key `triggers.drfit`"),
        ({"triggers": {"drift": {"feature": ["a"]}}}, "Unknown key `triggers.drift.feature`"),
        ({"triggers": {"drift": {"features": []}}}, "must list at least one feature"),
        ({"triggers": {"performance": {"tolerance": -1}}}, "`triggers.performance.tolerance` must be >= 0"),
        ({"triggers": {"schedule": {}}}, "`triggers.schedule.every` is missing"),
        ({"triggers": {"new_labels": {"rows": 1.5}}}, "`triggers.new_labels.rows` must be an integer"),
        ({"guards": {"max_per_day": 0}}, "`guards.max_per_day` must be >= 1"),
        ({"guards": {"data_quality": "yes"}}, "`guards.data_quality` must be true or false"),
        ({"span": {"length": "forever"}}, "`span.length` must be a duration"),
        ({"retry": {"max_attempts": 0}}, "`retry.max_attempts` must be >= 1"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(doc: object, words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        read_policy(doc)
    assert words in str(err.value)


def kinds(policy: RetrainPolicy, records: list, **kwargs: object) -> list[str]:
    args: dict = {"last_retrain": None, "open_alerts": (), **kwargs}
    return [t.kind for t in due_triggers(policy, records, **args)]


def test_drift_on_listed_features_only() -> None:
    records = series(1, 6, drift_at=4, drift_feature="hours")
    listed = RetrainPolicy(performance=None, drift=DriftTrigger(features=("hours",), windows=2))
    other = RetrainPolicy(performance=None, drift=DriftTrigger(features=("age",)))
    assert kinds(listed, records[:5]) == []  # one drifted window of the two needed
    assert kinds(listed, records) == ["drift"]
    assert kinds(other, records) == []
    [trigger] = due_triggers(listed, records, last_retrain=None, open_alerts=())
    assert "hours" in trigger.reason and set(trigger.evidence["features"]) == {"drift.hours"}


def test_performance_needs_enough_labels_and_the_newest_window() -> None:
    policy = RetrainPolicy(performance=PerformanceTrigger(tolerance=0.05, min_labels=200))
    records = series(2, 8, drop_at=6)
    assert kinds(policy, records[:6]) == []
    assert kinds(policy, records) == ["performance"]
    few = [*records[:-1], window(7, {**records[-1].metrics, "labelled_rows": 50})]
    assert kinds(policy, few) == []  # too few labels in the newest window: no verdict
    # a new model version has its own baseline (its first windows)
    new_version = [
        window(i, r.metrics, version="2") for i, r in enumerate(records[6:] + records[6:8], start=8)
    ]
    assert kinds(policy, records + new_version) == []


def test_schedule_new_labels_and_alerts() -> None:
    records = series(3, 30)
    schedule = RetrainPolicy(performance=None, schedule=ScheduleTrigger(every=timedelta(hours=24)))
    assert kinds(schedule, records[:23]) == [] and kinds(schedule, records[:24]) == ["schedule"]
    last = (T0 + timedelta(hours=20), T0 + timedelta(hours=20))
    assert kinds(schedule, records, last_retrain=last) == []
    labels = RetrainPolicy(performance=None, new_labels=NewLabelsTrigger(rows=3000))
    assert kinds(labels, records, last_retrain=last) == ["new_labels"]  # 10 windows x 600 labels after it
    assert kinds(labels, records, last_retrain=(last[0], T0 + timedelta(hours=26))) == []
    on_alerts = RetrainPolicy(performance=None, alerts=("accuracy-drop",))
    alert = Alert(
        alert_id="a1",
        deployment="churn",
        rule="accuracy-drop",
        metric="accuracy",
        severity=Severity.CRITICAL,
        status=AlertStatus.OPEN,
        opened_at=T0,
        resolved_at=None,
        message="m",
    )
    assert kinds(on_alerts, records, open_alerts=[alert]) == ["alerts"]
    other = Alert(**{**{f: getattr(alert, f) for f in alert.__dataclass_fields__}, "rule": "drift"})
    assert kinds(on_alerts, records, open_alerts=[other]) == []


def test_a_folder_of_policies_gives_each_deployment_its_policy(tmp_path: Path) -> None:
    (tmp_path / "churn.yml").write_text("guards: {max_per_day: 1}\n")
    policy_for = policies_in(tmp_path)
    assert policy_for("churn").guards.max_per_day == 1
    assert policy_for("other") == RetrainPolicy()
    (tmp_path / "bad.yaml").write_text("guards: {max_per_dya: 1}\n")
    with pytest.raises(InvalidInput, match=r"bad.yaml: Unknown key `guards.max_per_dya`"):
        policies_in(tmp_path)
    with pytest.raises(InvalidInput, match="No retrain policy folder"):
        policies_in(tmp_path / "missing")


def test_the_action_names_the_pipeline_relative_to_the_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "census.yaml"
    path.write_text(
        "guards: {max_anomalies: 0}\n"
        "action: {pipeline: 'census_pipeline.py:pipeline', task: multiclass, guard_slices: [SEX, RAC1P]}\n"
    )
    policy = load_policy(path)
    assert policy.guards.max_anomalies == 0
    assert policy.action == RetrainAction(
        pipeline=f"{tmp_path / 'census_pipeline.py'}:pipeline",
        task="multiclass",
        guard_slices=("SEX", "RAC1P"),
    )
    module = read_policy({"action": {"pipeline": "pipelines.census:pipeline"}}).action
    assert module is not None and module.pipeline == "pipelines.census:pipeline" and module.task == "binary"
    assert read_policies(tmp_path) == {"census": policy}
    assert RetrainPolicy().action is None


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"action": {}}, "pipeline"),
        ({"action": {"pipeline": "p.py", "task": "ranking"}}, "binary, multiclass, regression"),
        ({"action": {"pipeline": "p.py", "guard_slices": "SEX"}}, "guard_slices"),
        ({"guards": {"max_anomalies": -1}}, "max_anomalies"),
    ],
)
def test_bad_actions_are_refused_naming_the_field(doc: object, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        read_policy(doc)
