"""Alert rules: which window metric, compared how with what, how bad, for how long, how often.

A rule file (YAML, one per deployment) reads::

    rules:
      - name: drift
        metric: drift.*          # a metric name or a glob over the window's metric names
        above: 0.1               # exactly one of above / below / drop / rise
        severity: warning        # info | warning | critical
        for: 2                   # consecutive windows before it fires
        resolve_after: 1         # consecutive clean windows before it resolves
        cooldown: 6h             # after it resolves, the same alert stays quiet this long
      - name: accuracy-drop
        metric: accuracy
        drop: 0.05               # below the baseline by more than 0.05
        baseline: {windows: 3}   # a number, ``reference`` (the model's own figure) or the first N windows
        requires: {labelled_rows: 100}
    defaults: true               # keep the default rules beside these (default: only when no rules)

Example:
    >>> rules = read_rules({"rules": [{"name": "errors", "metric": "error_rate", "above": 0.05}]})
    >>> [(r.name, r.comparison.value, r.threshold) for r in rules.rules]
    [('errors', 'above', 0.05)]
    >>> [r.name for r in default_rules().rules][:2]
    ['drift', 'baseline-drift']
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInput
from loopml.monitor.alerts.documents import (
    load_yaml,
    read_duration,
    read_list,
    read_mapping,
    read_number,
    read_text,
)

__all__ = [
    "REFERENCE",
    "AlertRules",
    "Comparison",
    "Rule",
    "Severity",
    "default_rules",
    "load_rules",
    "read_rules",
    "rules_in",
]

REFERENCE = "reference"
"""``baseline: reference``: the baseline is the figure the caller passes (e.g. the model's evaluation)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_RULE_KEYS = {
    "name",
    "metric",
    "above",
    "below",
    "drop",
    "rise",
    "baseline",
    "severity",
    "for",
    "resolve_after",
    "cooldown",
    "requires",
    "include_incomplete",
    "description",
}


class Severity(enum.StrEnum):
    """How urgent an alert is (Alertmanager's usual labels)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Comparison(enum.StrEnum):
    """How a value breaches: above / below the threshold, or dropped / risen from the baseline by more."""

    ABOVE = "above"
    BELOW = "below"
    DROP = "drop"
    RISE = "rise"

    @property
    def needs_baseline(self) -> bool:
        return self in (Comparison.DROP, Comparison.RISE)


def _severity(value: object, *, field: str) -> Severity:
    try:
        return Severity(str(value))
    except ValueError:
        valid = ", ".join(s.value for s in Severity)
        raise InvalidInput(f"`{field}` must be one of {valid}. Got {value!r:.40}.") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One alert rule.

    Attributes:
        name: Unique within the deployment's rules.
        metric: A window metric name, or a glob over them (``drift.*``); each match is its own alert.
        comparison: How a value breaches.
        threshold: The bound (above / below) or the tolerated change (drop / rise).
        baseline: For drop / rise: a number, :data:`REFERENCE`, or None with ``baseline_windows``.
        baseline_windows: For drop / rise without a fixed baseline: the mean of the first N eligible windows.
        severity: How urgent.
        for_windows: Consecutive breaching windows before it fires.
        resolve_after: Consecutive clean windows before it resolves.
        cooldown: After it resolves, how long the same alert (rule, metric) stays quiet.
        requires: Other metrics' minimums for a window to count (``labelled_rows: 100``); below them
            the window has no data for this rule.
        include_incomplete: Whether windows with a missing log partition count.
    """

    name: str
    metric: str
    comparison: Comparison
    threshold: float
    baseline: float | str | None = None
    baseline_windows: int = 3
    severity: Severity = Severity.WARNING
    for_windows: int = 1
    resolve_after: int = 1
    cooldown: timedelta = timedelta(0)
    requires: Mapping[str, float] = field(default_factory=dict)
    include_incomplete: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InvalidInput(
                f"Rule name must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit. "
                f"Got {self.name!r:.70}."
            )
        if not self.metric.strip():
            raise InvalidInput(f"Rule {self.name!r}: `metric` must not be empty.")
        if isinstance(self.baseline, str) and self.baseline != REFERENCE:
            raise InvalidInput(
                f"Rule {self.name!r}: `baseline` must be a number, {REFERENCE!r} or {{windows: N}}. "
                f"Got {self.baseline!r:.40}."
            )
        if self.baseline is not None and not self.comparison.needs_baseline:
            raise InvalidInput(f"Rule {self.name!r}: `baseline` only applies to `drop` and `rise` rules.")
        for what, value in (("for", self.for_windows), ("resolve_after", self.resolve_after)):
            if value < 1:
                raise InvalidInput(f"Rule {self.name!r}: `{what}` must be at least 1. Got {value}.")
        if self.baseline_windows < 1:
            raise InvalidInput(f"Rule {self.name!r}: `baseline.windows` must be at least 1.")

    def matches(self, metric: str) -> bool:
        """Whether ``metric`` is one this rule watches."""
        return fnmatch.fnmatchcase(metric, self.metric)

    def metrics_in(self, names: Iterable[str]) -> list[str]:
        """The names this rule watches, sorted."""
        return sorted({n for n in names if self.matches(n)})

    def to_document(self) -> dict[str, Any]:
        """The rule in the YAML form :func:`read_rules` reads."""
        doc: dict[str, Any] = {
            "name": self.name,
            "metric": self.metric,
            self.comparison.value: self.threshold,
            "severity": self.severity.value,
            "for": self.for_windows,
            "resolve_after": self.resolve_after,
            "cooldown": f"{int(self.cooldown.total_seconds())}s",
        }
        if self.comparison.needs_baseline:
            doc["baseline"] = (
                self.baseline if self.baseline is not None else {"windows": self.baseline_windows}
            )
        if self.requires:
            doc["requires"] = dict(self.requires)
        if self.include_incomplete:
            doc["include_incomplete"] = True
        if self.description:
            doc["description"] = self.description
        return doc


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRules:
    """The alert rules of one deployment."""

    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise InvalidInput(f"Two alert rules are named {rule.name!r}; rule names must be unique.")
            seen.add(rule.name)

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


