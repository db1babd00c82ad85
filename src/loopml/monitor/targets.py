"""What is monitored: a deployment or a model served without one, and the log it reads.

`loopml serve` logs each prediction, and takes feedback labels, under the name it answers as: the
deployment's name when it serves a deployment (whatever model its routes load), the model's when
it serves a model without one. So a target reads the log and the labels of its own name, and knows
the registered model behind it for what the registry holds (training statistics, versions): a
deployment's primary, or for a primary that is an ensemble, its first member (members share one
input signature).

Example:
    >>> model_of_uri("models:/churn@champion"), model_of_uri("models:/churn/3")
    ('churn', 'churn')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from loopml.errors import InvalidInput
from loopml.store.repositories import DeploymentRepository

__all__ = ["Target", "model_of_uri", "resolve_target"]

_MODEL_URI = re.compile(r"^models:/([^/@]+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A monitored name (deployment or model) and the registered model it serves.

    Attributes:
        deployment: The deployment's name, or the model's when it is served without one.
        model: The registered model (a deployment's primary) whose training statistics apply.
    """

    deployment: str
    model: str

    @property
    def log(self) -> str:
        """The name its prediction log and feedback labels are kept under (what it answers as)."""
        return self.deployment


def model_of_uri(uri: str) -> str:
    """The registered model a ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` URI names.

    Raises:
        InvalidInput: another kind of URI.
    """
    found = _MODEL_URI.match(uri)
    if found is None:
        raise InvalidInput(
            f"Cannot tell which registered model {uri!r} is; monitoring follows models:/NAME@ALIAS or "
            "models:/NAME/VERSION targets. Name the model itself with --model."
        )
    return found.group(1)


def resolve_target(name: str, deployments: DeploymentRepository | None, *, is_model: bool = False) -> Target:
    """``name`` as a deployment (its primary's model) or, when no deployment has it, as a model.

    Args:
        name: A deployment or model name.
        deployments: The deployments (None: ``name`` is a model).
        is_model: Take ``name`` as a model even if a deployment has that name.

    Raises:
        InvalidInput: an empty name, or a deployment whose primary is not a registry URI.
    """
    if not name or "/" in name:
        raise InvalidInput(f"A deployment or model name must be non-empty and without '/'; got {name!r}.")
    stored = None if is_model or deployments is None else deployments.find(name)
    if stored is None:
        return Target(deployment=name, model=name)
    spec = stored.document.get("spec", {})
    return Target(deployment=name, model=model_of_uri(_first_model(spec, str(spec.get("primary", "")))))


def _first_model(spec: dict[str, Any], target: str) -> str:
    """``target``, or for an ensemble of ``spec``, the first model its first members lead to."""
    ensembles = {str(e.get("name")): e for e in spec.get("ensembles", ())}
    seen: set[str] = set()
    while target in ensembles and target not in seen:
        seen.add(target)
        members = ensembles[target].get("members") or [{}]
        target = str(members[0].get("target", ""))
    return target
