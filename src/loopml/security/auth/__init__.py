"""Identity and authorisation: users, API tokens, roles, permissions and per-resource grants."""

from loopml.security.auth.grants import (
    GRANT_LEVEL_PERMISSIONS,
    GrantLevel,
    Resource,
    ResourceKind,
    UngrantedAccess,
    parse_grant_level,
)
from loopml.security.auth.principal import LOCAL_PRINCIPAL, Principal
from loopml.security.auth.roles import (
    PRODUCTION_ALIASES,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    parse_role,
    permissions_of,
)
from loopml.security.auth.service import AuthService
from loopml.security.auth.tokens import TOKEN_PREFIX, IssuedToken, hash_secret, issue_token, parse_token
from loopml.security.auth.users import Bootstrap, bootstrap_admin
from loopml.store.repositories import IdentityStore

__all__ = [
    "GRANT_LEVEL_PERMISSIONS",
    "LOCAL_PRINCIPAL",
    "PRODUCTION_ALIASES",
    "ROLE_PERMISSIONS",
    "TOKEN_PREFIX",
    "AuthService",
    "Bootstrap",
    "GrantLevel",
    "IdentityStore",
    "IssuedToken",
    "Permission",
    "Principal",
    "Resource",
    "ResourceKind",
    "Role",
    "UngrantedAccess",
    "bootstrap_admin",
    "hash_secret",
    "issue_token",
    "parse_grant_level",
    "parse_role",
    "parse_token",
    "permissions_of",
]