def default_rules() -> AlertRules:
    """The rules a deployment gets when it declares none.

    Drift of any feature above 0.1 for two windows, against the window before (``drift.*``) or
    against the first window (``baseline_drift.*``: a shift that stays); a slice with a feature
    drifted against the same slice of the first window for two windows (``slice-drift``, one alert per
    slice; only with slices monitored, the test corrected for the many slices), an error rate above 5 %,
    accuracy (with at least 100 labels) 0.05 below its first three windows for two windows, the
    estimated accuracy likewise, and more than 5 % atypical inputs for two windows.
    """
    hours6 = timedelta(hours=6)
    return AlertRules(
        rules=(
            Rule(name="drift", metric="drift.*", comparison=Comparison.ABOVE, threshold=0.1,
                 for_windows=2, cooldown=hours6, description="Input drift of a feature"),
            Rule(name="baseline-drift", metric="baseline_drift.*", comparison=Comparison.ABOVE,
                 threshold=0.1, for_windows=2, cooldown=hours6,
                 description="A feature moved away from the first window and stays there"),
            Rule(name="slice-drift", metric="slice.*.baseline_drift_features", comparison=Comparison.ABOVE,
                 threshold=0, for_windows=2, cooldown=hours6,
                 description="A slice moved away from the same slice of the first window and stays there "
                             "(Holm-corrected over the window's slices and features)"),
            Rule(name="error-rate", metric="error_rate", comparison=Comparison.ABOVE, threshold=0.05,
                 severity=Severity.CRITICAL, cooldown=hours6, description="Failed predictions"),
            Rule(name="accuracy-drop", metric="accuracy", comparison=Comparison.DROP, threshold=0.05,
                 severity=Severity.CRITICAL, for_windows=2, cooldown=hours6,
                 requires={"labelled_rows": 100}, description="Accuracy below its baseline"),
            Rule(name="estimated-accuracy-drop", metric="estimated_accuracy", comparison=Comparison.DROP,
                 threshold=0.05, for_windows=2, cooldown=hours6,
                 description="Estimated accuracy (before labels) below its baseline"),
            Rule(name="atypical-rate", metric="atypical_rate", comparison=Comparison.ABOVE, threshold=0.05,
                 for_windows=2, cooldown=hours6, description="Inputs outside the training ranges"),
        )
    )  # fmt: skip


