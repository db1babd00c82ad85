"""Per-resource grants: restricting an experiment, a dataset or a model to approved users.

The rule, exactly:

1. A resource (``experiment`` by id, ``dataset`` by name, ``model`` by name) with **no** grant is
   open: the caller's role alone decides (see :mod:`loopml.security.auth.roles`).
2. A resource with **at least one** grant is restricted. An ``admin`` may still do everything on
   it. Anybody else needs a grant on it for themselves; without one, every permission on it is
   refused (reading included).
3. A grant caps what its holder may do on that resource, and never adds to the role:
   ``read`` allows ``read``; ``write`` adds the write permissions
   (``experiments.write``, ``runs.write``, ``datasets.write``, ``models.write``);
   ``admin`` adds ``aliases.production`` and ``deployments.manage``. The permission is allowed
   only when both the role and the grant level hold it.

Example:
    >>> GrantLevel.WRITE.allows(Permission.RUNS_WRITE)
    True
    >>> GrantLevel.READ.allows(Permission.RUNS_WRITE)
    False
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from loopml.errors import InvalidInput
from loopml.security.auth.roles import Permission

__all__ = ["GRANT_LEVEL_PERMISSIONS", "GrantLevel", "Resource", "ResourceKind", "parse_grant_level"]


class ResourceKind(enum.StrEnum):
    """Kinds of resource a grant can restrict."""

    EXPERIMENT = "experiment"
    DATASET = "dataset"
    MODEL = "model"


class GrantLevel(enum.StrEnum):
    """How much a grant lets its holder do on the resource."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, permission: Permission) -> bool:
        """Whether this level permits ``permission`` (the role must hold it too)."""
        return permission in GRANT_LEVEL_PERMISSIONS[self]


_READ = frozenset({Permission.READ})
_WRITE = _READ | {
    Permission.EXPERIMENTS_WRITE,
    Permission.RUNS_WRITE,
    Permission.DATASETS_WRITE,
    Permission.MODELS_WRITE,
}
#: Grant level → the permissions it permits on its resource.
GRANT_LEVEL_PERMISSIONS: Mapping[GrantLevel, frozenset[Permission]] = {
    GrantLevel.READ: _READ,
    GrantLevel.WRITE: _WRITE,
    GrantLevel.ADMIN: _WRITE | {Permission.ALIASES_PRODUCTION, Permission.DEPLOYMENTS_MANAGE},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """A resource a request targets.

    Attributes:
        kind: Experiment, dataset or model.
        key: The experiment id, the dataset name or the model name.
    """

    kind: ResourceKind
    key: str

    def __str__(self) -> str:
        return f"{self.kind.value} {self.key!r}"


def parse_grant_level(value: str) -> GrantLevel:
    """Parse a grant level (case-insensitive).

    Raises:
        InvalidInput: naming the value and listing the levels.
    """
    try:
        return GrantLevel(value.strip().lower())
    except ValueError:
        valid = ", ".join(g.value for g in GrantLevel)
        raise InvalidInput(f"Unknown grant level {value!r}; choose one of: {valid}.") from None
