"""A deployment's retrain policy: what triggers a retraining, what guards it, on which span it trains.

A policy file (YAML, one per deployment) reads::

    triggers:                      # any one of them starts a retraining
      drift: {features: [AGEP, SCHL], above: 0.1, windows: 2}   # features: a list or "*"
      performance: {metric: accuracy, tolerance: 0.05, min_labels: 200, windows: 1}
      schedule: {every: 7d}
      new_labels: {rows: 5000}
      alerts: [accuracy-drop]      # open alerts of these rules
    guards:
      cooldown: 6h                 # since the last retraining started
      max_per_day: 2               # pipeline runs in any 24 hours
      data_quality: true           # the new span must pass the data-quality gate
      max_anomalies: 0             # gate: schema anomalies allowed per window (default: not checked)
    span: {length: 30d}            # train on the last 30 days of windows
    retry: {max_attempts: 3, delay: 1h}
    action:                        # what runs (`loopml server --retrain-policies` needs it)
      pipeline: census_pipeline.py:pipeline   # FILE.py[:NAME] (relative to this file) or module[:NAME]
      task: binary                 # binary, multiclass or regression
      guard_slices: [SEX, RAC1P]   # the candidate may not be worse on any of these slices
      key_field: null              # also join labels keyed by this input feature

Example:
    >>> p = read_policy({"triggers": {"schedule": {"every": "7d"}}, "guards": {"max_per_day": 1}})
    >>> p.schedule.every.days, p.guards.max_per_day, p.performance is None
    (7, 1, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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
    "ALL_FEATURES",
    "DriftTrigger",
    "Guards",
    "NewLabelsTrigger",
    "PerformanceTrigger",
    "RetrainAction",
    "RetrainPolicy",
    "RetryPolicy",
    "ScheduleTrigger",
    "load_policy",
    "policies_in",
    "read_policies",
    "read_policy",
    "runnable_policies",
]

ALL_FEATURES = "*"
TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftTrigger:
    """Drift of a listed feature (``drift.<feature>``) above ``above`` in the last ``windows`` windows."""

    features: tuple[str, ...] | str = ALL_FEATURES
    above: float = 0.1
    windows: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceTrigger:
    """``metric`` more than ``tolerance`` below its baseline, on windows with at least ``min_labels`` labels.

    The baseline is ``baseline`` when given, else the mean of the serving version's first
    ``baseline_windows`` eligible windows.
    """

    metric: str = "accuracy"
    tolerance: float = 0.05
    min_labels: int = 100
    windows: int = 1
    baseline: float | None = None
    baseline_windows: int = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleTrigger:
    """Retrain when ``every`` has passed since the last retraining (or since the windows began)."""

    every: timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class NewLabelsTrigger:
    """Retrain when ``rows`` new labelled rows arrived after the last retraining's span."""

    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Guards:
    """Limits on retraining: time between two, runs per 24 hours, and the data-quality gate."""

    cooldown: timedelta = timedelta(hours=6)
    max_per_day: int = 2
    data_quality: bool = True
    max_anomalies: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """A failed pipeline is retried up to ``max_attempts`` runs in all, ``delay`` apart."""

    max_attempts: int = 3
    delay: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainAction:
    """What a retraining runs and how its candidate is judged.

    Attributes:
        pipeline: The model's pipeline, ``FILE.py[:NAME]`` or ``module[:NAME]``; it is run with
            ``span_start`` / ``span_end`` when it declares them.
        task: ``binary``, ``multiclass`` or ``regression`` (how candidate and champion are scored).
        guard_slices: Input features the candidate may not be worse on, slice by slice.
        key_field: Also join labels keyed by this input feature (besides request ids).
    """

    pipeline: str
    task: str = "binary"
    guard_slices: tuple[str, ...] = ()
    key_field: str | None = None

    def __post_init__(self) -> None:
        if not self.pipeline.strip():
            raise InvalidInput("`action.pipeline` must name a pipeline: FILE.py[:NAME] or module[:NAME].")
        if self.task not in TASKS:
            raise InvalidInput(f"`action.task` must be one of {', '.join(TASKS)}. Got {self.task!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainPolicy:
    """A deployment's retrain policy (see the module docstring for the YAML form).

    ``action`` says what runs; a policy without one can only be run by `loopml monitor retrain`
    (which names the pipeline with ``--pipeline``).
    """

    drift: DriftTrigger | None = None
    performance: PerformanceTrigger | None = field(default_factory=PerformanceTrigger)
    schedule: ScheduleTrigger | None = None
    new_labels: NewLabelsTrigger | None = None
    alerts: tuple[str, ...] = ()
    guards: Guards = field(default_factory=Guards)
    span: timedelta = timedelta(days=30)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    action: RetrainAction | None = None

    def __post_init__(self) -> None:
        if self.guards.max_per_day < 1:
            raise InvalidInput(f"`guards.max_per_day` must be at least 1. Got {self.guards.max_per_day}.")
        if self.retry.max_attempts < 1:
            raise InvalidInput(f"`retry.max_attempts` must be at least 1. Got {self.retry.max_attempts}.")
        if self.span <= timedelta(0):
            raise InvalidInput("`span.length` must be longer than 0.")


def _int(value: object, *, field: str, minimum: int = 1) -> int:
    return int(read_number(value, field=field, minimum=minimum, integer=True))


def _drift(value: object) -> DriftTrigger:
    d = read_mapping(value or {}, field="triggers.drift", keys={"features", "above", "windows"})
    features: tuple[str, ...] | str = ALL_FEATURES
    if "features" in d and d["features"] != ALL_FEATURES:
        items = read_list(d["features"], field="triggers.drift.features")
        features = tuple(read_text(f, field=f"triggers.drift.features[{i}]") for i, f in enumerate(items))
        if not features:
            raise InvalidInput('`triggers.drift.features` must list at least one feature (or be "*").')
    return DriftTrigger(
        features=features,
        above=read_number(d.get("above", 0.1), field="triggers.drift.above", minimum=0),
        windows=_int(d.get("windows", 1), field="triggers.drift.windows"),
    )


def _performance(value: object) -> PerformanceTrigger:
    keys = {"metric", "tolerance", "min_labels", "windows", "baseline", "baseline_windows"}
    d = read_mapping(value or {}, field="triggers.performance", keys=keys)
    baseline = d.get("baseline")
    return PerformanceTrigger(
        metric=read_text(d.get("metric", "accuracy"), field="triggers.performance.metric"),
        tolerance=read_number(d.get("tolerance", 0.05), field="triggers.performance.tolerance", minimum=0),
        min_labels=_int(d.get("min_labels", 100), field="triggers.performance.min_labels", minimum=0),
        windows=_int(d.get("windows", 1), field="triggers.performance.windows"),
        baseline=None if baseline is None else read_number(baseline, field="triggers.performance.baseline"),
        baseline_windows=_int(d.get("baseline_windows", 3), field="triggers.performance.baseline_windows"),
    )


def _triggers(value: object) -> dict[str, Any]:
    keys = {"drift", "performance", "schedule", "new_labels", "alerts"}
    d = read_mapping(value, field="triggers", keys=keys)
    out: dict[str, Any] = {"performance": None}
    if "drift" in d:
        out["drift"] = _drift(d["drift"])
    if "performance" in d:
        out["performance"] = _performance(d["performance"])
    if "schedule" in d:
        s = read_mapping(d["schedule"], field="triggers.schedule", keys={"every"}, required=("every",))
        out["schedule"] = ScheduleTrigger(every=read_duration(s["every"], field="triggers.schedule.every"))
    if "new_labels" in d:
        n = read_mapping(d["new_labels"], field="triggers.new_labels", keys={"rows"}, required=("rows",))
        out["new_labels"] = NewLabelsTrigger(rows=_int(n["rows"], field="triggers.new_labels.rows"))
    if "alerts" in d:
        items = read_list(d["alerts"], field="triggers.alerts")
        out["alerts"] = tuple(read_text(a, field=f"triggers.alerts[{i}]") for i, a in enumerate(items))
    return out


def _guards(value: object) -> Guards:
    d = read_mapping(value, field="guards", keys={"cooldown", "max_per_day", "data_quality", "max_anomalies"})
    quality = d.get("data_quality", True)
    if not isinstance(quality, bool):
        raise InvalidInput(f"`guards.data_quality` must be true or false. Got {quality!r:.40}.")
    anomalies = d.get("max_anomalies")
    return Guards(
        cooldown=read_duration(d.get("cooldown", "6h"), field="guards.cooldown"),
        max_per_day=_int(d.get("max_per_day", 2), field="guards.max_per_day"),
        data_quality=quality,
        max_anomalies=None if anomalies is None else _int(anomalies, field="guards.max_anomalies", minimum=0),
    )


def _action(value: object) -> RetrainAction:
    keys = {"pipeline", "task", "guard_slices", "key_field"}
    d = read_mapping(value, field="action", keys=keys, required=("pipeline",))
    slices = read_list(d.get("guard_slices", []), field="action.guard_slices")
    key_field = d.get("key_field")
    return RetrainAction(
        pipeline=read_text(d["pipeline"], field="action.pipeline"),
        task=read_text(d.get("task", "binary"), field="action.task"),
        guard_slices=tuple(read_text(c, field=f"action.guard_slices[{i}]") for i, c in enumerate(slices)),
        key_field=None if key_field is None else read_text(key_field, field="action.key_field"),
    )


def read_policy(document: object) -> RetrainPolicy:
    """A retrain policy from a parsed YAML / JSON document (None: the default policy).

    Without ``triggers`` the default is a performance drop of accuracy by 0.05 with 100 labels.

    Raises:
        InvalidInput: an unknown key, a missing or malformed value, naming the field.
    """
    if document is None:
        return RetrainPolicy()
    keys = {"triggers", "guards", "span", "retry", "action"}
    d: Mapping[str, Any] = read_mapping(document, field="", keys=keys)
    kwargs: dict[str, Any] = _triggers(d["triggers"]) if "triggers" in d else {}
    if "guards" in d:
        kwargs["guards"] = _guards(d["guards"])
    if "span" in d:
        s = read_mapping(d["span"], field="span", keys={"length"}, required=("length",))
        kwargs["span"] = read_duration(s["length"], field="span.length")
    if "retry" in d:
        r = read_mapping(d["retry"], field="retry", keys={"max_attempts", "delay"})
        kwargs["retry"] = RetryPolicy(
            max_attempts=_int(r.get("max_attempts", 3), field="retry.max_attempts"),
            delay=read_duration(r.get("delay", "1h"), field="retry.delay"),
        )
    if "action" in d:
        kwargs["action"] = _action(d["action"])
    return RetrainPolicy(**kwargs)


def load_policy(path: str | Path) -> RetrainPolicy:
    """Read a deployment's retrain-policy YAML file (see :func:`read_policy`).

    A relative ``FILE.py`` in ``action.pipeline`` is read relative to the policy file's folder.
    """
    policy = read_policy(load_yaml(path, what="retrain policy"))
    if policy.action is None:
        return policy
    file, sep, name = policy.action.pipeline.partition(":")
    if file.endswith(".py") and not Path(file).is_absolute():
        moved = replace(policy.action, pipeline=str(Path(path).parent / file) + sep + name)
        return replace(policy, action=moved)
    return policy


def read_policies(folder: str | Path) -> dict[str, RetrainPolicy]:
    """The policies of ``<folder>/<deployment>.yaml`` (or ``.yml``) by deployment name.

    Raises:
        InvalidInput: the folder does not exist, or a file is malformed (naming file and field).
    """
    base = Path(folder)
    if not base.is_dir():
        raise InvalidInput(f"No retrain policy folder {str(base)!r}; create it or pass another.")
    by_name: dict[str, RetrainPolicy] = {}
    for path in sorted(base.glob("*.yaml")) + sorted(base.glob("*.yml")):
        try:
            by_name[path.stem] = load_policy(path)
        except InvalidInput as err:
            raise InvalidInput(f"{path}: {err}") from err
    return by_name


def runnable_policies(folder: str | Path) -> dict[str, RetrainPolicy]:
    """:func:`read_policies`, each of which must name its ``action`` (what a retraining runs).

    Raises:
        InvalidInput: as :func:`read_policies`, or a policy names no pipeline (the deployments listed).
    """
    found = read_policies(folder)
    missing = sorted(name for name, policy in found.items() if policy.action is None)
    if missing:
        raise InvalidInput(
            f"The retrain policies of {', '.join(missing)} in {str(folder)!r} name no pipeline; add "
            "`action: {pipeline: FILE.py:NAME}` to each."
        )
    return found


def policies_in(folder: str | Path) -> Callable[[str], RetrainPolicy]:
    """Each deployment's policy from ``<folder>/<deployment>.yaml``; the default policy where there is none.

    Every file is read (and checked) now, so a typo is reported before the loop runs.

    Raises:
        InvalidInput: the folder does not exist, or a file is malformed (naming file and field).
    """
    by_name = read_policies(folder)
    return lambda deployment: by_name.get(deployment) or RetrainPolicy()
