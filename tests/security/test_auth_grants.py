"""Per-resource grants: a restricted resource is limited to its grantees (and admins); an ungranted
one follows ``ungranted_access``; creators get an ``owner`` grant that restricts nobody."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loopml.errors import Forbidden, InvalidInput, NotFound
from loopml.security.auth import (
    AuthService,
    GrantLevel,
    Permission,
    Principal,
    Resource,
    ResourceKind,
    Role,
    UngrantedAccess,
    parse_grant_level,
)
from loopml.store.sql import SqlStore, open_store

MODEL = Resource(kind=ResourceKind.MODEL, key="churn")
DATASET = Resource(kind=ResourceKind.DATASET, key="census")


@pytest.fixture
def store() -> Iterator[SqlStore]:
    opened = open_store("sqlite://")
    yield opened
    opened.close()


@pytest.fixture
def auth(store: SqlStore) -> AuthService:
    service = AuthService(store)
    for name, role in (
        ("root", Role.ADMIN),
        ("mia", Role.MAINTAINER),
        ("ed", Role.EDITOR),
        ("vi", Role.VIEWER),
    ):
        service.create_user(name, role=role)
    return service


def who(name: str, role: Role) -> Principal:
    return Principal(name=name, role=role)


def test_ungranted_resource_is_read_only_below_maintainer_by_default(auth: AuthService) -> None:
    assert auth.ungranted is UngrantedAccess.READ
    auth.authorize(who("vi", Role.VIEWER), Permission.READ, MODEL)
    auth.authorize(who("ed", Role.EDITOR), Permission.READ, MODEL)
    with pytest.raises(
        Forbidden, match=r"'ed' holds no grant on it.*may only read it.*ungranted_access='read'"
    ):
        auth.authorize(who("ed", Role.EDITOR), Permission.MODELS_WRITE, MODEL)
    auth.authorize(who("mia", Role.MAINTAINER), Permission.MODELS_WRITE, MODEL)
    auth.authorize(who("mia", Role.MAINTAINER), Permission.ALIASES_PRODUCTION, MODEL)
    with pytest.raises(Forbidden, match=r"'models.write' is needed on model 'churn'"):
        auth.authorize(who("vi", Role.VIEWER), Permission.MODELS_WRITE, MODEL)


def test_ungranted_write_lets_the_role_decide(store: SqlStore) -> None:
    auth = AuthService(store, ungranted="write")
    auth.authorize(who("ed", Role.EDITOR), Permission.MODELS_WRITE, MODEL)
    with pytest.raises(Forbidden, match=r"role 'viewer', which does not hold it"):
        auth.authorize(who("vi", Role.VIEWER), Permission.MODELS_WRITE, MODEL)


def test_ungranted_none_hides_below_maintainer(store: SqlStore) -> None:
    auth = AuthService(store, ungranted=UngrantedAccess.NONE)
    for name, role in (("vi", Role.VIEWER), ("ed", Role.EDITOR)):
        with pytest.raises(Forbidden, match=r"may not even read it"):
            auth.authorize(who(name, role), Permission.READ, MODEL)
        assert not auth.may_read(who(name, role), MODEL)
    auth.authorize(who("mia", Role.MAINTAINER), Permission.MODELS_WRITE, MODEL)
    auth.authorize(who("root", Role.ADMIN), Permission.MODELS_WRITE, MODEL)


def test_unknown_ungranted_access_names_the_choices(store: SqlStore) -> None:
    with pytest.raises(
        InvalidInput, match="Unknown ungranted_access 'some'; choose one of: none, read, write"
    ):
        AuthService(store, ungranted="some")


def test_the_creator_writes_without_restricting(store: SqlStore) -> None:
    auth = AuthService(store, ungranted="none")
    for name, role in (("ed", Role.EDITOR), ("ed2", Role.EDITOR)):
        auth.create_user(name, role=role)
    ed = Principal(name="ed", role=Role.EDITOR, user_id=store.identity.get_user("ed").user_id)
    made = auth.grant_creator(ed, MODEL)
    assert made is not None and made.level == "owner"
    auth.authorize(ed, Permission.MODELS_WRITE, MODEL)
    with pytest.raises(Forbidden, match="may not even read it"):  # ungranted for the others, not restricted
        auth.authorize(who("ed2", Role.EDITOR), Permission.READ, MODEL)
    auth.grant("ed", MODEL, "read")  # an explicit grant is kept: the creator grant never replaces it
    assert auth.grant_creator(ed, MODEL) is None
    assert [g.level for g in auth.list_grants(user_name="ed")] == ["read"]
    assert auth.grant_creator(who("local", Role.ADMIN), DATASET) is None  # no user, no grant


def test_restricted_resource_refuses_users_without_grant(auth: AuthService) -> None:
    auth.grant("ed", DATASET, "write")
    with pytest.raises(
        Forbidden, match=r"'read' on dataset 'census' is refused.*restricted.*'vi' has no grant"
    ):
        auth.authorize(who("vi", Role.VIEWER), Permission.READ, DATASET)
    with pytest.raises(Forbidden, match="'mia' has no grant"):
        auth.authorize(who("mia", Role.MAINTAINER), Permission.DATASETS_WRITE, DATASET)
    auth.authorize(who("ed", Role.EDITOR), Permission.DATASETS_WRITE, DATASET)
    auth.authorize(who("root", Role.ADMIN), Permission.DATASETS_WRITE, DATASET)  # admins are never restricted
    auth.authorize(who("vi", Role.VIEWER), Permission.READ, MODEL)  # other resources stay open


def test_grant_level_caps_and_never_adds(auth: AuthService) -> None:
    auth.grant("vi", MODEL, "admin")
    auth.grant("ed", MODEL, "read")
    auth.grant("mia", MODEL, "write")
    with pytest.raises(Forbidden, match=r"'vi' .*role 'viewer'"):  # a grant does not lift the role
        auth.authorize(who("vi", Role.VIEWER), Permission.MODELS_WRITE, MODEL)
    auth.authorize(who("ed", Role.EDITOR), Permission.READ, MODEL)
    with pytest.raises(Forbidden, match="'ed' has a 'read' grant on it, which does not allow it"):
        auth.authorize(who("ed", Role.EDITOR), Permission.MODELS_WRITE, MODEL)
    auth.authorize(who("mia", Role.MAINTAINER), Permission.MODELS_WRITE, MODEL)
    with pytest.raises(Forbidden, match=r"'aliases.production' on model 'churn'.*'write' grant"):
        auth.authorize(who("mia", Role.MAINTAINER), Permission.ALIASES_PRODUCTION, MODEL)
    auth.grant("mia", MODEL, GrantLevel.ADMIN)  # changing a grant replaces its level
    auth.authorize(who("mia", Role.MAINTAINER), Permission.ALIASES_PRODUCTION, MODEL)


@pytest.mark.parametrize("level", list(GrantLevel))
@pytest.mark.parametrize("permission", list(Permission))
def test_level_matrix(level: GrantLevel, permission: Permission) -> None:
    writes = {
        Permission.EXPERIMENTS_WRITE,
        Permission.RUNS_WRITE,
        Permission.DATASETS_WRITE,
        Permission.MODELS_WRITE,
    }
    expected = {
        GrantLevel.READ: {Permission.READ, Permission.PREDICT},
        GrantLevel.WRITE: {Permission.READ, Permission.PREDICT} | writes,
        GrantLevel.ADMIN: {Permission.READ, Permission.PREDICT}
        | writes
        | {Permission.ALIASES_PRODUCTION, Permission.DEPLOYMENTS_MANAGE},
        GrantLevel.OWNER: {Permission.READ, Permission.PREDICT}
        | writes
        | {Permission.ALIASES_PRODUCTION, Permission.DEPLOYMENTS_MANAGE},
    }[level]
    assert level.allows(permission) is (permission in expected)


def test_revoking_the_last_grant_opens_the_resource(auth: AuthService) -> None:
    auth.grant("ed", MODEL, "read")
    auth.grant("mia", MODEL, "owner")  # an owner grant alone restricts nobody
    with pytest.raises(Forbidden):
        auth.authorize(who("vi", Role.VIEWER), Permission.READ, MODEL)
    auth.revoke_grant("ed", MODEL)
    auth.authorize(who("vi", Role.VIEWER), Permission.READ, MODEL)
    assert [g.user_name for g in auth.list_grants()] == ["mia"]


def test_experiment_grants_accept_name_or_id_and_store_the_id(auth: AuthService, store: SqlStore) -> None:
    experiment = store.experiments.create("secret-exp")
    made = auth.grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key="secret-exp"), "write")
    assert made.resource == experiment.experiment_id
    by_id = Resource(kind=ResourceKind.EXPERIMENT, key=experiment.experiment_id)
    with pytest.raises(Forbidden, match="experiment"):
        auth.authorize(who("vi", Role.VIEWER), Permission.READ, by_id)
    auth.authorize(who("ed", Role.EDITOR), Permission.RUNS_WRITE, by_id)
    with pytest.raises(NotFound, match="No experiment with id or name 'nope'"):
        auth.grant("ed", Resource(kind=ResourceKind.EXPERIMENT, key="nope"), "read")


def test_grant_errors(auth: AuthService) -> None:
    with pytest.raises(NotFound, match="No user named 'ghost'"):
        auth.grant("ghost", MODEL, "read")
    with pytest.raises(
        InvalidInput, match="Unknown grant level 'boss'; choose one of: read, write, admin, owner"
    ):
        parse_grant_level("boss")
