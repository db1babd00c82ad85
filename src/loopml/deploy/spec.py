"""What a deployment declares: its routes (primary, canary, shadows, A/B split, ensembles).

A *target* is either a ``models:/`` URI (``models:/churn@champion``, ``models:/churn/3``) or the
name of an ensemble declared in the same deployment. Everything here is checked on construction;
a violation raises :class:`~loopml.errors.InvalidInput` naming the field.

Example:
    >>> spec = DeploymentSpec(name="churn", primary="models:/churn@champion",
    ...                       canary=Canary(target="models:/churn/4", weight=5))
    >>> spec.canary.weight, spec.model_uris()
    (5.0, ('models:/churn@champion', 'models:/churn/4'))
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

from loopml.errors import InvalidInput
from loopml.registry.uris import is_model_uri, parse_model_uri

__all__ = [
    "ABArm",
    "ABSplit",
    "Canary",
    "DeploymentSpec",
    "Ensemble",
    "EnsembleMember",
    "EnsembleMethod",
    "Shadow",
    "check_deployment_name",
]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,62}")


def check_deployment_name(name: object, *, field: str = "name") -> str:
    """A deployment, shadow, arm or ensemble name: a letter, then up to 62 letters, digits, ``_ . -``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"`{field}` must start with a letter and have at most 63 letters, digits, '_', '.' or '-'. "
            f"Got {name!r:.70}."
        )
    return name


def _percent(value: object, *, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"`{field}` must be a number from 0 to 100 (percent). Got {value!r:.40}.")
    if not 0 <= value <= 100:
        raise InvalidInput(f"`{field}` must be from 0 to 100 (percent). Got {value}.")
    return float(value)


def _target(value: object, *, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"`{field}` must be a models:/ URI or an ensemble name. Got {value!r:.70}.")
    if is_model_uri(value):
        try:
            parsed = parse_model_uri(value)
        except InvalidInput as err:
            raise InvalidInput(f"`{field}`: {err}") from err
        if parsed.is_latest:
            raise InvalidInput(
                f"`{field}` is {value!r}: 'latest' moves under a deployment; name a version "
                "(models:/NAME/3) or an alias (models:/NAME@champion)."
            )
        return value
    return check_deployment_name(value, field=field)


