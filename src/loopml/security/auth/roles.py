"""Roles, permissions and the one table saying which role holds which permission.

=============  ================================================================================
role           permissions
=============  ================================================================================
``viewer``     ``read``, ``predict`` (query a served model through ``loopml serve``)
``editor``     viewer + ``experiments.write``, ``runs.write`` (create runs, log params, metrics,
               tags, artifacts, lineage), ``datasets.write``, ``models.write`` (register models
               and versions, tags, non-production aliases)
``maintainer`` editor + ``aliases.production`` (move production aliases), ``deployments.manage``
``admin``      every permission, including ``users.manage``, ``tokens.manage``,
               ``grants.manage``, ``audit.read`` and ``server.admin`` (any
               change through a route that has no rule of its own)
=============  ================================================================================

Example:
    >>> Permission.RUNS_WRITE in permissions_of(Role.EDITOR)
    True
    >>> Permission.ALIASES_PRODUCTION in permissions_of(Role.EDITOR)
    False
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from loopml.errors import InvalidInput

__all__ = ["PRODUCTION_ALIASES", "ROLE_PERMISSIONS", "Permission", "Role", "parse_role", "permissions_of"]


class Role(enum.StrEnum):
    """A user's role; each holds the permissions of the one below it and more."""

    ADMIN = "admin"
    MAINTAINER = "maintainer"
    EDITOR = "editor"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    """One thing a request may need to be allowed to do."""

    READ = "read"
    #: Query a served model (``loopml serve``); a model's grants restrict it like ``read``.
    PREDICT = "predict"
    EXPERIMENTS_WRITE = "experiments.write"
    RUNS_WRITE = "runs.write"
    DATASETS_WRITE = "datasets.write"
    MODELS_WRITE = "models.write"
    ALIASES_PRODUCTION = "aliases.production"
    DEPLOYMENTS_MANAGE = "deployments.manage"
    USERS_MANAGE = "users.manage"
    TOKENS_MANAGE = "tokens.manage"
    GRANTS_MANAGE = "grants.manage"
    AUDIT_READ = "audit.read"
    SERVER_ADMIN = "server.admin"


#: Aliases whose move needs :attr:`Permission.ALIASES_PRODUCTION` (compared case-insensitively).
PRODUCTION_ALIASES: frozenset[str] = frozenset({"production", "prod", "champion"})

_VIEWER = frozenset({Permission.READ, Permission.PREDICT})
_EDITOR = _VIEWER | {
    Permission.EXPERIMENTS_WRITE,
    Permission.RUNS_WRITE,
    Permission.DATASETS_WRITE,
    Permission.MODELS_WRITE,
}
_MAINTAINER = _EDITOR | {Permission.ALIASES_PRODUCTION, Permission.DEPLOYMENTS_MANAGE}

#: The role → permissions table; the only place that says who may do what.
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.EDITOR: _EDITOR,
    Role.MAINTAINER: _MAINTAINER,
    Role.ADMIN: frozenset(Permission),
}


def permissions_of(role: Role) -> frozenset[Permission]:
    """The permissions ``role`` holds."""
    return ROLE_PERMISSIONS[role]


def parse_role(value: str) -> Role:
    """Parse a role name (case-insensitive).

    Raises:
        InvalidInput: naming the value and listing the roles.

    Example:
        >>> parse_role("Editor")
        <Role.EDITOR: 'editor'>
    """
    try:
        return Role(value.strip().lower())
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise InvalidInput(f"Unknown role {value!r}; choose one of: {valid}.") from None
