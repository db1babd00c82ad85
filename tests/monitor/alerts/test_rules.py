"""Alert rules from YAML: defaults, every field, and refusals that name the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from loopml.errors import InvalidInput
from loopml.monitor.alerts import Comparison, Severity, default_rules, load_rules, read_rules, rules_in


def test_no_document_gives_the_defaults() -> None:
    rules = read_rules(None)
    assert rules == default_rules()
    names = [r.name for r in rules.rules]
    assert names == [
        "drift", "baseline-drift", "slice-drift", "error-rate", "accuracy-drop", "estimated-accuracy-drop",
        "atypical-rate",
    ]  # fmt: skip
    drift = rules.get("drift")
    assert drift is not None and drift.matches("drift.age") and not drift.matches("accuracy")
    stays = rules.get("baseline-drift")
    assert stays is not None and stays.matches("baseline_drift.age") and not stays.matches("drift.age")
    sliced = rules.get("slice-drift")
    assert sliced is not None and sliced.for_windows == 2 and sliced.threshold == 0
    assert sliced.matches("slice.SEX=2.baseline_drift_features")
    assert not sliced.matches("slice.SEX=2.drift_features") and not sliced.matches("baseline_drift.age")
    accuracy = rules.get("accuracy-drop")
    assert accuracy is not None and accuracy.requires == {"labelled_rows": 100}


def test_a_full_rule_is_read(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        """
rules:
  - name: p99
    metric: latency_p99_ms
    above: 250
    severity: critical
    for: 3
    resolve_after: 2
    cooldown: 30m
    include_incomplete: true
  - name: acc
    metric: accuracy
    drop: 0.02
    baseline: {windows: 5}
    requires: {labelled_rows: 50}
  - name: ref
    metric: accuracy
    drop: 0.02
    baseline: reference
"""
    )
    rules = load_rules(path)
    p99, acc, ref = rules.rules
    assert (p99.comparison, p99.threshold, p99.severity, p99.for_windows, p99.resolve_after) == (
        Comparison.ABOVE,
        250.0,
        Severity.CRITICAL,
        3,
        2,
    )
    assert p99.cooldown == timedelta(minutes=30) and p99.include_incomplete
    assert (acc.comparison, acc.baseline, acc.baseline_windows, acc.requires) == (
        Comparison.DROP,
        None,
        5,
        {"labelled_rows": 50.0},
    )
    assert ref.baseline == "reference"
    # without defaults: only the declared rules; with `defaults: true` the defaults join them
    assert len(rules.rules) == 3
    both = read_rules({"defaults": True, "rules": [p99.to_document()]})
    assert [r.name for r in both.rules][-1] == "p99" and len(both.rules) == len(default_rules().rules) + 1
    assert read_rules({"rules": [p99.to_document()]}).rules == (p99,)


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"rulez": []}, "Unknown key `rulez`"),
        (
            {"rules": [{"name": "a", "metric": "x", "above": 1, "treshold": 2}]},
            "Unknown key `rules[0].treshold`",
        ),
        (
            {"rules": [{"name": "a", "metric": "x"}]},
            "`rules[0]` needs exactly one of above, below, drop, rise",
        ),
        ({"rules": [{"name": "a", "metric": "x", "above": 1, "below": 0}]}, "Got above, below"),
        (
            {"rules": [{"name": "a", "metric": "x", "above": "high"}]},
            "`rules[0].above` must be a finite number",
        ),
        (
            {"rules": [{"name": "a", "metric": "x", "above": 1, "severity": "page"}]},
            "info, warning, critical",
        ),
        ({"rules": [{"name": "a", "metric": "x", "above": 1, "for": 0}]}, "`rules[0].for` must be >= 1"),
        ({"rules": [{"name": "a", "metric": "x", "above": 1, "cooldown": "soon"}]}, "`rules[0].cooldown`"),
        ({"rules": [{"name": "a", "metric": "x", "above": 1, "baseline": 1}]}, "only applies to `drop`"),
        (
            {"rules": [{"name": "a", "metric": "x", "drop": 1, "baseline": "yesterday"}]},
            "`rules[0].baseline` must be a number",
        ),
        ({"rules": [{"metric": "x", "above": 1}]}, "`rules[0].name` is missing"),
        ({"rules": [{"name": "a b", "metric": "x", "above": 1}]}, "Rule name must be"),
        (
            {"rules": [{"name": "a", "metric": "x", "above": 1}, {"name": "a", "metric": "y", "above": 1}]},
            "Two alert",
        ),
        ({"rules": {"name": "a"}}, "`rules` must be a list"),
        ([], "`the document` must be a mapping"),
    ],
)
def test_bad_documents_are_refused_naming_the_field(doc: object, words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        read_rules(doc)
    assert words in str(err.value)


def test_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_rules(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_rules(bad)


def test_a_folder_of_rule_files_gives_each_deployment_its_rules(tmp_path: Path) -> None:
    (tmp_path / "churn.yaml").write_text("rules: [{name: p99, metric: latency_p99_ms, above: 250}]\n")
    rules_for = rules_in(tmp_path)
    assert [r.name for r in rules_for("churn").rules] == ["p99"]
    assert rules_for("other") == default_rules()
    (tmp_path / "bad.yaml").write_text("rules: [{name: x, metric: y, abov: 1}]\n")
    with pytest.raises(InvalidInput, match=r"bad.yaml: Unknown key `rules\[0\].abov`"):
        rules_in(tmp_path)
    with pytest.raises(InvalidInput, match="No alert rules folder"):
        rules_in(tmp_path / "missing")
