"""The role-permission matrix: every pair, checked against an independent statement of the rules."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from loopml.errors import Forbidden, InvalidInput
from loopml.security.auth import AuthService, Permission, Principal, Role, parse_role, permissions_of
from loopml.store.sql import SqlStore, open_store

P = Permission
#: Written out by hand from the issue: viewer reads; editor creates runs, logs, registers models,
#: adds datasets; maintainer also moves production aliases and manages deployments; admin all.
EXPECTED: dict[Role, set[Permission]] = {
    Role.VIEWER: {P.READ, P.PREDICT},
    Role.EDITOR: {
        P.READ,
        P.PREDICT,
        P.PREDICT,
        P.EXPERIMENTS_WRITE,
        P.RUNS_WRITE,
        P.DATASETS_WRITE,
        P.MODELS_WRITE,
    },
    Role.MAINTAINER: {
        P.READ,
        P.PREDICT,
        P.EXPERIMENTS_WRITE,
        P.RUNS_WRITE,
        P.DATASETS_WRITE,
        P.MODELS_WRITE,
        P.ALIASES_PRODUCTION,
        P.DEPLOYMENTS_MANAGE,
    },
    Role.ADMIN: set(Permission),
}
PAIRS = [(role, permission) for role in Role for permission in Permission]


@pytest.fixture(scope="module")
def auth() -> Iterator[AuthService]:
    store: SqlStore = open_store("sqlite://")
    yield AuthService(store)
    store.close()


def test_every_role_and_permission_is_covered() -> None:
    assert len(PAIRS) == len(Role) * len(Permission) == 4 * 13
    assert set(EXPECTED) == set(Role)


@pytest.mark.parametrize(("role", "permission"), PAIRS, ids=[f"{r}-{p}" for r, p in PAIRS])
def test_role_permission_pair(auth: AuthService, role: Role, permission: Permission) -> None:
    principal = Principal(name=f"u-{role}", role=role)
    allowed = permission in EXPECTED[role]
    assert (permission in permissions_of(role)) is allowed
    assert principal.has(permission) is allowed
    if allowed:
        auth.authorize(principal, permission)
    else:
        with pytest.raises(Forbidden) as err:
            auth.authorize(principal, permission)
        message = str(err.value)
        assert f"'{permission.value}'" in message
        assert f"'{role.value}'" in message
        assert "admin" in message  # the roles that hold it are listed


def test_roles_are_nested() -> None:
    order = [Role.VIEWER, Role.EDITOR, Role.MAINTAINER, Role.ADMIN]
    for lower, higher in itertools.pairwise(order):
        assert permissions_of(lower) < permissions_of(higher)


def test_parse_role() -> None:
    assert parse_role(" Maintainer ") is Role.MAINTAINER
    with pytest.raises(InvalidInput, match=r"Unknown role 'root'.*admin, maintainer, editor, viewer"):
        parse_role("root")