@dataclass(frozen=True, slots=True, kw_only=True)
class Canary:
    """A candidate taking ``weight`` percent of the traffic (0 = parked, e.g. after a rollback)."""

    target: str
    weight: float = 0.0

    def __post_init__(self) -> None:
        _target(self.target, field="canary.target")
        object.__setattr__(self, "weight", _percent(self.weight, field="canary.weight"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Shadow:
    """A mirror: ``mirror_percent`` of the requests are copied to it; answers logged, never returned."""

    name: str
    target: str
    mirror_percent: float = 100.0

    def __post_init__(self) -> None:
        check_deployment_name(self.name, field="shadows[].name")
        _target(self.target, field=f"shadows[{self.name}].target")
        pct = _percent(self.mirror_percent, field=f"shadows[{self.name}].mirror_percent")
        object.__setattr__(self, "mirror_percent", pct)


@dataclass(frozen=True, slots=True, kw_only=True)
class ABArm:
    """One arm of an A/B split and its share of the traffic."""

    name: str
    target: str
    weight: float

    def __post_init__(self) -> None:
        check_deployment_name(self.name, field="ab.arms[].name")
        _target(self.target, field=f"ab.arms[{self.name}].target")
        object.__setattr__(self, "weight", _percent(self.weight, field=f"ab.arms[{self.name}].weight"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ABSplit:
    """A sticky A/B split: a request's ``key`` (header or input field) picks its arm by hash."""

    key: str
    arms: tuple[ABArm, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise InvalidInput(
                f"`ab.key` must name a request header or input field (e.g. user_id). Got {self.key!r:.40}."
            )
        if len(self.arms) < 2:
            raise InvalidInput(f"`ab.arms` needs at least 2 arms. Got {len(self.arms)}.")
        _unique([a.name for a in self.arms], field="ab.arms")
        total = sum(a.weight for a in self.arms)
        if not math.isclose(total, 100.0, abs_tol=1e-6):
            raise InvalidInput(f"`ab.arms` weights must add up to 100. Got {total:g}.")


class EnsembleMethod(enum.StrEnum):
    """How an ensemble combines its members' outputs."""

    VOTE = "vote"
    MEAN = "mean"
    WEIGHTED = "weighted"


@dataclass(frozen=True, slots=True, kw_only=True)
class EnsembleMember:
    target: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w <= 0:
            raise InvalidInput(f"`ensembles[].members[].weight` must be a number > 0. Got {w!r:.40}.")
        object.__setattr__(self, "weight", float(w))


@dataclass(frozen=True, slots=True, kw_only=True)
class Ensemble:
    """A named combination of models (or of other ensembles) by vote, mean or weighted mean."""

    name: str
    method: EnsembleMethod
    members: tuple[EnsembleMember, ...]

    def __post_init__(self) -> None:
        check_deployment_name(self.name, field="ensembles[].name")
        try:
            object.__setattr__(self, "method", EnsembleMethod(self.method))
        except ValueError as err:
            valid = ", ".join(m.value for m in EnsembleMethod)
            raise InvalidInput(
                f"`ensembles[{self.name}].method` must be one of {valid}. Got {self.method!r:.40}."
            ) from err
        if len(self.members) < 2:
            raise InvalidInput(f"`ensembles[{self.name}].members` needs at least 2 members.")
        for m in self.members:
            _target(m.target, field=f"ensembles[{self.name}].members[].target")


def _unique(names: list[str], *, field: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InvalidInput(f"`{field}` names {n!r} twice; names must be unique.")
        seen.add(n)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentSpec:
    """A named endpoint and its routes.

    Attributes:
        name: The endpoint (``/v2/models/{name}/infer``).
        primary: The target answering by default.
        canary: A candidate taking a share of the traffic, if any.
        shadows: Mirrors whose outputs are compared, never returned.
        ab: A sticky A/B split (instead of primary + canary weights for its share).
        ensembles: Named ensembles that targets may refer to.
    """

    name: str
    primary: str
    canary: Canary | None = None
    shadows: tuple[Shadow, ...] = ()
    ab: ABSplit | None = None
    ensembles: tuple[Ensemble, ...] = ()

    def __post_init__(self) -> None:
        check_deployment_name(self.name)
        _target(self.primary, field="primary")
        _unique([s.name for s in self.shadows], field="shadows")
        _unique([e.name for e in self.ensembles], field="ensembles")
        if self.ab is not None and self.canary is not None and self.canary.weight > 0:
            raise InvalidInput(
                "`ab` and a `canary` with weight > 0 split the same traffic; set canary.weight to 0 "
                "or remove the A/B split."
            )
        self._check_targets()

    def targets(self) -> list[tuple[str, str]]:
        """Every ``(field, target)`` of the deployment, in declaration order."""
        found = [("primary", self.primary)]
        if self.canary is not None:
            found.append(("canary.target", self.canary.target))
        found += [(f"shadows[{s.name}].target", s.target) for s in self.shadows]
        if self.ab is not None:
            found += [(f"ab.arms[{a.name}].target", a.target) for a in self.ab.arms]
        for e in self.ensembles:
            found += [(f"ensembles[{e.name}].members[].target", m.target) for m in e.members]
        return found

    def _check_targets(self) -> None:
        known = {e.name: e for e in self.ensembles}
        for field, target in self.targets():
            if not is_model_uri(target) and target not in known:
                raise InvalidInput(
                    f"`{field}` is {target!r}, which is neither a models:/ URI nor an ensemble of this "
                    f"deployment (ensembles: {', '.join(known) or 'none'})."
                )
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " -> ".join((*path[path.index(name) :], name))
                raise InvalidInput(f"`ensembles` form a cycle: {cycle}. An ensemble cannot contain itself.")
            state[name] = 1
            for m in known[name].members:
                if m.target in known:
                    visit(m.target, (*path, name))
            state[name] = 2

        for name in known:
            visit(name, ())

    def model_uris(self) -> tuple[str, ...]:
        """Every ``models:/`` URI the deployment uses, once each, in declaration order."""
        return tuple(dict.fromkeys(t for _, t in self.targets() if is_model_uri(t)))
