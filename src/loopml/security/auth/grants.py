"""Per-resource grants: who may do what on an experiment, a dataset or a model.

The rule, exactly (an ``admin`` may always do everything; the caller's role must always hold
the permission, see :mod:`loopml.security.auth.roles`):

1. A caller **holding a grant** on the resource may do what both the role and the grant level
   allow: ``read`` allows ``read`` and ``predict``; ``write`` adds the write permissions
   (``experiments.write``, ``runs.write``, ``datasets.write``, ``models.write``); ``admin`` and ``owner`` add
   ``aliases.production`` and ``deployments.manage``. A grant caps, it never adds to the role.
2. A resource with at least one ``read``, ``write`` or ``admin`` grant is **restricted**: a
   caller without a grant on it may do nothing on it (reading included), and it is hidden.
3. Every other resource is **ungranted** (no grant, or ``owner`` grants only). A caller without a
   grant on it gets the server's :class:`UngrantedAccess` (setting ``LOOPML_UNGRANTED_ACCESS``):
   ``read`` (the default) lets everyone read (and query a served model) and only maintainers
   write; ``write`` lets the role decide alone; ``none`` hides it from everyone below maintainer.

Whoever creates an experiment, a dataset or a model through the server gets an ``owner`` grant
on it, so an editor keeps writing to what they made without restricting it from others.

Example:
    >>> GrantLevel.WRITE.allows(Permission.RUNS_WRITE)
    True
    >>> GrantLevel.READ.allows(Permission.RUNS_WRITE)
    False
    >>> UngrantedAccess.READ.allows(Permission.RUNS_WRITE, role=Role.EDITOR)
    False
    >>> UngrantedAccess.READ.allows(Permission.RUNS_WRITE, role=Role.MAINTAINER)
    True
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from loopml.errors import InvalidInput
from loopml.security.auth.roles import Permission, Role

__all__ = [
    "GRANT_LEVEL_PERMISSIONS",
    "GrantLevel",
    "Resource",
    "ResourceKind",
    "UngrantedAccess",
    "parse_grant_level",
]


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
    #: What the creator gets: the permissions of ``admin`` without restricting the resource.
    OWNER = "owner"

    @property
    def restricts(self) -> bool:
        """Whether a grant of this level restricts its resource to granted users."""
        return self is not GrantLevel.OWNER

    def allows(self, permission: Permission) -> bool:
        """Whether this level permits ``permission`` (the role must hold it too)."""
        return permission in GRANT_LEVEL_PERMISSIONS[self]


_READ = frozenset({Permission.READ, Permission.PREDICT})
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
    GrantLevel.OWNER: _WRITE | {Permission.ALIASES_PRODUCTION, Permission.DEPLOYMENTS_MANAGE},
}


class UngrantedAccess(enum.StrEnum):
    """What a caller without a grant may do on an ungranted resource (below maintainer).

    Maintainers and admins are not limited by it: their role decides.
    """

    NONE = "none"
    READ = "read"
    WRITE = "write"

    def allows(self, permission: Permission, *, role: Role) -> bool:
        """Whether a caller of ``role`` holding no grant may use ``permission`` (if the role holds it)."""
        if role in (Role.ADMIN, Role.MAINTAINER) or self is UngrantedAccess.WRITE:
            return True
        return self is UngrantedAccess.READ and permission in (Permission.READ, Permission.PREDICT)


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