def _baseline(value: object, *, field: str) -> tuple[float | str | None, int]:
    if value is None:
        return None, 3
    if value == REFERENCE:
        return REFERENCE, 3
    if isinstance(value, Mapping):
        d = read_mapping(value, field=field, keys={"windows"}, required=("windows",))
        return None, int(read_number(d["windows"], field=f"{field}.windows", minimum=1, integer=True))
    if isinstance(value, str):
        raise InvalidInput(f"`{field}` must be a number, {REFERENCE!r} or {{windows: N}}. Got {value!r:.40}.")
    return read_number(value, field=field), 3


def _rule(value: object, i: int) -> Rule:
    where = f"rules[{i}]"
    d = read_mapping(value, field=where, keys=_RULE_KEYS, required=("name", "metric"))
    given = [c for c in Comparison if c.value in d]
    if len(given) != 1:
        named = ", ".join(c.value for c in given) or "none"
        raise InvalidInput(f"`{where}` needs exactly one of above, below, drop, rise. Got {named}.")
    comparison = given[0]
    baseline, windows = _baseline(d.get("baseline"), field=f"{where}.baseline")
    requires = read_mapping(
        d.get("requires", {}), field=f"{where}.requires", keys=set(d.get("requires") or {})
    )
    return Rule(
        name=read_text(d["name"], field=f"{where}.name"),
        metric=read_text(d["metric"], field=f"{where}.metric"),
        comparison=comparison,
        threshold=read_number(d[comparison.value], field=f"{where}.{comparison.value}"),
        baseline=baseline,
        baseline_windows=windows,
        severity=_severity(d.get("severity", "warning"), field=f"{where}.severity"),
        for_windows=int(read_number(d.get("for", 1), field=f"{where}.for", minimum=1, integer=True)),
        resolve_after=int(
            read_number(d.get("resolve_after", 1), field=f"{where}.resolve_after", minimum=1, integer=True)
        ),
        cooldown=read_duration(d.get("cooldown", 0), field=f"{where}.cooldown"),
        requires={str(k): read_number(v, field=f"{where}.requires.{k}") for k, v in requires.items()},
        include_incomplete=_flag(d.get("include_incomplete", False), field=f"{where}.include_incomplete"),
        description=str(d.get("description", "")),
    )


def _flag(value: object, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"`{field}` must be true or false. Got {value!r:.40}.")
    return value


def read_rules(document: object) -> AlertRules:
    """Alert rules from a parsed YAML / JSON document (None or ``{}``: the defaults).

    Raises:
        InvalidInput: an unknown key, a missing or malformed value, naming the field.
    """
    if document is None:
        return default_rules()
    d = read_mapping(document, field="", keys={"rules", "defaults"})
    rules = tuple(_rule(r, i) for i, r in enumerate(read_list(d.get("rules", []), field="rules")))
    with_defaults = _flag(d.get("defaults", not rules), field="defaults")
    if with_defaults:
        own = {r.name for r in rules}
        rules = tuple(r for r in default_rules().rules if r.name not in own) + rules
    return AlertRules(rules=rules)


def load_rules(path: str | Path) -> AlertRules:
    """Read a deployment's alert-rules YAML file (see :func:`read_rules`)."""
    return read_rules(load_yaml(path, what="alert rules"))


def rules_in(folder: str | Path) -> Callable[[str], AlertRules]:
    """Each deployment's rules from ``<folder>/<deployment>.yaml``; the defaults where there is no file.

    Every file is read (and checked) now, so a typo is reported before any evaluation.

    Raises:
        InvalidInput: the folder does not exist, or a file is malformed (naming file and field).
    """
    found = _files_in(folder, what="alert rules")
    by_name: dict[str, AlertRules] = {}
    for name, path in found.items():
        try:
            by_name[name] = load_rules(path)
        except InvalidInput as err:
            raise InvalidInput(f"{path}: {err}") from err
    return lambda deployment: by_name.get(deployment) or default_rules()


def _files_in(folder: str | Path, *, what: str) -> dict[str, Path]:
    base = Path(folder)
    if not base.is_dir():
        raise InvalidInput(f"No {what} folder {str(base)!r}; create it or pass another.")
    return {p.stem: p for p in sorted(base.glob("*.yaml")) + sorted(base.glob("*.yml"))}
