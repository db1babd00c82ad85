"""Deployments as plain documents (YAML / JSON): strict parsing, rendering and a readable diff.

Unknown keys are refused with their full path (``canary.wieght``), so a typo never silently
changes nothing.

Example:
    >>> spec, policy = read_document({"name": "churn", "primary": "models:/churn@champion",
    ...                               "canary": {"target": "models:/churn/4", "weight": 5}})
    >>> spec.canary.weight, policy.steps[0]
    (5.0, 5.0)
    >>> diff_documents({"canary": {"weight": 5}}, {"canary": {"weight": 25}})
    ['~ canary.weight: 5 -> 25']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from loopml.deploy.gates import Analysis, GateResult, ShadowReport, Verdict
from loopml.deploy.observations import Window
from loopml.deploy.policy import GateThresholds, RolloutPolicy
from loopml.deploy.rollout import Phase, RolloutStatus
from loopml.deploy.spec import (
    ABArm,
    ABSplit,
    Canary,
    DeploymentSpec,
    Ensemble,
    EnsembleMember,
    EnsembleMethod,
    Shadow,
)
from loopml.errors import InvalidInput

__all__ = [
    "analysis_from_document",
    "analysis_to_document",
    "diff_documents",
    "policy_to_document",
    "read_document",
    "shadow_report_to_document",
    "shadow_reports_differ",
    "spec_to_document",
    "status_from_document",
    "status_to_document",
]

_SPEC_KEYS = {"name", "primary", "canary", "shadows", "ab", "ensembles", "policy"}
_POLICY_KEYS = {"steps", "hold_s", "min_requests", "interval_s", "max_undecided_intervals", "gates"}
_GATE_KEYS = set(GateThresholds.__dataclass_fields__)


def _mapping(
    value: object, *, field: str, keys: set[str], required: tuple[str, ...] = ()
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"`{field or 'the document'}` must be a mapping. Got {type(value).__name__}.")
    prefix = f"{field}." if field else ""
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        raise InvalidInput(
            f"Unknown key `{prefix}{unknown[0]}`; {field or 'the document'} accepts: "
            f"{', '.join(sorted(keys))}."
        )
    for key in required:
        if key not in value:
            raise InvalidInput(f"`{prefix}{key}` is missing; it is required.")
    return value


def _list(value: object, *, field: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"`{field}` must be a list. Got {type(value).__name__}.")
    return list(value)


def _canary(value: object) -> Canary:
    d = _mapping(value, field="canary", keys={"target", "weight"}, required=("target",))
    return Canary(target=d["target"], weight=d.get("weight", 0.0))


def _shadow(value: object, i: int) -> Shadow:
    field = f"shadows[{i}]"
    d = _mapping(value, field=field, keys={"name", "target", "mirror_percent"}, required=("name", "target"))
    return Shadow(name=d["name"], target=d["target"], mirror_percent=d.get("mirror_percent", 100.0))


def _ab(value: object) -> ABSplit:
    d = _mapping(value, field="ab", keys={"key", "arms"}, required=("key", "arms"))
    arms = []
    for i, arm in enumerate(_list(d["arms"], field="ab.arms")):
        a = _mapping(
            arm,
            field=f"ab.arms[{i}]",
            keys={"name", "target", "weight"},
            required=("name", "target", "weight"),
        )
        arms.append(ABArm(name=a["name"], target=a["target"], weight=a["weight"]))
    return ABSplit(key=d["key"], arms=tuple(arms))


def _ensemble(value: object, i: int) -> Ensemble:
    field = f"ensembles[{i}]"
    d = _mapping(
        value, field=field, keys={"name", "method", "members"}, required=("name", "method", "members")
    )
    members = []
    for j, m in enumerate(_list(d["members"], field=f"{field}.members")):
        mm = _mapping(m, field=f"{field}.members[{j}]", keys={"target", "weight"}, required=("target",))
        members.append(EnsembleMember(target=mm["target"], weight=mm.get("weight", 1.0)))
    return Ensemble(name=d["name"], method=d["method"], members=tuple(members))


def _policy(value: object) -> RolloutPolicy:
    d = dict(_mapping(value, field="policy", keys=_POLICY_KEYS))
    gates = GateThresholds(**_mapping(d.pop("gates", {}), field="policy.gates", keys=_GATE_KEYS))
    if "steps" in d:
        d["steps"] = tuple(_list(d["steps"], field="policy.steps"))
    return RolloutPolicy(gates=gates, **d)


def read_document(data: object) -> tuple[DeploymentSpec, RolloutPolicy]:
    """A deployment's spec and rollout policy from a parsed YAML / JSON document.

    Raises:
        InvalidInput: an unknown or missing key, or a value out of range, naming the field.
    """
    d = _mapping(data, field="", keys=_SPEC_KEYS, required=("name", "primary"))
    spec = DeploymentSpec(
        name=d["name"],
        primary=d["primary"],
        canary=_canary(d["canary"]) if d.get("canary") is not None else None,
        shadows=tuple(_shadow(s, i) for i, s in enumerate(_list(d.get("shadows", []), field="shadows"))),
        ab=_ab(d["ab"]) if d.get("ab") is not None else None,
        ensembles=tuple(
            _ensemble(e, i) for i, e in enumerate(_list(d.get("ensembles", []), field="ensembles"))
        ),
    )
    return spec, _policy(d.get("policy", {}))


def _percent(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def spec_to_document(spec: DeploymentSpec) -> dict[str, Any]:
    """The spec as a plain document (the inverse of :func:`read_document` without ``policy``)."""
    doc: dict[str, Any] = {"name": spec.name, "primary": spec.primary}
    if spec.canary is not None:
        doc["canary"] = {"target": spec.canary.target, "weight": _percent(spec.canary.weight)}
    if spec.shadows:
        doc["shadows"] = [
            {"name": s.name, "target": s.target, "mirror_percent": _percent(s.mirror_percent)}
            for s in spec.shadows
        ]
    if spec.ab is not None:
        arms = [{"name": a.name, "target": a.target, "weight": _percent(a.weight)} for a in spec.ab.arms]
        doc["ab"] = {"key": spec.ab.key, "arms": arms}
    if spec.ensembles:
        doc["ensembles"] = [
            {
                "name": e.name,
                "method": EnsembleMethod(e.method).value,
                "members": [{"target": m.target, "weight": m.weight} for m in e.members],
            }
            for e in spec.ensembles
        ]
    return doc


def policy_to_document(policy: RolloutPolicy) -> dict[str, Any]:
    gates = asdict(policy.gates)
    gates["metric"] = policy.gates.metric.value if policy.gates.metric else None
    return {
        "steps": [_percent(s) for s in policy.steps],
        "hold_s": policy.hold_s,
        "min_requests": policy.min_requests,
        "interval_s": policy.interval_s,
        "max_undecided_intervals": policy.max_undecided_intervals,
        "gates": gates,
    }


def status_to_document(status: RolloutStatus) -> dict[str, Any]:
    doc = asdict(status)
    doc["phase"] = status.phase.value
    return doc


def status_from_document(doc: Mapping[str, Any]) -> RolloutStatus:
    return RolloutStatus(**{**doc, "phase": Phase(doc["phase"])})


def _gate_to_document(g: GateResult) -> dict[str, Any]:
    return {
        "gate": g.gate,
        "verdict": g.verdict.value,
        "value": g.value,
        "threshold": g.threshold,
        "primary_n": g.primary_n,
        "canary_n": g.canary_n,
        "window": {"start_ms": g.window.start_ms, "end_ms": g.window.end_ms},
        "p_value": g.p_value,
        "detail": g.detail,
    }


def _gate_from_document(d: Mapping[str, Any]) -> GateResult:
    return GateResult(**{**d, "verdict": Verdict(d["verdict"]), "window": Window(**d["window"])})


def analysis_to_document(analysis: Analysis) -> dict[str, Any]:
    return {
        "verdict": analysis.verdict.value,
        "window": {"start_ms": analysis.window.start_ms, "end_ms": analysis.window.end_ms},
        "gates": [_gate_to_document(g) for g in analysis.gates],
    }


def analysis_from_document(doc: Mapping[str, Any]) -> Analysis:
    return Analysis(window=Window(**doc["window"]), gates=tuple(_gate_from_document(g) for g in doc["gates"]))


def shadow_report_to_document(report: ShadowReport) -> dict[str, Any]:
    return {"shadow": report.shadow, "gates": [_gate_to_document(g) for g in report.gates]}


def _report_gates(reports: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(r["shadow"], g["gate"]): g for r in reports for g in r["gates"]}


def shadow_reports_differ(
    stored: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]], *, tolerance: float = 0.01
) -> bool:
    """Whether ``new`` shadow reports say something ``stored`` ones do not.

    They differ when a shadow or gate appears or goes, a verdict or threshold changes, or a
    value moves by ``tolerance`` or more (0.01: one point of agreement, 0.01 of drift distance).
    New windows, sample sizes and p-values alone change nothing: the stored report still holds.

    Example:
        >>> def report(rate): return [{"shadow": "twin", "gates": [{"gate": "agreement",
        ...     "verdict": "pass", "value": rate, "threshold": 0.95}]}]
        >>> shadow_reports_differ(report(0.990), report(0.995))
        False
        >>> shadow_reports_differ(report(0.99), report(0.97))
        True
    """
    before, after = _report_gates(stored), _report_gates(new)
    if before.keys() != after.keys():
        return True
    for key, gate in after.items():
        old = before[key]
        if (gate["verdict"], gate["threshold"]) != (old["verdict"], old["threshold"]):
            return True
        value, was = gate.get("value"), old.get("value")
        if (value is None) != (was is None):
            return True
        if value is not None and was is not None and not abs(value - was) < tolerance:
            return True
    return False


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) and "name" in v for v in value):
        for v in value:
            _flatten({k: x for k, x in v.items() if k != "name"}, f"{prefix}[{v['name']}]", out)
    else:
        out[prefix] = value


def diff_documents(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Changed fields, one line each: ``+ path: value``, ``- path: value``, ``~ path: old -> new``."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(old or {}, "", before)
    _flatten(new, "", after)
    lines = []
    for key in sorted(before.keys() | after.keys()):
        if key not in before:
            lines.append(f"+ {key}: {after[key]}")
        elif key not in after:
            lines.append(f"- {key}: {before[key]}")
        elif before[key] != after[key]:
            lines.append(f"~ {key}: {before[key]} -> {after[key]}")
    return lines
